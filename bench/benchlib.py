"""Shared pieces of the figure scripts: the environment, gunicorn, a keep-alive client with
login and CSRF, wrk, percentiles and a note of what else the machine was doing.

Load goes to 127.0.0.1 only; every loop here is bounded in count and in time.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
VENV_BIN = ROOT / ".venv" / "bin"
# The application code under test: the working tree, or a snapshot of a commit that
# run_all.sh exports (others edit the working tree while we measure).
APP_ROOT = Path(os.environ.get("BENCH_APP_ROOT", ROOT)).resolve()
DEFAULT_DB = "postgresql://postgres@127.0.0.1/portal_bench"
BENCH_REDIS = "redis://127.0.0.1:6379/13"  # a database of its own: the benches enqueue deliveries
PASSWORD = "demo1234"
USER_AGENT = "portal-bench/1"  # the same on login and load, so Flask-Login's session check holds
HOST = "127.0.0.1"


def sa_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def pg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def app_env(db_url: str) -> dict:
    """The portal's environment for a bench run: its own uploads, Redis database and key."""
    OUT.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "DATABASE_URL": sa_url(db_url), "SECRET_KEY": "bench-secret",
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL", BENCH_REDIS),
            "PORTAL_INSTANCE": str(OUT / "instance"), "UPLOAD_DIR": str(OUT / "uploads"),
            "PDF_CACHE_DIR": str(OUT / "pdf"), "TZ": "Asia/Shanghai", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(APP_ROOT)}


def use_app_root() -> None:
    """In-process measurements import the application from APP_ROOT too."""
    for k, v in app_env(DEFAULT_DB).items():
        if k in ("SECRET_KEY", "REDIS_URL", "UPLOAD_DIR", "PDF_CACHE_DIR", "PORTAL_INSTANCE", "TZ"):
            os.environ[k] = v
    if str(APP_ROOT) not in sys.path:
        sys.path.insert(0, str(APP_ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- gunicorn

@dataclass
class ServerConfig:
    workers: int = 2
    worker_class: str = "sync"
    threads: int = 1

    def args(self) -> list[str]:
        out = ["-w", str(self.workers), "-k", self.worker_class]
        if self.worker_class == "gthread":
            out += ["--threads", str(self.threads)]
        return out

    def __str__(self) -> str:
        extra = f" --threads {self.threads}" if self.worker_class == "gthread" else ""
        return f"gunicorn -w {self.workers} -k {self.worker_class}{extra}"


@contextmanager
def gunicorn(app_spec: str, db_url: str, cfg: ServerConfig, port: int | None = None, timeout: float = 60):
    """Run `gunicorn <app_spec>` (a factory in bench/serve.py) on 127.0.0.1; stop it after."""
    port = port or free_port()
    log = open(OUT / f"gunicorn-{app_spec.split(':')[-1].split('(')[0]}.log", "ab")
    cmd = [str(VENV_BIN / "gunicorn"), "--bind", f"{HOST}:{port}", *cfg.args(), "--timeout", "120",
           "--pythonpath", str(BENCH), "--chdir", str(APP_ROOT), "--log-level", "warning", app_spec]
    proc = subprocess.Popen(cmd, env=app_env(db_url), stdout=log, stderr=subprocess.STDOUT, cwd=APP_ROOT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log.name}")
            try:
                c = http.client.HTTPConnection(HOST, port, timeout=5)
                c.request("GET", "/healthz-bench")
                c.getresponse().read()
                c.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start in time")
                time.sleep(0.2)
        yield f"http://{HOST}:{port}", proc
    finally:
        proc.send_signal(signal.SIGTERM)  # graceful stop of the master we started (and its workers)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def worker_pids(master: subprocess.Popen) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master.pid)], capture_output=True, text=True).stdout
    return [master.pid] + [int(p) for p in out.split()]


# ---------------------------------------------------------------- a keep-alive HTTP client with a session

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
CSRF_HEADER = re.compile(r'"X-CSRFToken":\s*"([^"]+)"')


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    seconds: float  # client-side round trip on loopback

    @property
    def server_ms(self) -> float | None:
        m = re.search(r"app;dur=([\d.]+)", self.headers.get("server-timing", ""))
        return float(m.group(1)) if m else None

    @property
    def server_cpu_ms(self) -> float | None:
        m = re.search(r"cpu;dur=([\d.]+)", self.headers.get("server-timing", ""))
        return float(m.group(1)) if m else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Client:
    base: str
    cookies: dict = field(default_factory=dict)
    timeout: float = 60

    def __post_init__(self):
        u = urllib.parse.urlsplit(self.base)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def _connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        h = {"User-Agent": USER_AGENT, "Accept": "text/html", "Connection": "keep-alive", **(headers or {})}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):  # a sync worker closes after each response: reconnect once
            conn = self._connection()
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=h)
                r = conn.getresponse()
                data = r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest):
                conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            dt = time.perf_counter() - t0
            headers_out = {k.lower(): v for k, v in r.getheaders()}
            for k, v in r.getheaders():
                if k.lower() == "set-cookie":
                    name, _, rest = v.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
            if r.getheader("Connection", "").lower() == "close" or r.will_close:
                conn.close()
                self.conn = None
            return Response(r.status, headers_out, data, dt)
        raise AssertionError("unreachable")

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post_form(self, path: str, fields: dict | list, headers: dict | None = None) -> Response:
        body = urllib.parse.urlencode(fields).encode()
        return self.request("POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def post_multipart(self, path: str, fields: list[tuple[str, str]],
                       files: list[tuple[str, str, bytes, str]], headers: dict | None = None) -> Response:
        boundary = "----portalbench" + os.urandom(8).hex()
        parts = []
        for name, value in fields:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, filename, data, ctype in files:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                         f'Content-Type: {ctype}\r\n\r\n'.encode() + data + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        body = b"".join(parts)
        return self.request("POST", path, body=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})})

    def login(self, username: str, password: str = PASSWORD) -> "Client":
        page = self.get("/auth/login")
        token = csrf_from(page.text)
        r = self.post_form("/auth/login", {"username": username, "password": password, "csrf_token": token})
        if r.status not in (302, 303):
            raise RuntimeError(f"login as {username} failed: HTTP {r.status}")
        return self

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def csrf_from(html: str) -> str:
    m = CSRF_INPUT.search(html) or CSRF_HEADER.search(html)
    if not m:
        raise RuntimeError("no CSRF token on the page")
    return next(g for g in m.groups() if g)


# ---------------------------------------------------------------- numbers

def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of `url` if it does not exist (a bench's own database)."""
    import psycopg
    name = db_name(url)
    admin = pg_url(url).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def summary_ms(seconds: list[float]) -> dict:
    ms = [x * 1000 for x in seconds]
    return {"n": len(ms), "p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
            "max": max(ms) if ms else float("nan"), "mean": sum(ms) / len(ms) if ms else float("nan")}


# ---------------------------------------------------------------- wrk

WRK_LUA = r"""
-- Bounded: each thread stops after max_requests responses; reports JSON on stdout.
local max_requests = tonumber(os.getenv("WRK_MAX_PER_THREAD") or "1000000")
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) count = 0; bad = 0 end
function response(status, headers, body)
  count = count + 1
  if status ~= 200 then bad = bad + 1 end
  if count >= max_requests then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + (t:get("bad") or 0) end
  io.write("WRKJSON ", string.format(
    '{"requests": %d, "duration_us": %d, "errors_socket": %d, "non200": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, "bytes": %d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    bad_total, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, summary.bytes))
end
"""


def wrk(url: str, cookie: str | None, connections: int, duration_s: int, max_requests: int,
        threads: int = 1, extra_headers: dict | None = None) -> dict:
    """Closed-loop load with wrk (keep-alive where the server allows it); bounded by time and count."""
    script = OUT / "wrk_report.lua"
    script.write_text(WRK_LUA)
    threads = min(threads, connections)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration_s}s", "--latency",
           "--timeout", "10s", "-s", str(script), "-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    for k, v in (extra_headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(url)
    env = {**os.environ, "WRK_MAX_PER_THREAD": str(max(1, max_requests // threads))}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=duration_s + 60).stdout
    line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError("wrk gave no report:\n" + out)
    r = json.loads(line[len("WRKJSON "):])
    secs = r["duration_us"] / 1e6
    return {"requests": r["requests"], "seconds": secs, "rps": r["requests"] / secs if secs else 0,
            "p50": r["p50_us"] / 1000, "p90": r["p90_us"] / 1000, "p95": r["p95_us"] / 1000,
            "p99": r["p99_us"] / 1000, "max": r["max_us"] / 1000, "mean": r["mean_us"] / 1000,
            "errors": r["errors_socket"], "non200": r["non200"], "connections": connections}


def cookie_header(client: Client) -> str:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


# ---------------------------------------------------------------- the machine while we measure

def _cpu_times() -> tuple[float, float]:
    with open("/proc/stat") as f:
        parts = [float(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts), idle


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return float(fields[11]) + float(fields[12])  # utime + stime (ticks)
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def postgres_pids(db_name: str) -> list[int]:
    import psycopg
    try:
        with psycopg.connect(pg_url(DEFAULT_DB).rsplit("/", 1)[0] + "/postgres") as conn:
            return [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (db_name,))]
    except Exception:  # noqa: BLE001
        return []


class CpuWatch:
    """CPU use during a measurement: all of it, and the part taken by processes we did not start.

    `ours` are pids whose CPU is ours (gunicorn, postgres backends of the bench database, the
    client); everything else busy on the machine shows as `others_cores` (in cores).
    """

    TICK = os.sysconf("SC_CLK_TCK")
    CORES = os.cpu_count() or 1

    def __init__(self, pids_fn):
        self.pids_fn = pids_fn

    def __enter__(self):
        self.t0 = time.monotonic()
        self.total0, self.idle0 = _cpu_times()
        self.pids = set(self.pids_fn()) | {os.getpid()}
        self.ours0 = {p: _proc_cpu(p) for p in self.pids}
        self.load0 = os.getloadavg()[0]
        return self

    def __exit__(self, *exc):
        dt = time.monotonic() - self.t0
        total1, idle1 = _cpu_times()
        pids = self.pids | set(self.pids_fn())
        ours = sum(max(0.0, _proc_cpu(p) - self.ours0.get(p, 0.0)) for p in pids) / self.TICK
        busy = ((total1 - self.total0) - (idle1 - self.idle0)) / self.TICK
        self.result = {"seconds": dt, "ours_cpu_s": ours, "busy_cores": busy / dt if dt else 0,
                       "ours_cores": ours / dt if dt else 0,
                       "others_cores": max(0.0, busy - ours) / dt if dt else 0,
                       "load1_before": self.load0, "load1_after": os.getloadavg()[0]}
        return False


def machine_conditions() -> dict:
    import platform
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem_kb = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1])
        mem = f"{mem_kb / 1024 / 1024:.1f} GB"
    except (OSError, StopIteration):
        pass
    pg = ""
    try:
        import psycopg
        with psycopg.connect(pg_url(DEFAULT_DB).rsplit("/", 1)[0] + "/postgres") as conn:
            pg = conn.execute("SELECT current_setting('server_version')").fetchone()[0]
            pg += ", shared_buffers " + conn.execute("SHOW shared_buffers").fetchone()[0]
            pg += ", work_mem " + conn.execute("SHOW work_mem").fetchone()[0]
    except Exception:  # noqa: BLE001
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(),
            "python": platform.python_version(), "postgres": pg, "load_avg": os.getloadavg(),
            "when": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def top_other_processes(n: int = 5) -> list[str]:
    """The busiest processes right now (to explain a noisy run)."""
    out = subprocess.run(["ps", "-eo", "pcpu,pid,comm", "--sort=-pcpu"], capture_output=True, text=True).stdout
    return [l.strip() for l in out.splitlines()[1:n + 1]]


def results_dir() -> Path:
    """Where figures are written: bench/out, or BENCH_RESULTS_DIR (e.g. for a patched tree)."""
    return Path(os.environ.get("BENCH_RESULTS_DIR", OUT))


def save_json(name: str, data: dict) -> Path:
    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    data = {**data, "app_root": str(APP_ROOT), "app_rev": os.environ.get("BENCH_APP_REV", "")}
    path = out / name
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    return path


def db_name(url: str) -> str:
    return urllib.parse.urlsplit(pg_url(url)).path.lstrip("/")


def fmt_ms(x) -> str:
    return "–" if x is None or x != x else f"{x:.1f}"


def busy_cores(sample_s: float = 3.0) -> float:
    total0, idle0 = _cpu_times()
    time.sleep(sample_s)
    total1, idle1 = _cpu_times()
    return ((total1 - total0) - (idle1 - idle0)) / (total1 - total0) * (os.cpu_count() or 1) if total1 > total0 else 0


def wait_quiet(max_wait_s: float = 600, below_cores: float = 0.3, sample_s: float = 3.0) -> dict:
    """Wait (bounded) until the machine is nearly idle; report how long and how busy it was."""
    t0 = time.monotonic()
    seen = []
    while True:
        b = busy_cores(sample_s)
        seen.append(round(b, 2))
        if b < below_cores or time.monotonic() - t0 > max_wait_s:
            return {"waited_s": round(time.monotonic() - t0, 1), "busy_cores_last": round(b, 2),
                    "quiet": b < below_cores, "load_avg": os.getloadavg()}


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="bench helpers")
    ap.add_argument("command", choices=["wait-quiet", "conditions", "clean-redis"])
    ap.add_argument("--max", type=float, default=600)
    ap.add_argument("--below", type=float, default=0.3)
    a = ap.parse_args()
    if a.command == "wait-quiet":
        print(json.dumps(wait_quiet(a.max, a.below)))
    elif a.command == "clean-redis":
        # The benches enqueue deliveries and rendition jobs; no worker runs on this database.
        import redis
        r = redis.Redis.from_url(os.environ.get("BENCH_REDIS_URL", BENCH_REDIS))
        keys = list(r.scan_iter("rq:*"))
        if keys:
            r.delete(*keys)
        print(f"removed {len(keys)} RQ keys from {os.environ.get('BENCH_REDIS_URL', BENCH_REDIS)}")
    else:
        print(json.dumps(machine_conditions(), default=str))

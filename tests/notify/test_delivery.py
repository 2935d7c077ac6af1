"""Outbox delivery against a real SMTP server, and through real Redis and RQ worker processes:
each message goes out once, survives a mail server outage and a worker killed mid-send."""
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis
from redis.exceptions import ResponseError

from portal import clock
from portal.extensions import db
from portal.notify.delivery import MAX_ATTEMPTS, RETRY_AFTER, STALE_AFTER, deliver_due, deliver_message
from portal.notify.models import OutboxAttempt, OutboxMessage
from portal.notify.outbox import add_message, hand_to_workers
from tests.conftest import user  # the smtp_sink fixture is conftest's

ROOT = Path(__file__).resolve().parents[2]
SUBJECT = "【客诉】KS2026-000123 待您审批"
BODY = "投诉 KS2026-000123（刘晓燕，原味酸奶）等待您审批。办理时限：2026-03-02 09:41。"
WORKER_SECONDS = 60


def make_message(channel="email", username="leader_qa", subject=SUBJECT, body=BODY) -> int:
    msg = add_message(key=f"test:{uuid.uuid4().hex}", channel=channel, recipient=user(username),
                      subject=subject, body=body)
    db.session.commit()
    return msg.id


def outbox_row(message_id: int) -> OutboxMessage:
    return db.session.get(OutboxMessage, message_id, populate_existing=True)


def mark_sending(message_id: int, minutes_ago: float) -> None:
    """The state a worker leaves behind when it dies after claiming and before recording."""
    db.session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.id == message_id)
        .values(status="sending", attempts=OutboxMessage.attempts + 1,
                last_attempt_at=clock.utcnow() - timedelta(minutes=minutes_ago)))
    db.session.commit()


# -- In process, real SMTP ----------------------------------------------------------------------

def test_pending_email_is_delivered_once_with_chinese_subject(app, smtp_sink):
    message_id = make_message()

    assert deliver_message(message_id) == "sent"

    [mail] = smtp_sink.mails_for(message_id)
    assert mail["Subject"] == SUBJECT
    assert mail.get_body(("plain",)).get_content().startswith(BODY)
    assert mail["To"] == "leader_qa@example.com"
    assert mail["From"] == app.config["MAIL_SENDER"]
    row = outbox_row(message_id)
    assert (row.status, row.attempts) == ("sent", 1)
    assert row.sent_at is not None
    assert row.provider_response == "250 2.0.0 Ok: queued"


def test_delivering_the_same_message_twice_sends_one_mail(smtp_sink):
    message_id = make_message()

    assert deliver_message(message_id) == "sent"
    assert deliver_message(message_id) == "skipped"

    assert len(smtp_sink.mails_for(message_id)) == 1
    assert outbox_row(message_id).attempts == 1


def test_two_workers_delivering_at_once_send_one_mail(app, smtp_sink):
    for _ in range(5):  # a few rounds, so the two claims really do meet
        message_id = make_message()
        start = threading.Barrier(2)
        outcomes = []

        def worker():
            with app.app_context():
                start.wait()
                outcomes.append(deliver_message(message_id))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        assert sorted(outcomes) == ["sent", "skipped"]
        assert len(smtp_sink.mails_for(message_id)) == 1
        assert outbox_row(message_id).attempts == 1


def test_mail_server_down_fails_then_sweep_delivers_when_it_is_back(smtp_sink):
    smtp_sink.stop()
    message_id = make_message()

    assert deliver_message(message_id) == "failed"
    row = outbox_row(message_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "ConnectionRefusedError" in row.provider_response
    waited = clock.as_utc(row.send_after) - clock.as_utc(row.last_attempt_at)
    assert abs(waited - RETRY_AFTER[0]) < timedelta(seconds=5)

    deliver_due()  # not yet: the row waits out its back-off
    assert outbox_row(message_id).attempts == 1

    smtp_sink.start()
    clock.travel(RETRY_AFTER[0] + timedelta(seconds=1))
    assert deliver_due() >= 1

    row = outbox_row(message_id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(smtp_sink.mails_for(message_id)) == 1


def test_failures_back_off_longer_each_time_until_the_message_is_dead(smtp_sink):
    smtp_sink.stop()
    message_id = make_message()

    for attempt in range(1, MAX_ATTEMPTS):
        assert deliver_message(message_id) == "failed"
        row = outbox_row(message_id)
        wait = clock.as_utc(row.send_after) - clock.utcnow()
        assert abs(wait - RETRY_AFTER[attempt - 1]) < timedelta(seconds=5)
        assert deliver_message(message_id) == "skipped"  # not before the back-off is over
        clock.travel(wait + timedelta(seconds=1))

    assert deliver_message(message_id) == "dead"
    row = outbox_row(message_id)
    assert (row.status, row.attempts) == ("dead", MAX_ATTEMPTS)
    clock.travel(timedelta(days=7))
    assert deliver_message(message_id) == "skipped"
    assert outbox_row(message_id).attempts == MAX_ATTEMPTS


def test_row_left_sending_by_a_dead_worker_is_redelivered_by_the_sweep(smtp_sink):
    message_id = make_message()
    mark_sending(message_id, minutes_ago=1)

    # Another worker may still be talking to the mail server: leave the row alone.
    deliver_due()
    assert deliver_message(message_id) == "skipped"
    assert outbox_row(message_id).status == "sending"
    assert smtp_sink.mails_for(message_id) == []

    clock.travel(STALE_AFTER + timedelta(seconds=1))
    assert deliver_due() >= 1

    row = outbox_row(message_id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(smtp_sink.mails_for(message_id)) == 1


def test_worker_lost_during_the_last_attempt_leaves_the_message_dead(smtp_sink):
    message_id = make_message()
    db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message_id)
                       .values(attempts=MAX_ATTEMPTS - 1))
    db.session.commit()
    mark_sending(message_id, minutes_ago=1)

    clock.travel(STALE_AFTER)
    deliver_due()

    row = outbox_row(message_id)
    assert (row.status, row.attempts) == ("dead", MAX_ATTEMPTS)
    assert smtp_sink.mails_for(message_id) == []


def test_sms_through_the_outbox_only_provider_records_outbox_only(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "outbox")
    message_id = make_message("sms")

    assert deliver_message(message_id) == "sent"

    row = outbox_row(message_id)
    assert (row.status, row.address, row.provider_response) == ("sent", "13800000012", "outbox-only")


def test_sms_misconfigured_provider_is_recorded_as_a_failure(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "aliyun")
    message_id = make_message("sms")

    assert deliver_message(message_id) == "failed"
    assert "SMS_ALIYUN_ACCESS_KEY_ID is not configured" in outbox_row(message_id).provider_response


def test_sweep_leaves_a_down_channel_alone_after_three_failures(app, smtp_sink, monkeypatch):
    smtp_sink.stop()
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "outbox")
    emails = [make_message() for _ in range(5)]
    sms = make_message("sms")

    assert deliver_due() == 1  # the SMS still goes out

    assert [outbox_row(i).attempts for i in emails] == [1, 1, 1, 0, 0]
    assert outbox_row(sms).status == "sent"


def test_in_app_messages_are_never_sent(smtp_sink):
    message_id = make_message("inapp")

    assert deliver_message(message_id) == "skipped"
    deliver_due()

    row = outbox_row(message_id)
    assert (row.status, row.attempts) == ("unread", 0)


# -- Real Redis, real RQ worker processes -------------------------------------------------------

CLAIM_KEY = "portal-tests:notify-claim"


def _with_db(url: str, number: int) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{number}"))


@pytest.fixture(scope="module")
def worker_redis_url(redis_url):
    """An empty database of our own on the suite's Redis server.

    The worker listens on the real `notify` queue, where other tests leave jobs for ids that
    no longer mean anything, and REDIS_URL may be someone's working database: so take a
    database number no one uses (claimed with a marker key), and empty it afterwards.
    """
    shared = urllib.parse.urlsplit(redis_url).path.strip("/") or "0"
    for number in range(12, 0, -1):  # 13 and 14 are the suites' own (tests/conftest.py)
        if str(number) == shared:
            continue
        url = _with_db(redis_url, number)
        conn = Redis.from_url(url, socket_connect_timeout=1)
        try:
            if conn.set(CLAIM_KEY, os.getpid(), nx=True, ex=3600):
                if conn.dbsize() == 1:
                    break
                conn.delete(CLAIM_KEY)
        except ResponseError:  # the server has fewer databases
            continue
    else:
        pytest.skip(f"no empty Redis database on {redis_url} for the worker tests")
    yield url
    conn.flushdb()


@pytest.fixture
def worker(app, worker_redis_url, smtp_sink, monkeypatch, tmp_path):
    """Starts `rq worker --burst notify` as its own process, configured as production is:
    through the environment, against the test database, Redis and mail sink."""
    database_url = db.engine.url
    if database_url.get_backend_name() == "sqlite" and database_url.database in (None, "", ":memory:"):
        pytest.skip("an in-memory SQLite database cannot be shared with a worker process")
    redis_url = worker_redis_url
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(app.config, "OUTBOX_DIRECT_DISABLED", False)
    env = {
        **os.environ,
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "REDIS_URL": redis_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_sink.port),
        "MAIL_SENDER": app.config["MAIL_SENDER"],
        "SMS_PROVIDER": "outbox",
        "SECRET_KEY": "worker-test-secret",
        "PORTAL_INSTANCE": str(tmp_path / "instance"),
        "PYTHONPATH": str(ROOT),
    }
    log_path = tmp_path / "worker.log"
    started = []

    def start(*, burst: bool = True) -> subprocess.Popen:
        """In burst mode the worker stops once the queue is empty; otherwise it runs, as
        production's does, with its scheduler (jobs enqueued for later)."""
        log = open(log_path, "ab")
        mode = ["--burst"] if burst else ["--with-scheduler", "--worker-class", "jobs.worker.PortalWorker"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "rq.cli", "worker", *mode, "--url", redis_url, "notify"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            process_group=0)
        log.close()
        proc.log_path = log_path
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            kill_tree(proc)


def worker_output(proc) -> str:
    return proc.log_path.read_text(errors="replace")[-3000:]


def children(pid: int) -> list[int]:
    """Child processes of pid, from /proc (the RQ work-horse runs in a process group of its own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def kill_tree(proc) -> None:
    for pid in children(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def test_rq_worker_process_delivers_handed_over_message_and_sweep(smtp_sink, worker, worker_redis_url):
    handed = make_message()
    lost = make_message()  # its job was lost: only the sweep will find it
    hand_to_workers([handed])
    from rq import Queue
    Queue("notify", connection=Redis.from_url(worker_redis_url)).enqueue("jobs.sweep.sweep")

    proc = worker()
    assert proc.wait(WORKER_SECONDS) == 0, worker_output(proc)

    for message_id in (handed, lost):
        assert outbox_row(message_id).status == "sent", worker_output(proc)
        assert len(smtp_sink.mails_for(message_id)) == 1


def test_message_sent_once_after_worker_killed_mid_send(smtp_sink, worker):
    message_id = make_message()
    smtp_sink.hold_next()
    hand_to_workers([message_id])

    proc = worker()
    assert smtp_sink.holding.wait(WORKER_SECONDS), worker_output(proc)
    [horse] = children(proc.pid)  # the process running the job, as the OOM killer would pick
    os.kill(horse, signal.SIGKILL)
    proc.wait(WORKER_SECONDS)  # the worker notes the lost job, and in burst mode stops
    smtp_sink.release()

    row = outbox_row(message_id)
    assert (row.status, row.attempts) == ("sending", 1)
    assert smtp_sink.mails_for(message_id) == []

    clock.travel(STALE_AFTER + timedelta(seconds=1))
    assert deliver_due() >= 1

    row = outbox_row(message_id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(smtp_sink.mails_for(message_id)) == 1


def test_reminder_handed_over_early_leaves_at_its_send_time(smtp_sink, worker):
    proc = worker(burst=False)
    while "Scheduler for notify started" not in worker_output(proc):
        assert proc.poll() is None, worker_output(proc)
        time.sleep(0.1)
    send_after = clock.utcnow() + timedelta(seconds=3)
    early = add_message(key=f"test:{uuid.uuid4().hex}", channel="email", recipient=user("leader_qa"),
                        subject="提醒：时限过半", body=BODY, kind="reminder", send_after=send_after)
    db.session.commit()
    hand_to_workers([early.id])  # scheduled in Redis for its time; no sweep runs here

    while not smtp_sink.mails_for(early.id):
        assert clock.utcnow() < send_after + timedelta(seconds=WORKER_SECONDS), worker_output(proc)
        assert proc.poll() is None, worker_output(proc)
        time.sleep(0.05)
    arrived = clock.utcnow()

    assert send_after <= arrived < send_after + timedelta(seconds=5), worker_output(proc)
    deadline = time.monotonic() + 10
    while outbox_row(early.id).status != "sent":  # recorded just after the server's answer
        assert time.monotonic() < deadline, worker_output(proc)
        time.sleep(0.05)
    assert len(smtp_sink.mails_for(early.id)) == 1


def test_500_reminders_survive_the_worker_killed_mid_batch(smtp_sink, worker):
    from portal.notify.delivery import deliver_backlog
    leader = user("leader_qa")
    msgs = [add_message(key=f"test:kill:{i}", channel="email", recipient=leader, kind="reminder",
                        subject=f"【客诉提醒】第 {i} 条", body=BODY) for i in range(500)]
    db.session.commit()
    ids = [m.id for m in msgs]
    hand_to_workers(ids)

    proc = worker()
    while len(smtp_sink.messages) < 150:
        assert proc.poll() is None, worker_output(proc)
        time.sleep(0.005)
    kill_tree(proc)  # SIGKILL to the worker and the work-horse sending the batch
    at_kill = len(smtp_sink.messages)
    assert at_kill < 500

    proc = worker()  # started again: the batches still queued go out
    assert proc.wait(WORKER_SECONDS) == 0, worker_output(proc)
    clock.travel(STALE_AFTER + timedelta(seconds=1))
    deliver_backlog()  # the minute sweep takes back what the killed horse had claimed

    rows = db.session.execute(sa.select(OutboxMessage.id, OutboxMessage.status)
                              .where(OutboxMessage.id.in_(ids))).all()
    assert {status for _, status in rows} == {"sent"}
    received = [int(m["Message-ID"].split("-")[1].split(".")[0]) for m in smtp_sink.messages]
    assert set(received) == set(ids)
    # Twice at most the one mail the horse was killed between the server's answer and the
    # record of it: same Message-ID, and its attempts say the first was lost.
    twice = [mid for mid in set(received) if received.count(mid) > 1]
    assert len(received) - len(set(received)) == len(twice) <= 1, twice
    for mid in twice:
        outcomes = db.session.execute(sa.select(OutboxAttempt.outcome).where(OutboxAttempt.message_id == mid)
                                      .order_by(OutboxAttempt.attempt)).scalars().all()
        assert outcomes == ["lost", "sent"]


def test_a_reminder_moved_later_is_rescheduled_not_sent_at_its_old_time(app, worker_redis_url, monkeypatch):
    from rq import Queue
    monkeypatch.setitem(app.config, "REDIS_URL", worker_redis_url)
    monkeypatch.setitem(app.config, "OUTBOX_DIRECT_DISABLED", False)
    first = clock.utcnow() + timedelta(minutes=30)
    msg = add_message(key=f"test:{uuid.uuid4().hex}", channel="email", recipient=user("leader_qa"),
                      subject="提醒", body=BODY, kind="reminder", send_after=first)
    db.session.commit()
    hand_to_workers([msg.id])

    msg.send_after = first + timedelta(minutes=45)  # the case was paused for 45 minutes
    db.session.commit()
    hand_to_workers([msg.id])

    registry = Queue("notify", connection=Redis.from_url(worker_redis_url)).scheduled_job_registry
    assert registry.get_job_ids() == [f"deliver-{msg.id}"]
    when = registry.get_scheduled_time(f"deliver-{msg.id}")
    assert timedelta(0) < when - (first + timedelta(minutes=45)) <= timedelta(seconds=1)
    registry.remove(f"deliver-{msg.id}", delete_job=True)

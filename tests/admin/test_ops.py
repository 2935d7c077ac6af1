"""The operations pages, as a system administrator uses them: the outbox (filters, every attempt
with the provider's answer, retrying what failed) and the RQ queues, workers and cron scheduler.
Real SMTP (aiosmtpd), a real Redis, real `rq worker` and `rq cron` processes."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis

from portal import clock
from portal.extensions import db
from portal.notify.models import OutboxAttempt, OutboxMessage
from portal.notify.outbox import add_message
from portal.signing.models import AuditEvent
from tests.conftest import csrf_from, leftover_chinese, make_case, signed_in, stored_texts, user

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """A real SMTP server on 127.0.0.1 keeping what it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.port = free_port()
        self.mails = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(envelope.original_content)
        return "250 2.0.0 Ok: queued as OPS1"


def message(*, channel="email", kind="step", case=None, username="leader_qa", subject="【客诉】待您审批",
            status=None) -> OutboxMessage:
    msg = add_message(key=f"ops-test:{uuid.uuid4().hex}", channel=channel, recipient=user(username),
                      subject=subject, body=f"{subject}：请尽快处理。", case_id=case.id if case else None,
                      kind=kind)
    if status:
        msg.status = status
    db.session.commit()
    return msg


def row(message_id: int) -> OutboxMessage:
    return db.session.get(OutboxMessage, message_id, populate_existing=True)


def subjects(html: str) -> set[str]:
    return set(re.findall(r'href="/admin/outbox/\d+">([^<]+)</a>', html))


@pytest.fixture
def admin(app):
    client, token = signed_in(app, "admin")
    client.token = token
    return client


# ---------------------------------------------------------------- the outbox page

def test_outbox_filters_by_status_channel_kind_and_case_number(app, admin):
    case = make_case()
    mine = {"甲 邮件 环节", "乙 短信 提醒", "丙 邮件 升级 失败", "丁 短信 已放弃"}  # and 戊 below
    message(subject="甲 邮件 环节", case=case)
    message(subject="乙 短信 提醒", channel="sms", kind="reminder", case=case)
    message(subject="丙 邮件 升级 失败", kind="escalation", status="failed")
    message(subject="丁 短信 已放弃", channel="sms", status="dead")
    later = message(subject="戊 明天的提醒", kind="reminder")
    later.send_after = clock.utcnow() + timedelta(days=1)
    db.session.commit()
    mine.add("戊 明天的提醒")

    def shown(query: str) -> set[str]:  # of this test's messages (intake writes its own too)
        return subjects(admin.get(f"/admin/outbox{query}").get_data(as_text=True)) & mine

    assert shown("") == mine
    assert shown("?status=failed") == {"丙 邮件 升级 失败"}
    assert shown("?status=dead") == {"丁 短信 已放弃"}
    assert shown("?channel=sms") == {"乙 短信 提醒", "丁 短信 已放弃"}
    assert shown("?kind=reminder") == {"乙 短信 提醒", "戊 明天的提醒"}
    # Waiting: due now (should be going out) or not yet (scheduled).
    assert shown("?status=pending") == {"甲 邮件 环节", "乙 短信 提醒", "戊 明天的提醒"}
    assert shown("?status=due") == {"甲 邮件 环节", "乙 短信 提醒"}
    assert shown("?status=scheduled") == {"戊 明天的提醒"}
    assert shown("?kind=escalation&channel=email") == {"丙 邮件 升级 失败"}
    assert shown("?kind=escalation&channel=sms") == set()

    # The case number as people say it: without the zeros, in lower case.
    short = case.number.replace("-00000", "-").lower()
    assert shown(f"?case={short}") == {"甲 邮件 环节", "乙 短信 提醒"}
    assert shown(f"?case={short}&channel=sms") == {"乙 短信 提醒"}

    unknown = admin.get("/admin/outbox?case=KS1999-42").get_data(as_text=True)
    assert "没有编号为 KS1999-000042 的投诉。" in unknown and not subjects(unknown)

    # htmx asks for the rows alone; an unknown filter value is ignored, not an error.
    rows = admin.get("/admin/outbox?status=failed&channel=fax", headers={"HX-Request": "true"})
    assert rows.status_code == 200 and "<html" not in rows.get_data(as_text=True)
    assert subjects(rows.get_data(as_text=True)) & mine == {"丙 邮件 升级 失败"}


def test_outbox_names_the_robot_and_masks_a_customers_phone_in_the_list(app, admin):
    from portal.notify.models import UnitRobot
    from tests.conftest import unit
    robot = UnitRobot(unit_id=unit("PROD1").id, vendor="wecom", name="生产一部质量群",
                      url="http://127.0.0.1:9/cgi-bin/webhook/send?key=k", active=True)
    db.session.add(robot)
    db.session.flush()
    to_robot = add_message(key="ops-robot", channel="robot", address=str(robot.id),
                           subject="群机器人消息", body="正文", kind="escalation")
    to_customer = add_message(key="ops-customer", channel="sms", address="13912345678",
                              subject="受理告知", body="您的投诉已受理", kind="customer")
    db.session.commit()
    listing = admin.get("/admin/outbox").get_data(as_text=True)
    assert "生产一部质量群" in listing
    assert "13912345678" not in listing and "5678" in listing
    assert "生产一部质量群" in admin.get(f"/admin/outbox/{to_robot.id}").get_data(as_text=True)
    assert "13912345678" in admin.get(f"/admin/outbox/{to_customer.id}").get_data(as_text=True)


def test_outbox_pages_through_messages_newest_first(app, admin):
    db.session.execute(sa.delete(OutboxMessage))
    for i in range(120):
        add_message(key=f"ops-page:{i}", channel="email", recipient=user("leader_qa"),
                    subject=f"第{i:03d}条", body="正文")
    db.session.commit()
    first = admin.get("/admin/outbox").get_data(as_text=True)
    assert len(subjects(first)) == 50 and "第119条" in first and "第070条" in first and "第069条" not in first
    assert 'href="/admin/outbox?page=2"' in first and "上一页" not in first
    third = admin.get("/admin/outbox?page=3").get_data(as_text=True)
    assert len(subjects(third)) == 20 and "第019条" in third and "第000条" in third
    assert "下一页" not in third and 'href="/admin/outbox?page=2"' in third
    # Filters are kept when paging.
    assert 'href="/admin/outbox?channel=email&amp;page=2"' in admin.get("/admin/outbox?channel=email").get_data(as_text=True)


# ---------------------------------------------------------------- attempts and retry, end to end

def test_mail_that_finally_fails_is_shown_with_every_answer_and_retried_by_the_admin(app, admin, monkeypatch):
    """SMTP down: the message is tried until it is given up, each refusal on record; the
    admin finds it among the dead, retries it once the mail server is back, and it arrives."""
    from portal.notify.delivery import MAX_ATTEMPTS, deliver_due
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
    msg_id = message(subject="【客诉】升级：已超时", kind="escalation").id
    for _ in range(MAX_ATTEMPTS):
        deliver_due()
        clock.travel(timedelta(hours=25))  # past the longest back-off
    clock.reset()  # (eight days on, the admin's session would have expired)
    dead = row(msg_id)
    assert dead.status == "dead" and dead.attempts == MAX_ATTEMPTS

    listing = admin.get("/admin/outbox?status=dead").get_data(as_text=True)
    assert subjects(listing) == {"【客诉】升级：已超时"} and "ConnectionRefusedError" in listing
    page = admin.get(f"/admin/outbox/{msg_id}").get_data(as_text=True)
    assert page.count("ConnectionRefusedError") >= MAX_ATTEMPTS
    assert f"第 {MAX_ATTEMPTS} 次" in page and "立即重发" in page

    sink = SmtpSink()
    monkeypatch.setitem(app.config, "MAIL_PORT", sink.port)
    sink.controller.start()
    try:
        events_before = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
        resp = admin.post(f"/admin/outbox/{msg_id}/retry", data={"csrf_token": admin.token})
        assert resp.status_code == 303
        assert "已重新排队，稍后发送。" in admin.get(resp.headers["Location"]).get_data(as_text=True)
        assert row(msg_id).status == "pending"
        [event] = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "outbox_retried")).scalars().all()
        assert event.actor_id == user("admin").id and event.object_id == msg_id
        assert event.before["status"] == "dead" and event.after["status"] == "pending"
        assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one() == events_before + 1

        assert deliver_due() == 1
        assert len(sink.mails) == 1 and row(msg_id).status == "sent"
    finally:
        sink.controller.stop()

    attempts = db.session.execute(sa.select(OutboxAttempt).where(OutboxAttempt.message_id == msg_id)
                                  .order_by(OutboxAttempt.attempt)).scalars().all()
    assert [a.outcome for a in attempts][-1] == "sent" and len(attempts) == MAX_ATTEMPTS + 1
    page = admin.get(f"/admin/outbox/{msg_id}").get_data(as_text=True)
    assert "250 2.0.0 Ok: queued as OPS1" in page and f"第 {MAX_ATTEMPTS + 1} 次" in page
    assert f"{user('admin').name} 手动重发" in page
    assert "立即重发" not in page  # sent: nothing to retry


def test_retry_of_a_message_not_failed_is_refused_in_chinese_and_nothing_written(app, admin):
    sent = message(subject="已发送的邮件", status="sent")
    pending = message(subject="待发送的邮件")
    before = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
    for msg, label in ((sent, "已发送"), (pending, "待发送")):
        resp = admin.post(f"/admin/outbox/{msg.id}/retry", data={"csrf_token": admin.token})
        assert resp.status_code == 409
        assert f"这条消息的状态是「{label}」，只有发送失败或已放弃的消息可以重发。" in resp.get_data(as_text=True)
    assert row(sent.id).status == "sent" and row(pending.id).status == "pending"
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one() == before
    assert admin.post("/admin/outbox/999999/retry", data={"csrf_token": admin.token}).status_code == 404
    # Without the form's CSRF token nothing happens either.
    failed = message(subject="失败的邮件", status="failed")
    assert admin.post(f"/admin/outbox/{failed.id}/retry", data={}).status_code == 400
    assert row(failed.id).status == "failed"


def test_two_admins_retrying_at_once_retry_it_once(app):
    """The status check is in the update itself: one wins, the other is told, one audit event."""
    import threading
    failed = message(subject="失败的邮件", status="failed")
    clients = [signed_in(app, "admin") for _ in range(2)]
    barrier = threading.Barrier(2)
    codes = []

    def press(client, token):
        with app.app_context():  # the thread's own, as a web worker has
            barrier.wait()
            codes.append(client.post(f"/admin/outbox/{failed.id}/retry", data={"csrf_token": token}).status_code)

    threads = [threading.Thread(target=press, args=c) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(codes) == [303, 409]
    assert row(failed.id).status == "pending"
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "outbox_retried")).scalar_one() == 1


def test_after_an_outage_the_admin_retries_every_failed_sms_listed_with_one_press(app, admin, monkeypatch):
    import portal.admin.ops as ops
    monkeypatch.setattr(ops, "BULK_LIMIT", 3)
    dead_sms = [message(subject=f"短信{i}", channel="sms", status="dead").id for i in range(4)]
    dead_mail = message(subject="邮件", status="dead").id
    failed_sms = message(subject="待重试短信", channel="sms", status="failed").id
    before = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()

    listing = admin.get("/admin/outbox?status=dead&channel=sms").get_data(as_text=True)
    assert "全部重发" in listing and "一次最多 3 条" in listing
    assert "全部重发" not in admin.get("/admin/outbox?channel=sms").get_data(as_text=True)
    resp = admin.post("/admin/outbox/retry", data={"csrf_token": admin.token, "status": "dead", "channel": "sms"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/admin/outbox?status=dead&channel=sms"
    assert "已重新排队 3 条消息，稍后发送。" in admin.get(resp.headers["Location"]).get_data(as_text=True)
    # The oldest three of the filtered; the fourth waits for the next press; nothing else moved.
    assert [row(i).status for i in dead_sms] == ["pending", "pending", "pending", "dead"]
    assert row(dead_mail).status == "dead" and row(failed_sms).status == "failed"
    events = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "outbox_retried")
                                .order_by(AuditEvent.seq)).scalars().all()
    assert [e.object_id for e in events] == dead_sms[:3]
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one() == before + 3

    admin.post("/admin/outbox/retry", data={"csrf_token": admin.token, "status": "dead", "channel": "sms"})
    assert row(dead_sms[3]).status == "pending"
    resp = admin.post("/admin/outbox/retry", data={"csrf_token": admin.token, "status": "dead", "channel": "sms"})
    assert "没有可以重发的消息" in admin.get(resp.headers["Location"]).get_data(as_text=True)
    # Without a failed or given-up status chosen, nothing at all is retried.
    resp = admin.post("/admin/outbox/retry", data={"csrf_token": admin.token, "channel": "email"})
    assert "请先筛选出发送失败或已放弃的消息，再全部重发。" in admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert row(dead_mail).status == "dead"


# ---------------------------------------------------------------- admins only

@pytest.mark.parametrize("username", ["desk", "leader_prod1", "handler_prod1", "quality"])
def test_operations_pages_are_for_admins_only(app, username):
    failed = message(subject="失败的邮件", status="failed")
    client, token = signed_in(app, username)
    for url in ("/admin/outbox", f"/admin/outbox/{failed.id}", "/admin/queues"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/admin/outbox/{failed.id}/retry", data={"csrf_token": token}).status_code == 403
    assert client.post("/admin/outbox/retry", data={"csrf_token": token, "status": "failed"}).status_code == 403
    assert row(failed.id).status == "failed"
    assert "/admin/outbox" not in client.get("/work").get_data(as_text=True)


def test_operations_pages_send_a_visitor_to_the_login(app):
    client = app.test_client()
    for url in ("/admin/outbox", "/admin/queues"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"], url


# ---------------------------------------------------------------- queues and workers

@pytest.fixture
def rq_redis(app, redis_url):
    """The suite's own Redis database, emptied: the page shows what this test put there."""
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()


def _env(app, redis_url, tmp_path) -> dict:
    url = db.engine.url
    return {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False),
            "REDIS_URL": redis_url, "SECRET_KEY": "ops-test", "SMS_PROVIDER": "outbox",
            "PORTAL_INSTANCE": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT), "TZ": "Asia/Shanghai"}


def _start(args, env, log_path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "rq.cli", *args], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0)


def _wait_for(client, text: str, seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while True:
        html = client.get("/admin/queues").get_data(as_text=True)
        if text in html or time.monotonic() > deadline:
            return html
        time.sleep(0.2)


def test_queues_page_shows_counts_busy_worker_cron_and_failed_job_error(app, admin, rq_redis, redis_url, tmp_path):
    from rq import Queue, SimpleWorker
    # A job that fails, run by a real worker (in this process: the failure is what matters here).
    failing = Queue("default", connection=rq_redis)
    failing.enqueue("math.sqrt", -1)
    SimpleWorker([failing], connection=rq_redis).work(burst=True)
    notify = Queue("notify", connection=rq_redis)
    notify.enqueue("jobs.deliver.deliver", 1)
    notify.enqueue("jobs.deliver.deliver", 2)
    notify.enqueue_in(timedelta(hours=1), "jobs.deliver.deliver", 3)

    env = _env(app, redis_url, tmp_path)
    procs = [_start(["worker", "--url", redis_url, "--name", "ops-test-worker", "slow"], env, tmp_path / "worker.log"),
             _start(["cron", "--url", redis_url, "jobs/cron.py"], env, tmp_path / "cron.log")]
    try:
        Queue("slow", connection=rq_redis).enqueue("time.sleep", 30, job_timeout=60)
        html = _wait_for(admin, "time.sleep(30)")
        html = _wait_for(admin, "jobs.sweep.sweep") if "jobs.sweep.sweep" not in html else html
    finally:
        for proc in procs:  # the worker's work-horse too, still sleeping
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    logs = "".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log"))

    # Counts per queue: queued, started, scheduled, failed.
    cells = lambda name: re.search(  # noqa: E731
        rf"<strong>{name}</strong></td>\s*" + r"\s*".join([r'<td data-label="[^"]+" class="num[^"]*">(\d+)</td>'] * 4),
        html).groups()
    assert cells("notify") == ("2", "0", "1", "0")
    assert cells("default") == ("0", "0", "0", "1")
    assert cells("slow") == ("0", "1", "0", "0")
    # The worker, busy, with its job; the cron scheduler and its periodic jobs.
    assert "ops-test-worker" in html and "忙碌" in html and "time.sleep(30)" in html, logs
    assert "jobs.sweep.sweep" in html and "* * * * *" in html and "jobs.cleanup.purge_staged_uploads" in html, logs
    # The failed job's error, in its own words.
    assert "math.sqrt(-1)" in html and "ValueError: math domain error" in html


def test_queues_page_without_workers_or_cron_says_nothing_runs(app, admin, rq_redis):
    html = admin.get("/admin/queues").get_data(as_text=True)
    assert "没有运行中的工作进程：消息和文件任务不会被处理。" in html
    assert "定时调度进程（rq cron）没有运行" in html and "没有失败的任务。" in html


@pytest.fixture
def hung_redis():
    """A TCP server that accepts and never answers: a stalled Redis."""
    import threading
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()
    for conn in held:
        conn.close()


@pytest.mark.parametrize("kind", ["stopped", "hung"])
def test_queues_page_with_redis_down_says_so_in_chinese_quickly(app, admin, monkeypatch, hung_redis, kind):
    message(subject="到期未发的邮件")
    url = hung_redis if kind == "hung" else f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    started = time.monotonic()
    resp = admin.get("/admin/queues")
    seconds = time.monotonic() - started
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "无法连接 Redis，队列和工作进程的状态暂时无法显示。" in html
    assert "Redis 恢复后，工作进程和每分钟的巡检会补发到期的消息。" in html
    assert re.search(r"到期未发 [1-9]\d* 条", html)  # read from the database all the same
    print(f"queues page with Redis {kind}: {seconds:.3f} s")
    assert seconds < 2.0, seconds


# ---------------------------------------------------------------- English

def main_of(html: str) -> str:
    m = re.search(r'<main id="main".*?</main>', html, re.S)
    assert m, "no <main> on the page"
    return m.group(0)


def test_operations_pages_in_english_have_no_chinese_but_the_data(app, admin, rq_redis, monkeypatch):
    from rq import Queue, SimpleWorker
    q = Queue("default", connection=rq_redis)
    q.enqueue("math.sqrt", -1)
    SimpleWorker([q], connection=rq_redis).work(burst=True)
    case = make_case()
    failed = message(subject="失败的邮件", status="failed", case=case, kind="escalation")
    sent = message(subject="短信通知", status="sent", channel="sms")
    db.session.add(OutboxAttempt(message_id=failed.id, attempt=1, at=clock.utcnow(), outcome="failed",
                                 response="ConnectionRefusedError: [Errno 111] Connection refused"))
    db.session.commit()
    admin.get("/lang/en")
    data = stored_texts()
    problems = {}
    pages = ["/admin/outbox", "/admin/outbox?status=failed&channel=email&kind=escalation",
             f"/admin/outbox?case={case.number}", "/admin/outbox?case=KS1999-1", "/admin/outbox?status=scheduled",
             f"/admin/outbox/{failed.id}", f"/admin/outbox/{sent.id}", "/admin/queues"]
    for url in pages:
        resp = admin.get(url)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        assert '<html lang="en">' in html, url
        if left := leftover_chinese(main_of(html), data):
            problems[url] = left
    resp = admin.post(f"/admin/outbox/{sent.id}/retry", data={"csrf_token": csrf_from(admin, f"/admin/outbox/{sent.id}")})
    assert resp.status_code == 409
    if left := leftover_chinese(main_of(resp.get_data(as_text=True)), data):
        problems["POST retry"] = left
    resp = admin.post(f"/admin/outbox/{failed.id}/retry", data={"csrf_token": csrf_from(admin, f"/admin/outbox/{failed.id}")})
    assert resp.status_code == 303
    if left := leftover_chinese(main_of(admin.get(resp.headers["Location"]).get_data(as_text=True)), data):
        problems["after the retry"] = left
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    if left := leftover_chinese(main_of(admin.get("/admin/queues").get_data(as_text=True)), data):
        problems["queues, Redis down"] = left
    assert not problems, "\n".join(f"{url}: {left}" for url, left in problems.items())

"""End to end, with short policies (seconds): a real Redis, a real `rq worker --with-scheduler`
process delivering to an SMTP sink and local HTTP sinks (SMS gateway, 企业微信 robot), and the
sweep. A case left alone is reminded at 50 % and 80 % of its limit, then escalates to level 1
and level 2, each message exactly once; a case acted on in time has what was not yet sent
cancelled; a timer whose job was lost is fired through the sweep."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from email.header import decode_header, make_header

import pytest
import sqlalchemy as sa
from redis import Redis

from portal.cases import operations as ops
from portal.cases.enums import Kind, Klass, Validity
from portal.clock import as_utc, utcnow
from portal.escalation.models import CaseEscalation, CaseTimer, LadderLevel
from portal.escalation.operations import SWEEP_GRACE, sweep_timers
from portal.extensions import db
from portal.notify.models import OutboxMessage, UnitRobot
from portal.steps import Step
from tests.conftest import ROOT, category, make_case, short_policy, unit, user

# The verify step: reminders at 8 s and 12.8 s, the breach at 16 s. The acted-on case is verified
# between its two reminders: a window of 4.8 s, where a reminder arrives 0.6 to 1.5 s after its
# time with both suites (or Chromium) running at once.
LIMIT_SECONDS = 16
LEVEL2_AFTER_SECONDS = 3


@pytest.fixture
def portal_worker(app, redis_url, smtp_sink, http_sink, tmp_path):
    """`rq worker --with-scheduler notify` as production starts it, on this test's database,
    Redis, mail sink and SMS gateway sink; stopped (with its work-horse) at the end."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        pytest.skip("an in-memory SQLite database cannot be shared with a worker process")
    Redis.from_url(redis_url).flushdb()  # this helper's own database: no one else's jobs or locks
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False), "REDIS_URL": redis_url,
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_sink.port), "MAIL_SENDER": app.config["MAIL_SENDER"],
           "SMS_PROVIDER": "http", "SMS_HTTP_URL": http_sink.url + "sms", "SECRET_KEY": "worker-test-secret",
           "PORTAL_INSTANCE": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT), "TZ": "Asia/Shanghai"}
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--worker-class", "jobs.worker.PortalWorker",
         "--url", redis_url, "notify"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0)
    proc.log_path = tmp_path / "worker.log"
    from rq import Worker
    deadline = time.monotonic() + 120
    while not Worker.all(connection=Redis.from_url(redis_url)):
        assert proc.poll() is None, proc.log_path.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.2)
    yield proc
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    log.close()


def subject(mail) -> str:
    return str(make_header(decode_header(mail["Subject"])))


def mails(sink, prefix: str, number: str) -> list[tuple[str, str]]:
    return sorted((m["To"], subject(m)) for m in sink.messages
                  if subject(m).startswith(prefix) and number in subject(m))


def posts(sink, path: str, number: str) -> list[dict]:
    return [json.loads(body) for p, _h, body in sink.requests if p.startswith(path) and number.encode() in body]


def wait_for(check, seconds: float, proc) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert proc.poll() is None, proc.log_path.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, proc.log_path.read_text(errors="replace")[-3000:]
        time.sleep(0.25)
        db.session.expire_all()


def test_case_left_alone_is_reminded_then_escalated_twice_each_exactly_once(
        app, portal_worker, smtp_sink, http_sink):
    short_policy(Step.VERIFY, LIMIT_SECONDS / 60, reminder_percents=[50, 80], breach_action="escalate")
    levels = db.session.execute(sa.select(LadderLevel).order_by(LadderLevel.level)).scalars().all()
    levels[1].after_minutes = LEVEL2_AFTER_SECONDS / 60
    levels[2].after_minutes = 600  # level 3 would come ten hours later: not in this test
    db.session.add(UnitRobot(unit_id=unit("CS").id, vendor="wecom", name="客服中心群",
                             url=http_sink.url + "robot?key=cs-robot"))
    db.session.commit()

    alone = make_case()
    acted_on = make_case(customer_name="李娜")
    # A third case's breach job is lost (Redis flushed, a worker gone): the sweep must catch it.
    lost = make_case(customer_name="赵敏")
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry
    breach = db.session.execute(sa.select(CaseTimer).where(CaseTimer.case_id == lost.id,
                                                           CaseTimer.kind == "breach")).scalar_one()
    connection = Redis.from_url(app.config["REDIS_URL"])
    ScheduledJobRegistry("notify", connection=connection).remove(f"timer-{breach.id}", delete_job=True)
    assert not Job.exists(f"timer-{breach.id}", connection=connection)

    # The second case is verified after its 50 % reminder went out and before its 80 % one.
    wait_for(lambda: len(mails(smtp_sink, "【客诉提醒】", acted_on.number)) == 2, 30, portal_worker)
    ops.verify_case(acted_on, user("desk"), acted_on.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id)

    def settled() -> bool:
        escalated = db.session.execute(sa.select(sa.func.count()).select_from(CaseEscalation)
                                       .where(CaseEscalation.case_id == alone.id)).scalar_one()
        waiting = db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.case_id == alone.id, OutboxMessage.channel != "inapp",
            OutboxMessage.status.in_(("pending", "sending", "failed")))).scalar_one()
        return escalated == 2 and waiting == 0
    wait_for(settled, LIMIT_SECONDS + LEVEL2_AFTER_SECONDS + 40, portal_worker)
    # The minute sweep (called here rather than waited for) hands the lost breach to the worker,
    # once it is SWEEP_GRACE overdue (before that, its job may still be on the way).
    time.sleep(max(0.0, (as_utc(breach.fire_at) + SWEEP_GRACE - utcnow()).total_seconds()))
    assert sweep_timers() == 1
    wait_for(lambda: len(mails(smtp_sink, "【客诉升级】", lost.number)) == 1, 30, portal_worker)
    assert sweep_timers(inline=True) == 0
    time.sleep(3)  # anything sent twice would arrive by now

    desk, leader = "desk@example.com", "leader_cs@example.com"
    n = alone.number
    assert mails(smtp_sink, "【客诉提醒】", n) == sorted(
        (to, f"【客诉提醒】{n}「核实」时限已过{p}%") for to in (desk, leader) for p in (50, 80))
    assert mails(smtp_sink, "【客诉升级】", n) == sorted([
        (leader, f"【客诉升级】{n} 升至第1级（责任部门领导）"),
        (leader, f"【客诉升级】{n} 升至第2级（客服经理/总部投诉专席）"),
        (desk, f"【客诉升级】{n} 升至第2级（客服经理/总部投诉专席）")])
    sms = posts(http_sink, "/sms", n)
    assert sorted(s["phone"] for s in sms) == ["13800000011", "13800000011"]  # 郑华, levels 1 and 2
    assert all(len(s["text"]) <= 70 for s in sms)
    robot = posts(http_sink, "/robot", n)
    assert len(robot) == 2 and all("客诉升级" in r["text"]["content"] for r in robot)
    esc = db.session.execute(sa.select(CaseEscalation).where(CaseEscalation.case_id == alone.id)
                             .order_by(CaseEscalation.level)).scalars().all()
    assert [(e.level, e.trigger.value) for e in esc] == [(1, "limit_passed"), (2, "limit_passed")]

    # Each reminder left within seconds of its send time (the scheduler, not the minute sweep).
    reminders = db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.case_id == alone.id, OutboxMessage.kind == "reminder",
        OutboxMessage.channel == "email")).scalars().all()
    lateness = [(as_utc(m.sent_at) - as_utc(m.send_after)).total_seconds() for m in reminders]
    assert len(lateness) == 4 and max(lateness) < 5, lateness

    # The case acted on: its 50 % reminder went out, the 80 % one and the breach never did.
    b = acted_on.number
    assert mails(smtp_sink, "【客诉提醒】", b) == sorted(
        (to, f"【客诉提醒】{b}「核实」时限已过50%") for to in (desk, leader))
    assert mails(smtp_sink, "【客诉升级】", b) == [] and posts(http_sink, "/sms", b) == []
    eighty = db.session.execute(sa.select(OutboxMessage.status).where(
        OutboxMessage.case_id == acted_on.id, OutboxMessage.key.like(f"case:{acted_on.id}:remind:verify:%:80:%"))
    ).scalars().all()
    assert eighty and set(eighty) == {"cancelled"}
    verify_timer = db.session.execute(sa.select(CaseTimer).where(
        CaseTimer.case_id == acted_on.id, CaseTimer.step == Step.VERIFY)).scalar_one()
    assert verify_timer.fired_at is None and verify_timer.cancelled_at is not None

"""Reminders and the escalation ladder, in-process: what entering and leaving a step schedules,
what a breach does under each policy action, the §5 triggers, and firing exactly once."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.cases import operations as ops
from portal.cases.enums import Kind, Klass, Validity
from portal.cases.models import Case
from portal.escalation.models import CaseEscalation, CaseTimer
from portal.escalation.operations import fire_timer, sweep_timers
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.steps import Step
from tests.conftest import (category, make_case, make_case_at, propose, short_policy, to_investigating,
                            unit, user)


@pytest.fixture(autouse=True)
def _in_process(app, monkeypatch):
    # No jobs: these tests fire timers themselves (the end-to-end test runs the worker).
    monkeypatch.setitem(app.config, "OUTBOX_DIRECT_DISABLED", True)


def outbox(case, kind, status=None):
    q = sa.select(OutboxMessage).where(OutboxMessage.case_id == case.id, OutboxMessage.kind == kind)
    if status:
        q = q.where(OutboxMessage.status == status)
    return db.session.execute(q.order_by(OutboxMessage.send_after, OutboxMessage.id)).scalars().all()


def escalations(case):
    return db.session.execute(sa.select(CaseEscalation).where(CaseEscalation.case_id == case.id)
                              .order_by(CaseEscalation.id)).scalars().all()


def timers(case, pending=True):
    q = sa.select(CaseTimer).where(CaseTimer.case_id == case.id)
    if pending:
        q = q.where(CaseTimer.fired_at.is_(None), CaseTimer.cancelled_at.is_(None))
    return db.session.execute(q.order_by(CaseTimer.fire_at)).scalars().all()


def later(minutes: float) -> None:
    clock.travel(timedelta(minutes=minutes))
    sweep_timers(inline=True)
    db.session.expire_all()


def names(messages) -> set:
    return {(m.recipient.username if m.recipient else m.address, m.channel) for m in messages}


def test_a_new_case_is_reminded_at_half_and_four_fifths_of_its_verify_limit(app):
    case = make_case()
    reminders = outbox(case, "reminder", "pending") + outbox(case, "reminder", "unread")
    received = case.received_at
    # (each at its whole second: RQ schedules by whole seconds)
    points = sorted({int((m.send_after - received).total_seconds()) for m in reminders})
    assert points == [15 * 60, 24 * 60]  # 50 % and 80 % of 30 minutes
    # To those who verify (the desk), by mail and in the portal.
    assert names(reminders) == {(u, c) for u in ("desk", "leader_cs") for c in ("email", "inapp")}
    breach = [t for t in timers(case) if t.kind == "breach"]
    assert len(breach) == 1 and breach[0].step == Step.VERIFY
    assert timedelta(0) <= breach[0].fire_at - case.due_at < timedelta(seconds=1)


def test_acting_on_the_step_cancels_its_unsent_reminders_and_its_breach(app):
    case = make_case()
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id)
    verify_rows = [m for m in outbox(case, "reminder") if ":remind:verify:" in m.key]
    assert verify_rows and {m.status for m in verify_rows} == {"cancelled"}
    pending = timers(case)
    assert [t.step for t in pending if t.kind == "breach"] == [Step.DISPATCH]
    # The dispatch step has its own reminders now.
    assert any(":remind:dispatch:" in m.key and m.status in ("pending", "unread") for m in outbox(case, "reminder"))
    later(31)  # past the old verify limit: nothing of it fires
    assert not [e for e in escalations(case) if e.step == Step.VERIFY]


def test_a_case_left_alone_climbs_the_ladder_once_per_level(app):
    case = make_case()
    later(31)
    first = escalations(case)
    assert [(e.level, e.trigger.value, e.step) for e in first] == [(1, "limit_passed", Step.VERIFY)]
    # Level 1 is the leader of the unit holding the step: 客服中心 (the desk's steps name none).
    assert {r["name"] for r in first[0].recipients} == {"郑华"}
    sent = db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.id.in_(first[0].message_ids))).scalars().all()
    assert names(sent) == {("leader_cs", "sms"), ("leader_cs", "email"), ("leader_cs", "inapp")}
    assert db.session.get(Case, case.id).ladder_level == 1
    later(59)
    assert len(escalations(case)) == 1  # level 2 waits 60 minutes after level 1
    later(2)
    levels = [(e.level, {r["name"] for r in e.recipients}) for e in escalations(case)]
    assert levels == [(1, {"郑华"}), (2, {"郑华", "张敏"})]
    later(121)
    assert [e.level for e in escalations(case)] == [1, 2, 3]
    assert {r["name"] for r in escalations(case)[-1].recipients} == {"林总"}
    later(600)
    # The top: the limit climbs no further (4 h after receipt the solution clock told the top again).
    assert [(e.level, e.trigger.value) for e in escalations(case)] == [
        (1, "limit_passed"), (2, "limit_passed"), (3, "limit_passed"), (3, "no_solution_4h")]
    assert db.session.get(Case, case.id).ladder_level == 3


def test_firing_one_timer_twice_or_at_once_acts_once(app):
    case = make_case()
    clock.travel(timedelta(minutes=31))
    breach = next(t for t in timers(case) if t.kind == "breach")
    assert fire_timer(breach.id).startswith("escalated")
    assert fire_timer(breach.id) == "skipped"
    case = db.session.get(Case, case.id)

    # Two workers on the same timer at the same moment (the sweep and its job).
    next_one = next(t for t in timers(case) if t.kind == "ladder")
    clock.travel(timedelta(minutes=61))
    outcomes = []

    def worker():
        with app.app_context():
            outcomes.append(fire_timer(next_one.id))
            db.session.remove()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[1] == "skipped" and sorted(outcomes)[0].startswith("escalated")
    assert [e.level for e in escalations(case)] == [1, 2]


def test_customer_rejecting_the_solution_escalates(app):
    case = make_case_at("implemented")
    ops.record_callback(case, user("rep_cd"), case.version, reached=True, satisfied=False, scores={},
                        comment="顾客认为补偿太少")
    [esc] = escalations(case)
    assert esc.trigger.value == "customer_rejected" and esc.level == 1


def test_media_threat_goes_straight_to_company_leadership(app):
    case = make_case(threatens_media=True)
    [esc] = escalations(case)
    assert esc.trigger.value == "media_threat" and esc.level == 3
    assert {r["name"] for r in esc.recipients} == {"林总"}
    assert db.session.get(Case, case.id).ladder_level == 3


def test_compensation_above_local_authority_goes_to_headquarters(app):
    case = make_case()
    to_investigating(case, klass=Klass.SERIOUS, cat="quality.foreign_object")
    propose(case, cash=5000)
    [esc] = escalations(case)
    assert esc.trigger.value == "above_authority" and esc.level == 2


def test_no_accepted_solution_within_four_hours_escalates_to_headquarters(app):
    case = make_case()
    to_investigating(case)
    later(4 * 60 + 1)
    solution = [e for e in escalations(case) if e.trigger.value == "no_solution_4h"]
    assert len(solution) == 1 and solution[0].level >= 2


def test_breach_action_repeat_reminds_every_n_minutes_until_done(app):
    short_policy(Step.VERIFY, 10, breach_action="repeat", repeat_minutes=5)
    case = make_case()
    later(11)
    later(5.5)
    repeats = [m for m in outbox(case, "reminder") if ":repeat:" in m.key and m.channel == "email"]
    assert len({m.key.split(":")[3] for m in repeats}) == 2  # two rounds, each once per person
    assert not escalations(case)
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id)
    later(30)
    assert len({m.key.split(":")[3] for m in outbox(case, "reminder") if ":repeat:" in m.key}) == 2


def test_breach_action_send_back_returns_the_case_to_the_desk(app):
    short_policy(Step.ACKNOWLEDGE, 15, breach_action="send_back")
    case = make_case()
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id)
    ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD1").id)
    later(16)
    fresh = db.session.get(Case, case.id)
    assert fresh.step == Step.DISPATCH and fresh.responsible_unit_id is None
    assert [t.step for t in timers(fresh) if t.kind == "breach"] == [Step.DISPATCH]


def test_breach_action_hand_to_leader_gives_the_step_to_the_leader(app):
    short_policy(Step.APPROVE, 60, breach_action="hand_to_leader")
    case = make_case_at("proposed")  # a major complaint waits for 生产一部's leader
    later(61)
    fresh = db.session.get(Case, case.id)
    assert fresh.step == Step.APPROVE and fresh.step_user_id == user("leader_prod1").id
    [esc] = escalations(fresh)
    assert "陈刚" in esc.reason


def test_the_sweep_fires_a_timer_whose_job_was_lost(app):
    case = make_case()
    clock.travel(timedelta(minutes=31))
    # No job ever ran (OUTBOX_DIRECT_DISABLED): the sweep finds the timer and fires it.
    assert sweep_timers(inline=True) >= 1
    assert [e.level for e in escalations(case)] == [1]
    assert sweep_timers(inline=True) == 0


def test_case_page_shows_the_level_why_and_who_was_told(app, as_user):
    case = make_case()
    later(31)
    html = as_user("desk").get(f"/cases/{case.number}").get_data(as_text=True)
    section = html[html.index('id="case-escalation"'):]
    section = section[:section.index("</section>")]
    assert "当前升级级别：第 1 级（责任部门领导）" in section
    assert "原因：「核实」已超过办理时限" in section
    assert "升级至第 1 级（责任部门领导）：超过办理时限" in section
    assert "郑华：邮件 待发送、站内消息 未读、短信 待发送" in section
    # The two reminders before it, to the desk, each with what became of it.
    assert section.count("提醒：【客诉提醒】") == 2
    assert "张敏：邮件 待发送、站内消息 未读" in section


def test_a_reminder_whose_mail_is_retried_later_stays_one_entry_at_its_time(app, as_user):
    """A failed mail is retried later (its send time moves): the case page still shows one
    entry per reminder point, dated when it was due, with each channel's outcome."""
    case = make_case()
    first = outbox(case, "reminder")[0]
    mails = [m for m in outbox(case, "reminder") if m.channel == "email"
             and m.key.rsplit(":", 2)[0] == first.key.rsplit(":", 2)[0]]
    planned = clock.fmt(first.send_after)
    for m in mails:
        m.status, m.attempts, m.send_after = "failed", 1, m.send_after + timedelta(minutes=5)
    db.session.commit()
    html = as_user("desk").get(f"/cases/{case.number}").get_data(as_text=True)
    section = html[html.index('id="case-escalation"'):]
    section = section[:section.index("</section>")]
    assert section.count("提醒：【客诉提醒】") == 2  # 50 % and 80 %, not a third for the retry
    assert "张敏：站内消息 未读、邮件 失败，待重试" in section
    assert planned in section


def test_an_escalation_by_the_clock_is_in_the_case_timeline_and_the_audit_chain(app, as_user):
    from portal.signing.audit import verify_chain
    from portal.signing.models import AuditEvent
    case = make_case()
    later(31)
    event = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action == "escalated")).scalar_one()
    assert event.actor_id is None and event.after["ladder_level"] == 1
    html = as_user("desk").get(f"/cases/{case.number}").get_data(as_text=True)
    timeline = html[html.index("处理记录"):]
    assert "系统" in timeline and "升级" in timeline and "第 1 级（责任部门领导）" in timeline
    assert verify_chain()[0]


def test_a_new_case_page_says_not_escalated(app, as_user):
    case = make_case()
    html = as_user("desk").get(f"/cases/{case.number}").get_data(as_text=True)
    assert "未升级" in html and "提醒：【客诉提醒】" in html


def test_every_reminder_and_escalation_sms_fits_one_segment(app):
    from portal.escalation import messages
    from portal.escalation.enums import Trigger
    from portal.escalation.operations import REASONS
    from portal.notify.templates import TEXT_LIMIT
    from portal.steps import Clock
    case = make_case()
    case.number = "KS2026-999999"
    longest_step = max(list(Step) + list(Clock), key=lambda s: len(s._zh))
    texts = [messages.reminder(case, longest_step, 80, case.due_at)[2],
             messages.repeated(case, longest_step, 99)[2], messages.clock_task(case, longest_step)[2]]
    for trigger, reason in REASONS.items():
        texts.append(messages.escalation(case, 3, "客服经理/总部投诉专席", reason.format(step=longest_step._zh))[2])
    texts.append(messages.escalation(case, 3, "x", "", overdue_step=longest_step)[2])
    db.session.rollback()
    assert all(len(t) <= TEXT_LIMIT for t in texts), [t for t in texts if len(t) > TEXT_LIMIT]


# ---------------------------------------------------------------- the admin page

def test_admin_edits_the_ladder_and_the_next_escalation_follows_it(app, as_user):
    from portal.escalation.models import LadderLevel
    from tests.conftest import csrf_from
    admin = as_user("admin")
    page = admin.get("/admin/ladder").get_data(as_text=True)
    assert "第 1 级：责任部门领导" in page and "第 3 级：公司领导" in page
    token = csrf_from(admin, "/admin/ladder")
    level1 = db.session.execute(sa.select(LadderLevel).where(LadderLevel.level == 1)).scalar_one()
    # A named person for cases of one product, by SMS only.
    from portal.batches.models import Product
    dumplings = db.session.execute(sa.select(Product).where(Product.code == "P001")).scalar_one()
    resp = admin.post(f"/admin/ladder/levels/{level1.id}/recipients", data={
        "csrf_token": token, "who": "user", "user_id": str(user("leader_qa").id),
        "product_id": str(dumplings.id), "channels": ["sms"]})
    assert resp.status_code in (302, 303)
    case = make_case(product_id=dumplings.id)
    other = make_case(product_name="黑芝麻汤圆", batch_no=None)  # (the default batch is of 三鲜水饺)
    later(31)
    first = {r["name"] for r in escalations(case)[0].recipients}
    assert first == {"郑华", "王军"}
    assert {r["name"] for r in escalations(other)[0].recipients} == {"郑华"}


def test_admin_ladder_refuses_bad_input_and_saves_nothing(app, as_user):
    from portal.escalation.models import LadderLevel, LadderRecipient
    from tests.conftest import count, csrf_from
    admin = as_user("admin")
    token = csrf_from(admin, "/admin/ladder")
    level2 = db.session.execute(sa.select(LadderLevel).where(LadderLevel.level == 2)).scalar_one()
    resp = admin.post(f"/admin/ladder/levels/{level2.id}", data={
        "csrf_token": token, "name": "客服经理", "after_minutes": "-5", "active": "1"})
    assert resp.status_code == 400 and "间隔不能为负数。" in resp.get_data(as_text=True)
    before = count(LadderRecipient)
    resp = admin.post(f"/admin/ladder/levels/{level2.id}/recipients", data={
        "csrf_token": token, "who": "role", "role": "leader"})
    assert resp.status_code == 400 and "请至少选择一种通知方式。" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(LadderLevel, level2.id).after_minutes == 60 and count(LadderRecipient) == before
    assert as_user("desk").get("/admin/ladder").status_code == 403


def test_ladder_page_and_case_history_in_english_have_no_chinese_but_the_data(app):
    import re
    from tests.conftest import csrf_from, leftover_chinese, signed_in, stored_texts
    case = make_case()
    later(31)
    client, _ = signed_in(app, "admin")
    client.get("/lang/en")
    desk, _ = signed_in(app, "desk")
    desk.get("/lang/en")
    level2 = db.session.execute(sa.select(CaseEscalation)).scalars().first()
    data = stored_texts()
    pages = {"ladder": client.get("/admin/ladder").get_data(as_text=True),
             "refused": client.post("/admin/ladder/levels", data={
                 "csrf_token": csrf_from(client, "/admin/ladder"), "name": "", "after_minutes": "x"}
             ).get_data(as_text=True)}
    html = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    pages["case"] = html[html.index('id="case-escalation"'):html.index("</section>", html.index('id="case-escalation"'))]
    assert level2 is not None and "Escalation level 1" in pages["case"]
    problems = {}
    for name, page in pages.items():
        main = re.search(r'<main id="main".*?</main>', page, re.S)
        if left := leftover_chinese(main.group(0) if main else page, data):
            problems[name] = left
    assert not problems, problems


def test_waiting_on_the_submitter_stops_the_solution_clock(app):
    from portal.sla.pauses import case_pauses
    case = make_case()
    ops.request_info(case, user("desk"), case.version, question="请补拍包装上的批号")
    assert [p.ended_at for p in case_pauses(case.id)] == [None]
    later(3 * 60)  # three hours waiting on the rep: they do not count
    ops.supply_info(case, user("rep_cd"), case.version, reply="已补拍")
    to_investigating(case)
    later(60 + 5)  # 4 h 5 min after receipt, of which 3 h paused
    assert not [e for e in escalations(case) if e.trigger.value == "no_solution_4h"]
    later(3 * 60)
    assert len([e for e in escalations(case) if e.trigger.value == "no_solution_4h"]) == 1


def test_open_cases_from_before_the_ladder_are_scheduled_once_by_the_command(app, runner):
    case = make_case()
    # As a case registered before this release: no timers, no reminders.
    db.session.execute(sa.delete(CaseTimer))
    db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.kind == "reminder"))
    db.session.commit()
    result = runner.invoke(args=["ladder-schedule"])
    assert "已为 1 件在办投诉安排提醒和超时升级。" in result.output
    assert "已为 0 件" in runner.invoke(args=["ladder-schedule"]).output
    assert [t.kind for t in timers(case)] == ["breach"]
    later(31)
    assert [e.level for e in escalations(case)] == [1]


def test_desk_escalates_by_hand_with_a_reason_one_level_at_a_time(app):
    from tests.conftest import signed_in
    case = make_case()
    desk, token = signed_in(app, "desk")
    refused = desk.post(f"/cases/{case.number}/escalate", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 400 and "请写明升级原因。" in refused.get_data(as_text=True)
    assert escalations(case) == []
    page = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "手动升级至第 1 级（责任部门领导）" in page
    for level in (1, 2, 3):
        resp = desk.post(f"/cases/{case.number}/escalate", data={"csrf_token": token, "reason": "顾客第三次来电投诉"})
        assert resp.status_code in (302, 303)
    esc = escalations(case)
    assert [(e.level, e.trigger.value, e.actor.username) for e in esc] == [
        (1, "manual", "desk"), (2, "manual", "desk"), (3, "manual", "desk")]
    assert esc[0].reason == "张敏手动升级：顾客第三次来电投诉"
    top = desk.post(f"/cases/{case.number}/escalate", data={"csrf_token": token, "reason": "再升"})
    assert top.status_code == 400 and "已在最高一级" in top.get_data(as_text=True)
    page = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "手动升级至第" not in page and page.count("手动升级") >= 3  # the timeline names each
    rep, rep_token = signed_in(app, "rep_cd")
    assert rep.post(f"/cases/{case.number}/escalate", data={"csrf_token": rep_token, "reason": "x"}).status_code == 403


def test_the_solution_clock_reminds_whoever_holds_the_case_at_half_and_four_fifths(app):
    case = make_case()
    to_investigating(case)  # 生产一部 holds it now
    later(2 * 60 + 1)  # half of the 4 hours
    rows = [m for m in outbox(case, "reminder") if ":clockremind:" in m.key and m.channel == "email"]
    assert [(m.recipient.username, m.subject) for m in rows] == [
        ("handler_prod1", f"【客诉提醒】{case.number}「方案获顾客接受」时限已过50%")]
    propose(case)  # a solution within the department's authority: the clock stops
    later(2 * 60)
    assert len([m for m in outbox(case, "reminder") if ":clockremind:" in m.key and m.channel == "email"]) == 1
    assert not [e for e in escalations(case) if e.trigger.value == "no_solution_4h"]

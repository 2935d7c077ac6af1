"""Sending a case to its department: never to a department with nobody in it, on to another
department when it went to the wrong one (改派), and with quality naming the department by
hand when the batch register does not know the batch."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from portal import clock
from portal.cases import operations as ops
from portal.cases.enums import Kind, Klass, Validity
from portal.cases.models import Case
from portal.cases.states import State, Step
from portal.clock import as_utc
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.sla.policy import step_due
from tests.conftest import (category, csrf_from, footprint, last_event, make_case, make_case_at,
                            post_step, signed_in, unit, user)


def as_(app, username: str):
    """A signed-in client and the CSRF token of its session as a page gives it after login."""
    client, _ = signed_in(app, username)
    return client, csrf_from(client, "/work")


def fresh(case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def mails_to(username: str, case) -> list[OutboxMessage]:
    """The step mails (not the bell's copies, nor reminders written ahead)."""
    return db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.recipient_id == user(username).id,
        OutboxMessage.channel == "email", OutboxMessage.kind == "step")).scalars().all()


def option(html: str, unit_name: str) -> str:
    """The <option> of a department in a picker, as drawn."""
    m = re.search(r"<option[^>]*>\s*" + re.escape(unit_name) + r"[^<]*</option>", html)
    assert m, f"no option for {unit_name}"
    return m.group(0)


# ---------------------------------------------------------------- a step never waits on nobody

def test_dispatch_to_a_department_without_handlers_is_refused_by_name(app):
    case = make_case_at("verified")
    client, token = as_(app, "desk")
    before, messages = footprint(case), outbox_count(case)
    resp = post_step(client, token, case, "dispatch", unit_id=str(unit("TECH").id))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "「技术中心」目前没有在岗的经办人，分派后无人接手。" in html
    assert footprint(case) == before and outbox_count(case) == messages


def outbox_count(case) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.case_id == case.id)).scalar_one()


def test_a_deactivated_handler_leaves_the_department_empty(app):
    case = make_case_at("verified")
    user("handler_logistics").active = False
    db.session.commit()
    try:
        ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("LOG").id)
    except ops.ValidationError as exc:
        assert "「储运部」目前没有在岗的经办人" in exc.message
    else:
        raise AssertionError("dispatched to a department whose only handler is inactive")


def test_dispatch_picker_marks_departments_without_handlers(app):
    case = make_case_at("verified")
    client, _ = as_(app, "desk")
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    empty = option(html, "技术中心")
    assert "技术中心（无在岗经办人）" in empty and "disabled" in empty
    staffed = option(html, "生产二部")
    assert "无在岗经办人" not in staffed and "disabled" not in staffed


# ---------------------------------------------------------------- batch missing from the register

def verified_with_unknown_batch():
    case = make_case(batch_no="ZZ-404")
    return ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                           klass=Klass.GENERAL, category_id=category("quality.taste").id)


def test_quality_names_the_department_by_hand_and_dispatch_suggests_it(app):
    case = verified_with_unknown_batch()
    client, token = as_(app, "quality")
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "批次档案中查不到时：人工指定生产部门" in page
    resp = post_step(client, token, case, "trace_batch", unit_id=str(unit("PROD2").id), line="3号线",
                     reason="包装喷码格式为二部三号线所用")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    case = fresh(case)
    assert case.suggested_unit_id == unit("PROD2").id and case.step == Step.DISPATCH
    event = last_event(case)
    assert event.action == "batch_assigned" and event.actor_id == user("quality").id
    assert event.note == "生产二部 3号线：包装喷码格式为二部三号线所用"
    desk, _ = as_(app, "desk")
    html = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "批号追溯建议：生产二部（生产二部 3号线：包装喷码格式为二部三号线所用）" in html
    assert "selected" in option(html, "生产二部")  # the dispatch picker starts on it
    assert "人工指定生产部门" in html  # the timeline


def test_naming_the_department_by_hand_needs_a_reason(app):
    case = verified_with_unknown_batch()
    client, token = as_(app, "quality")
    before = footprint(case)
    resp = post_step(client, token, case, "trace_batch", unit_id=str(unit("PROD2").id), reason="")
    assert resp.status_code == 400 and "请补全必填项：判断依据" in resp.get_data(as_text=True)
    assert footprint(case) == before


# ---------------------------------------------------------------- re-dispatch (改派)

def test_handler_sends_a_case_on_to_the_right_department(app):
    case = make_case_at("dispatched")  # at 生产一部, waiting for its first follow-up
    clock.travel(timedelta(hours=2))
    client, token = as_(app, "handler_prod1")
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "改派到其他部门" in page and "生产一部" not in option_list(page, "redispatch-unit_id")
    resp = post_step(client, token, case, "redispatch", unit_id=str(unit("PROD2").id),
                     reason="汤圆是生产二部的产品")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/work")  # no longer theirs
    case = fresh(case)
    assert (case.state, case.step) == (State.INVESTIGATING, Step.ACKNOWLEDGE)
    assert case.responsible_unit_id == case.step_unit_id == unit("PROD2").id
    # The new department gets a fresh limit for its first follow-up, from now, and is told.
    assert as_utc(case.due_at) == step_due(Step.ACKNOWLEDGE, as_utc(case.step_started_at), case.klass,
                                           case.channel)
    assert as_utc(case.step_started_at) > clock.utcnow() - timedelta(minutes=5)
    assert [m.subject for m in mails_to("handler_prod2", case)] == [f"【客诉】{case.number} 待您首次跟进"]
    event = last_event(case)
    assert event.action == "redispatched" and event.note == "生产一部 → 生产二部：汤圆是生产二部的产品"
    assert client.get(f"/cases/{case.number}").status_code == 404  # 生产一部 sees it no more
    other, _ = as_(app, "handler_prod2")
    html = other.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "改派责任部门" in html and "汤圆是生产二部的产品" in html  # the reason in the timeline
    assert 'id="panel-acknowledge"' in html


def option_list(html: str, select_name: str) -> str:
    m = re.search(r'<select[^>]*name="' + re.escape(select_name) + r'".*?</select>', html, re.S)
    assert m, f"no select {select_name}"
    return m.group(0)


def test_desk_redispatches_after_the_investigation_began(app):
    case = make_case_at("acknowledged")
    resp = post_step(*as_(app, "desk"), case, "redispatch", unit_id=str(unit("LOG").id),
                     user_id=str(user("handler_logistics").id), reason="运输途中挤压破损，属储运部")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/cases/{case.number}")
    case = fresh(case)
    assert case.step == Step.ACKNOWLEDGE and case.acknowledged_at is None  # 储运部 acknowledges afresh
    assert case.responsible_user_id == case.step_user_id == user("handler_logistics").id
    assert mails_to("handler_logistics", case)


def test_redispatch_to_a_department_without_handlers_is_refused(app):
    case = make_case_at("dispatched")
    client, token = as_(app, "desk")
    before = footprint(case)
    resp = post_step(client, token, case, "redispatch", unit_id=str(unit("TECH").id), reason="技术问题")
    assert resp.status_code == 400 and "「技术中心」目前没有在岗的经办人" in resp.get_data(as_text=True)
    assert footprint(case) == before


def test_redispatch_is_not_offered_once_a_solution_is_proposed(app):
    case = make_case_at("proposed")
    client, token = as_(app, "desk")
    assert 'id="panel-redispatch"' not in client.get(f"/cases/{case.number}").get_data(as_text=True)
    resp = post_step(client, token, case, "redispatch", unit_id=str(unit("PROD2").id), reason="错了")
    assert resp.status_code == 409

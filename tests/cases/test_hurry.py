"""催办: the desk or a leader presses for the current step; its holders are told by SMS, email
and in the bell, the press is in the timeline, and presses are a cool-down apart."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.cases.enums import Kind, Klass, Validity
from portal.cases.hurry import NOTE_MAX, hurry_case, messages
from portal.errors import Conflict
from portal.extensions import db
from portal.notify.customer import short_time
from portal.notify.models import OutboxMessage
from portal.signing.models import AuditEvent
from tests.conftest import category, make_case, make_case_at, signed_in, unit, user


def dispatched():
    from portal.cases import operations as ops
    case = make_case()
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id)
    return ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD1").id)


def hurries(case) -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.kind == "hurry")
        .order_by(OutboxMessage.id)).scalars().all()


def press(client, token, case, step="acknowledge", note="顾客再次来电催问", **headers):
    return client.post(f"/cases/{case.number}/hurry", headers=headers,
                       data={"csrf_token": token, "hurry-step": step, "hurry-note": note})


def test_desk_hurries_the_department_by_sms_mail_and_bell_and_the_timeline_says_so(app):
    case = dispatched()
    desk, token = signed_in(app, "desk")
    page = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'id="panel-hurry"' in page and "赵磊" in page  # who would be told

    resp = press(desk, token, case)
    assert resp.status_code == 303
    rows = hurries(case)
    handler = user("handler_prod1")
    assert {(m.recipient_id, m.channel) for m in rows} == {(handler.id, "sms"), (handler.id, "email"),
                                                           (handler.id, "inapp")}
    sms = next(m for m in rows if m.channel == "sms")
    assert sms.address == handler.phone
    assert sms.body == f"催办：张敏催您办理投诉{case.number}「首次跟进」，时限{short_time(case.due_at)}。"
    mail = next(m for m in rows if m.channel == "email")
    assert "张敏" in mail.body and "顾客再次来电催问" in mail.body and mail.status == "pending"

    event = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action == "hurry")).scalar_one()
    assert event.actor_name == "张敏" and event.note == "催办 赵磊：顾客再次来电催问"
    page = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    timeline = page.split('class="timeline"', 1)[1]
    assert "催办" in timeline and "催办 赵磊：顾客再次来电催问" in timeline
    # The case itself is unchanged: nobody's open form goes stale because of a press.
    assert db.session.get(type(case), case.id).version == case.version


def test_a_second_press_waits_for_the_cool_down(app):
    case = dispatched()
    desk, token = signed_in(app, "desk")
    assert press(desk, token, case).status_code == 303
    assert len(hurries(case)) == 3

    # Another desk person, a minute later: refused, with when it may be pressed again.
    clock.travel(timedelta(minutes=1))
    leader, token2 = signed_in(app, "leader_cs")
    page = leader.get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'id="hurry-wait"' in page and "后可再次催办" in page and 'action="/cases/' + case.number + '/hurry"' not in page
    resp = press(leader, token2, case)
    assert resp.status_code == 409
    assert "张敏 已于" in resp.get_data(as_text=True) and "后可再次催办" in resp.get_data(as_text=True)
    assert len(hurries(case)) == 3

    clock.travel(timedelta(minutes=30))
    assert press(leader, token2, case, note="").status_code == 303
    assert len(hurries(case)) == 6


def test_a_new_step_may_be_hurried_at_once(app):
    from portal.cases import operations as ops
    case = dispatched()
    desk, token = signed_in(app, "desk")
    assert press(desk, token, case).status_code == 303
    ops.acknowledge_case(case, user("handler_prod1"), case.version)
    assert press(desk, token, case, step="investigate").status_code == 303
    assert len(hurries(case)) == 6


def test_a_page_showing_an_older_step_is_told_the_case_moved_on(app):
    from portal.cases import operations as ops
    case = dispatched()
    desk, token = signed_in(app, "desk")
    ops.acknowledge_case(case, user("handler_prod1"), case.version)
    resp = press(desk, token, case, step="acknowledge")
    assert resp.status_code == 409 and "当前待办已变为「调查并提出方案」" in resp.get_data(as_text=True)
    assert hurries(case) == []


def test_htmx_press_swaps_the_case_body_with_the_press_in_it(app):
    case = dispatched()
    ceo, token = signed_in(app, "ceo")  # a company leader sees every case
    resp = press(ceo, token, case, **{"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and html.startswith('<div id="case-main">')
    assert "已催办：赵磊。" in html and 'id="hurry-wait"' in html and "林总 已于" in html


@pytest.mark.parametrize("username", ["handler_prod1", "rep_cd", "quality"])
def test_only_desk_and_leaders_may_hurry(app, username):
    case = dispatched()
    client, token = signed_in(app, username)
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'id="panel-hurry"' not in page
    assert press(client, token, case).status_code == 403
    assert hurries(case) == []


def test_a_leader_hurries_only_cases_they_can_see(app):
    case = dispatched()  # 生产一部's case
    other, token = signed_in(app, "leader_logistics")
    assert press(other, token, case).status_code == 404
    assert hurries(case) == []


def test_closed_case_is_not_hurried(app):
    case = make_case_at("closed")
    desk, token = signed_in(app, "desk")
    assert 'id="panel-hurry"' not in desk.get(f"/cases/{case.number}").get_data(as_text=True)
    resp = press(desk, token, case, step="sign_off")
    assert resp.status_code == 409 and "已办结，无需催办" in resp.get_data(as_text=True)


def test_a_long_remark_is_refused_and_nothing_is_written(app):
    case = dispatched()
    desk, token = signed_in(app, "desk")
    resp = press(desk, token, case, note="催" * (NOTE_MAX + 1))
    assert resp.status_code == 400 and "附言" in resp.get_data(as_text=True)
    assert hurries(case) == []
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "hurry")).scalar_one() == 0


def test_two_presses_at_the_same_moment_tell_the_holders_once(app):
    """Two desk people press at once: the case row serialises them, the second is refused."""
    case = dispatched()
    case_id = case.id
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes = []

    def one(username):
        with app.app_context():
            from portal.cases.models import Case
            c = db.session.get(Case, case_id)
            actor = user(username)
            barrier.wait()
            try:
                hurry_case(c, actor, step="acknowledge", note=None)
                outcomes.append("told")
            except Conflict:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=(name,)) for name in ("desk", "leader_cs")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["refused", "told"]
    from portal.cases.models import Case
    assert len(hurries(db.session.get(Case, case_id))) == 3


def test_hurry_sms_fits_one_segment_with_the_longest_values(app):
    from portal.cases.models import Case
    from portal.cases.states import Step
    from portal.org.models import User
    case = Case(number="KS2026-999999", customer_name="欧阳" * 16, product_name="品" * 100,
                step=Step.INVESTIGATE, due_at=clock.utcnow() - timedelta(hours=1))
    actor = User(name="长" * 64, unit=None)
    for step in Step:
        case.step = step
        _subject, _body, sms = messages(case, actor, "附" * NOTE_MAX, clock.utcnow())
        assert len("【示例食品股份有限】" + sms) <= 70, (step, len(sms), sms)
        assert case.number in sms and sms.startswith("催办：长")


def test_a_leader_holding_the_step_alone_sees_no_hurry_panel(app):
    case = make_case_at("proposed")  # waits for 生产一部's leader's decision
    leader, _token = signed_in(app, "leader_prod1")
    page = leader.get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'id="panel-approve"' in page and 'id="panel-hurry"' not in page
    desk, _token = signed_in(app, "desk")
    page = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'id="panel-hurry"' in page and "陈刚" in page.split('id="panel-hurry"', 1)[1].split("</section>", 1)[0]


def test_the_hurry_panel_and_its_refusal_read_in_english(app):
    from tests.conftest import leftover_chinese, stored_texts
    case = dispatched()
    desk, token = signed_in(app, "desk")
    page = desk.get(f"/cases/{case.number}?lang=en").get_data(as_text=True)
    panel = page.split('id="panel-hurry"', 1)[1].split("</section>", 1)[0]
    assert "Hurry" in panel and not leftover_chinese(panel, stored_texts())
    assert press(desk, token, case).status_code == 303
    page = desk.get(f"/cases/{case.number}?lang=en").get_data(as_text=True)
    panel = page.split('id="panel-hurry"', 1)[1].split("</section>", 1)[0]
    assert "can be hurried again after" in panel and not leftover_chinese(panel, stored_texts())
    resp = desk.post(f"/cases/{case.number}/hurry?lang=en",
                     data={"csrf_token": token, "hurry-step": "acknowledge", "hurry-note": ""})
    assert resp.status_code == 409 and "can be hurried again after" in resp.get_data(as_text=True)

"""现场处理 (PROCEDURES.md §7): a rep settles within their own authority right after intake; the
case goes straight to the desk's callback and then to sign-off. Beyond that authority the rep
is told which rule stops it, and the case goes the normal way, untouched."""
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.cases import operations as ops
from portal.cases import queries
from portal.cases.enums import Klass, SettlementForm
from portal.cases.states import State, Step
from portal.errors import PermissionDenied, ValidationError
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.org.models import User
from tests.conftest import (FORMS, PASSWORD, category, footprint, last_event, make_case, post_step,
                            propose, signed_in, unit, user)


def settle(case, username="rep_cd", klass=Klass.GENERAL, cat="quality.taste", **amounts):
    return ops.settle_on_spot(case, user(username), case.version, klass=klass,
                              category_id=category(cat).id, solution_form=SettlementForm.PRODUCT,
                              text="当场赔偿同款水饺两袋，顾客接受", **amounts)


def recipients(case, step: Step) -> set[str]:
    return set(db.session.execute(
        sa.select(User.username).join(OutboxMessage, OutboxMessage.recipient_id == User.id)
        .where(OutboxMessage.case_id == case.id, OutboxMessage.key.like(f"%:step:{step.value}:%"))).scalars())


def in_my_work(username: str, case) -> bool:
    return any(r.id == case.id for r in queries.inbox(user(username), limit=1000))


def test_settlement_within_authority_goes_straight_to_the_desks_callback(app):
    case = settle(make_case(), multiple=Decimal("2"))
    assert case.state == State.CONFIRMING and case.step == Step.CALLBACK
    assert case.settled_on_spot and case.klass == Klass.GENERAL and not case.needs_approval
    assert case.responsible_unit.name == "成都分公司"
    assert last_event(case).action == "settled_on_spot"
    assert "desk" in recipients(case, Step.CALLBACK) and "rep_cd" not in recipients(case, Step.CALLBACK)
    assert in_my_work("desk", case) and not in_my_work("rep_cd", case)
    # The rep does not confirm their own settlement: the desk calls the customer.
    assert "callback" not in ops.available(case, user("rep_cd"))
    with pytest.raises(PermissionDenied):
        ops.record_callback(case, user("rep_cd"), case.version, reached=True, satisfied=True,
                            scores={}, comment=None)
    db.session.rollback()


def test_settled_case_is_signed_off_as_usual(app):
    case = settle(make_case(), multiple=Decimal("2"))
    ops.record_callback(case, user("desk"), case.version, reached=True, satisfied=True,
                        scores={"score_quality": 5}, comment=None)
    assert case.step == Step.SIGN_OFF
    # A branch has no leader of its own: the sign-off waits for the company leader.
    assert recipients(case, Step.SIGN_OFF) == {"ceo"} and in_my_work("ceo", case)
    ops.sign_off_case(case, user("ceo"), case.version, password=PASSWORD)
    assert case.state == State.CLOSED


@pytest.mark.parametrize("klass, cat, amounts, rule", [
    pytest.param(Klass.GENERAL, "quality.taste", {"multiple": Decimal("3")},
                 "产品赔偿倍数 1:3 超过一般类上限 1:2", id="general-3x"),
    pytest.param(Klass.GENERAL, "quality.taste", {"cash": Decimal("50")},
                 "现金补偿 50.00 元超过一般类权限（0 元）", id="general-cash"),
    pytest.param(Klass.MAJOR, "quality.foreign_object", {"multiple": Decimal("1")},
                 "主要类投诉须经领导批示", id="major"),
])
def test_beyond_authority_says_which_rule_and_changes_nothing(app, klass, cat, amounts, rule):
    case = make_case()
    before = footprint(case)
    with pytest.raises(ValidationError) as exc:
        settle(case, klass=klass, cat=cat, **amounts)
    db.session.rollback()
    assert rule in exc.value.message and "按正常流程" in exc.value.message
    assert footprint(case) == before


def test_rep_of_another_branch_or_the_desk_cannot_settle(app):
    case = make_case()
    for name in ("rep_zz", "desk"):
        with pytest.raises(PermissionDenied):
            settle(case, username=name, multiple=Decimal("2"))
        db.session.rollback()


def test_only_right_after_intake(app):
    from portal.cases.enums import Kind, Validity
    case = make_case()
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id)
    assert "settle" not in ops.available(case, user("rep_cd"))


def test_rep_settles_from_the_case_page(app, as_user):
    case = make_case()
    html = as_user("rep_cd").get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'id="panel-settle"' in html
    assert 'id="panel-settle"' not in as_user("desk").get(f"/cases/{case.number}").get_data(as_text=True)

    client, token = signed_in(app, "rep_cd")
    resp = post_step(client, token, case, "settle", **{**FORMS["settle"](), "multiple": "5"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "超出业务员现场处理权限：产品赔偿倍数 1:5 超过一般类上限 1:2" in html
    assert "当场赔偿同款水饺两袋" in html  # what the rep typed is still there

    resp = post_step(client, token, case, "settle", **FORMS["settle"]())
    assert resp.status_code == 303
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "待回访确认" in html and "业务员现场处理" in html
    assert "业务员在权限内现场处理，由客服回访确认" in html


def test_settle_panel_in_english(app, as_user):
    import re
    case = make_case()
    client = as_user("rep_cd")
    client.get("/lang/en")
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    panel = html.split('id="panel-settle"', 1)[1].split("</section>", 1)[0]
    assert "On-the-spot settlement" in panel and "Record the settlement" in panel
    # Category names are data (Chinese); every word of the panel itself is English.
    words = re.sub(r"<option[^>]*>[^<]*</option>", "", panel)
    assert not re.search(r"[\u4e00-\u9fff]", re.sub(r"<[^>]+>", "", words)), panel


# ---------------------------------------------------------------- the settlement does not hold

def unsatisfied(case, comment="顾客仍不满意，要求查明原因"):
    return ops.record_callback(case, user("desk"), case.version, reached=True, satisfied=False,
                               scores={"score_quality": 2}, comment=comment)


def assert_waits_for_dispatch(case):
    """At the desk's dispatch, with its own limit, the desk told; no longer the branch's."""
    from portal.clock import as_utc
    from portal.sla.policy import step_due
    assert case.state == State.VERIFIED and case.step == Step.DISPATCH
    assert as_utc(case.due_at) == as_utc(step_due(Step.DISPATCH, as_utc(case.step_started_at),
                                                  case.klass, case.channel))
    assert case.responsible_unit_id is None and not case.settled_on_spot
    assert "desk" in recipients(case, Step.DISPATCH) and in_my_work("desk", case)
    assert "dispatch" in ops.available(case, user("desk"))


def test_unsatisfied_customer_sends_the_settled_case_to_the_desk_for_dispatch(app):
    # The branch answered for the settlement, but it has no handlers to investigate.
    case = unsatisfied(settle(make_case(), multiple=Decimal("2")))
    assert_waits_for_dispatch(case)
    assert case.callback_rejections == 1
    event = last_event(case)
    assert event.action == "callback_unsatisfied"
    assert event.note == "顾客仍不满意，要求查明原因\n现场处理未能解决，转客服分派责任部门调查"

    # From there the ordinary way: a department takes it, and the rep may call back again.
    ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD1").id)
    assert in_my_work("handler_prod1", case) and "handler_prod1" in recipients(case, Step.ACKNOWLEDGE)
    ops.acknowledge_case(case, user("handler_prod1"), case.version)
    propose(case)
    ops.record_implementation(case, user("handler_prod1"), case.version, text="上门更换产品")
    assert "callback" in ops.available(case, user("rep_cd"))


def test_reopened_settled_case_goes_to_the_desk_for_dispatch(app):
    case = settle(make_case(), multiple=Decimal("2"))
    ops.record_callback(case, user("desk"), case.version, reached=True, satisfied=True,
                        scores={"score_quality": 5}, comment=None)
    ops.sign_off_case(case, user("ceo"), case.version, password=PASSWORD)
    ops.reopen_case(case, user("desk"), case.version, reason="顾客再次来电，同批产品仍有异味")
    assert_waits_for_dispatch(case)
    assert case.reopen_count == 1 and case.closed_at is None and case.callback_rejections == 0
    assert last_event(case).note == "顾客再次来电，同批产品仍有异味\n现场处理未能解决，转客服分派责任部门调查"


def test_desk_sees_why_the_settled_case_is_back(app, as_user):
    case = settle(make_case(), multiple=Decimal("2"))
    client, token = signed_in(app, "desk")
    resp = post_step(client, token, case, "callback", reached="yes", satisfied="no",
                     comment="顾客说赔偿的也有异味")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "待分派" in html and 'id="panel-dispatch"' in html
    assert "回访：顾客不满意，退回重新处理" in html and "现场处理未能解决，转客服分派责任部门调查" in html

"""The workflow as the procedure describes it, at the domain layer."""
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.cases import operations as ops
from portal.cases.compensation import reason_texts
from portal.cases.enums import Kind, Klass, Responsibility, SettlementForm, Validity
from portal.cases.models import Case
from portal.cases.states import State, Step
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.extensions import db
from portal.signing.audit import verify_chain
from portal.signing.models import Signature
from tests.conftest import category, make_case, propose, to_investigating, unit, user


def test_intake_numbers_case_and_waits_for_desk_verification(app):
    case = make_case()
    assert case.number.startswith("KS20") and case.number.endswith("000001")
    assert case.state == State.NEW and case.step == Step.VERIFY and case.due_at is not None
    assert case.branch.name == "成都分公司"
    assert case.suggested_unit.name == "生产一部"  # traced from the batch number at intake


def test_general_case_within_authority_skips_leader(app):
    case = to_investigating(make_case())
    propose(case, multiple=Decimal("2"))
    assert case.state == State.APPROVED and case.step == Step.IMPLEMENT and not case.needs_approval


def test_major_case_needs_leader_and_shows_the_rule(app):
    case = to_investigating(make_case(), klass=Klass.MAJOR, cat="quality.foreign_object")
    propose(case, cash=Decimal("500"))
    assert case.state == State.PROPOSED and case.step == Step.APPROVE
    texts = reason_texts(case.approval_reasons)
    assert any("主要类" in r for r in texts)
    assert any("500.00" in r for r in texts)


def test_cash_above_minor_limit_needs_approval(app):
    case = to_investigating(make_case(), klass=Klass.MINOR, cat="quality.packaging")
    propose(case, cash=Decimal("150"))
    assert case.state == State.PROPOSED
    # Stored as a code with parameters (countable, translatable), read as the rule's sentence.
    assert case.approval_reasons == [{"code": "cash_over_limit",
                                      "params": {"klass": "minor", "cash": "150.00", "limit": "100"}}]
    assert reason_texts(case.approval_reasons) == ["现金补偿 150.00 元超过次要类权限（100 元）"]


def test_wrong_password_signs_nothing(app):
    case = to_investigating(make_case(), klass=Klass.MAJOR, cat="quality.foreign_object")
    propose(case)
    with pytest.raises(ValidationError, match="密码不正确"):
        ops.approve_proposal(case, user("leader_prod1"), case.version, password="wrong")
    db.session.rollback()
    case = db.session.get(Case, case.id)
    assert case.state == State.PROPOSED
    assert db.session.execute(sa.select(sa.func.count()).select_from(Signature)).scalar() == 0


def test_full_loop_with_unsatisfied_customer_and_reopen(app):
    case = to_investigating(make_case(), klass=Klass.MAJOR, cat="quality.foreign_object")
    propose(case)
    ops.approve_proposal(case, user("leader_prod1"), case.version, password="demo1234", comment="同意")
    ops.record_implementation(case, user("handler_prod1"), case.version, text="已上门赔偿两袋")
    assert case.step == Step.CALLBACK
    ops.record_callback(case, user("rep_cd"), case.version, reached=True, satisfied=False,
                        scores={"score_quality": 2}, comment="顾客认为赔偿太少")
    assert case.state == State.INVESTIGATING and case.callback_rejections == 1
    propose(case, multiple=Decimal("5"))
    ops.approve_proposal(case, user("leader_prod1"), case.version, password="demo1234")
    ops.record_implementation(case, user("handler_prod1"), case.version, text="补发产品")
    ops.record_callback(case, user("desk"), case.version, reached=True, satisfied=True,
                        scores={"score_quality": 5, "score_speed": 4}, comment=None)
    assert case.step == Step.SIGN_OFF
    ops.sign_off_case(case, user("leader_prod1"), case.version, password="demo1234")
    assert case.state == State.CLOSED and case.closed_at is not None
    ops.reopen_case(case, user("desk"), case.version, reason="顾客再次投诉同一问题")
    assert case.state == State.INVESTIGATING and case.reopen_count == 1
    ok, message = verify_chain()
    assert ok, message


def test_stale_version_is_a_conflict(app):
    case = make_case()
    old = case.version
    ops.verify_case(case, user("desk"), old, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id)
    with pytest.raises(Conflict, match="已被他人修改"):
        ops.dispatch_case(case, user("desk"), old, unit_id=unit("PROD1").id)


def test_handler_of_other_department_cannot_act(app):
    case = to_investigating(make_case())
    with pytest.raises(PermissionDenied):
        propose_as = ops.propose_solution
        propose_as(case, user("handler_logistics"), case.version, findings="x", root_cause="y",
                   responsibility=Responsibility.NONE, responsibility_note=None,
                   solution_form=SettlementForm.EXPLANATION, solution_text="z")


def test_not_valid_rejects_with_reason_told_to_customer(app):
    case = make_case()
    with pytest.raises(ValidationError):
        ops.verify_case(case, user("desk"), case.version, validity=Validity.NOT_VALID, kind=None,
                        klass=None, category_id=None, reason=None)
    db.session.rollback()
    case = db.session.get(Case, case.id)
    ops.verify_case(case, user("desk"), case.version, validity=Validity.NOT_VALID, kind=None,
                    klass=None, category_id=None, reason="产品已过保质期")
    assert case.state == State.REJECTED and case.step is None

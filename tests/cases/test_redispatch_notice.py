"""改派 tells the department the case left (issue 10): whoever held the step — the old
department's handlers, or the handler it was named to — gets one message, in Chinese, saying
where it went and why, written in the same transaction as the re-dispatch."""
from __future__ import annotations

import sqlalchemy as sa

from portal.cases import operations as ops
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.org.enums import Role
from portal.org.models import User, UserRole
from tests.conftest import make_case_at, unit, user

REASON = "汤圆是生产二部的产品"


def mails_to(person: User, case) -> list[OutboxMessage]:
    db.session.expire_all()
    # The step mails (not the bell's copies, nor reminders written ahead).
    return db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.recipient_id == person.id,
        OutboxMessage.channel == "email", OutboxMessage.kind == "step")
        .order_by(OutboxMessage.id)).scalars().all()


def notices(person: User, case) -> list[OutboxMessage]:
    return [m for m in mails_to(person, case) if "已改派至" in m.subject]


def second_prod1_handler() -> User:
    person = User(username="handler_prod1b", name="黄磊", unit_id=unit("PROD1").id, password_hash="x",
                  email="handler_prod1b@example.com", active=True)
    person.role_rows.append(UserRole(role=Role.HANDLER))
    db.session.add(person)
    db.session.commit()
    return person


def test_the_old_departments_handlers_are_told_where_it_went_and_why(app):
    other = second_prod1_handler()
    case = make_case_at("dispatched")  # waiting at 生产一部 for any of its handlers
    ops.redispatch_case(case, user("desk"), case.version, unit_id=unit("PROD2").id, reason=REASON)
    for person in (user("handler_prod1"), other):
        [notice] = notices(person, case)
        assert notice.subject == f"【客诉】{case.number} 已改派至生产二部"
        assert notice.body == (f"投诉 {case.number}（王秀英，三鲜水饺）已由张敏从「生产一部」改派至「生产二部」，"
                               f"原因：{REASON}。此投诉不再需要您办理。")
        assert notice.channel == "email" and notice.status == "pending"
    assert not notices(user("desk"), case)  # the desk sent it on: it knows
    assert not notices(user("handler_prod2"), case)  # the new department gets its step message
    assert [m.subject for m in mails_to(user("handler_prod2"), case)] == [f"【客诉】{case.number} 待您首次跟进"]


def test_only_the_named_handler_is_told_when_the_step_was_theirs(app):
    other = second_prod1_handler()
    case = make_case_at("verified")
    ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD1").id,
                      user_id=user("handler_prod1").id)  # named to 赵磊: the step is his alone
    ops.redispatch_case(case, user("desk"), case.version, unit_id=unit("LOG").id,
                        user_id=user("handler_logistics").id, reason="运输途中挤压破损，属储运部")
    [notice] = notices(user("handler_prod1"), case)
    assert "从「生产一部」改派至「储运部」，原因：运输途中挤压破损，属储运部。" in notice.body
    assert not notices(other, case)


def test_a_handler_who_sends_it_on_is_not_told_but_the_colleagues_are(app):
    other = second_prod1_handler()
    case = make_case_at("dispatched")
    ops.redispatch_case(case, user("handler_prod1"), case.version, unit_id=unit("PROD2").id, reason=REASON)
    assert not notices(user("handler_prod1"), case)
    [notice] = notices(other, case)
    assert "已由赵磊从「生产一部」改派至「生产二部」" in notice.body


def test_sent_back_and_forth_each_redispatch_is_its_own_notice(app):
    case = make_case_at("dispatched")
    ops.redispatch_case(case, user("desk"), case.version, unit_id=unit("PROD2").id, reason=REASON)
    ops.redispatch_case(case, user("desk"), case.version, unit_id=unit("PROD1").id, reason="查明是水饺")
    ops.redispatch_case(case, user("desk"), case.version, unit_id=unit("PROD2").id, reason="又查明是汤圆")
    assert [m.subject for m in notices(user("handler_prod1"), case)] == [
        f"【客诉】{case.number} 已改派至生产二部"] * 2
    [back] = notices(user("handler_prod2"), case)
    assert back.subject == f"【客诉】{case.number} 已改派至生产一部" and "原因：查明是水饺。" in back.body
    keys = db.session.execute(sa.select(OutboxMessage.key).where(OutboxMessage.case_id == case.id)).scalars().all()
    assert len(keys) == len(set(keys))

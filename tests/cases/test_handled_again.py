"""A case handled again (顾客不满意 at the callback, or reopened) never waits on nobody: back to
its department and handler while they can act; to the department's other handlers when the
handler has left; to the desk, to dispatch afresh, when the department has nobody left. The
timeline says why whenever it is not simply back where it was."""
import pytest
import sqlalchemy as sa

from portal.cases import access, queries
from portal.cases import operations as ops
from portal.cases.states import State, Step
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.org.enums import Role
from portal.org.models import User
from tests.conftest import (PASSWORD, last_event, make_case, make_case_at, post_step, propose, signed_in,
                            to_investigating, unit, user)

# The transition each step's people take (what "can act" means below).
STEP_ACTION = {Step.INVESTIGATE: "propose", Step.DISPATCH: "dispatch", Step.ACKNOWLEDGE: "acknowledge"}


def waits_on(case) -> set[str]:
    """Who the case's step waits on: the people told of it by the last change. Each of them
    may act on it and finds it in my work (the three definitions of the audience agree)."""
    key = f"case:{case.id}:step:{case.step.value}:{last_event(case).seq}"
    told = set(db.session.execute(
        sa.select(User.username).join(OutboxMessage, OutboxMessage.recipient_id == User.id)
        .where(OutboxMessage.key.like(f"{key}:%"))).scalars())
    for name in told:
        person = user(name)
        assert person.active and access.in_step_scope(case, person, case.step), name
        assert STEP_ACTION[case.step] in ops.available(case, person), name
        assert any(r.id == case.id for r in queries.inbox(person, limit=1000)), name
    return told


def implemented():
    """A general complaint of 生产一部, its handler's solution carried out, awaiting the callback."""
    case = to_investigating(make_case())
    propose(case)
    return ops.record_implementation(case, user("handler_prod1"), case.version, text="已上门赔偿两袋")


def unsatisfied(case):
    return ops.record_callback(case, user("desk"), case.version, reached=True, satisfied=False,
                               scores={"score_quality": 2}, comment="顾客认为赔偿太少")


def reopened(case):
    ops.record_callback(case, user("desk"), case.version, reached=True, satisfied=True, scores={},
                        comment=None)
    ops.sign_off_case(case, user("leader_prod1"), case.version, password=PASSWORD)
    return ops.reopen_case(case, user("desk"), case.version, reason="顾客再次投诉同一问题")


def leaves(username: str):
    user(username).active = False
    db.session.commit()


def second_handler() -> User:
    person = User(username="handler_prod1b", name="孙伟", password_hash="x", unit_id=unit("PROD1").id,
                  email="handler_prod1b@example.com")
    person.roles = [Role.HANDLER]
    db.session.add(person)
    db.session.commit()
    return person


AGAIN = [pytest.param(unsatisfied, "顾客认为赔偿太少", id="unsatisfied"),
         pytest.param(reopened, "顾客再次投诉同一问题", id="reopened")]


@pytest.mark.parametrize("again, said", AGAIN)
def test_back_to_the_same_handler_while_they_can_act(app, again, said):
    case = again(implemented())
    assert case.state == State.INVESTIGATING and case.step == Step.INVESTIGATE
    assert case.step_user_id == user("handler_prod1").id
    assert waits_on(case) == {"handler_prod1"}
    assert last_event(case).note == said  # nothing more to say


@pytest.mark.parametrize("again, said", AGAIN)
def test_department_without_handlers_goes_to_the_desk_for_dispatch(app, again, said):
    case = implemented()
    leaves("handler_prod1")
    case = again(case)
    assert case.state == State.VERIFIED and case.step == Step.DISPATCH
    assert case.responsible_unit_id is None and case.due_at is not None
    assert "desk" in waits_on(case)
    assert last_event(case).note == f"{said}\n「生产一部」已没有在岗的经办人，转客服重新分派"
    # The desk sends it where someone will take it, and that department is told.
    ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD2").id)
    assert waits_on(case) == {"handler_prod2"}


def test_unsatisfied_keeps_its_escalation_when_it_goes_to_the_desk(app):
    case = implemented()
    leaves("handler_prod1")
    assert unsatisfied(case).callback_rejections == 1


@pytest.mark.parametrize("again, said", AGAIN)
def test_handler_who_left_leaves_the_case_to_the_department(app, again, said):
    case = implemented()
    second_handler()
    leaves("handler_prod1")
    case = again(case)
    assert case.state == State.INVESTIGATING and case.step == Step.INVESTIGATE
    assert case.step_user_id is None and case.responsible_user_id is None
    assert waits_on(case) == {"handler_prod1b"}
    assert last_event(case).note == f"{said}\n原经办人赵磊已不在岗，由「生产一部」经办人接手"


def test_desk_is_shown_why_the_case_is_back_for_dispatch(app):
    case = make_case_at("implemented")
    leaves("handler_prod1")
    client, token = signed_in(app, "desk")
    resp = post_step(client, token, case, "callback", reached="yes", satisfied="no", comment="仍有异物")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "待分派" in html and 'id="panel-dispatch"' in html
    assert "「生产一部」已没有在岗的经办人，转客服重新分派" in html
    assert "生产一部（无在岗经办人）" in html  # and the picker will not take it there again

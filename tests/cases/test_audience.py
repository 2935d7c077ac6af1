"""Who a step waits for is one rule (portal/cases/audience.py), and its three uses agree: for
a case at every step and every person of the organisation, the person is told of the step
iff the case is in their my work iff they may do the step's work (operations.available, the
permission the pages and operations enforce).

The organisation is the seeded one plus people the seed lacks: a second handler of 生产一部,
a handler and a leader of a workshop under it, a handler at headquarters, a department
with a handler but no leader (技术中心), a second rep of 成都 and a rep of an office under it,
and people who have left (inactive)."""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.cases import access, audience, queries
from portal.cases import operations as ops
from portal.cases.enums import Kind, Klass, Responsibility, SettlementForm, Validity
from portal.cases.models import Case
from portal.cases.states import Step
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.org.enums import Role
from portal.org.models import User
from tests.conftest import (category, last_event, make_case, make_case_at, make_unit, make_user,
                            propose, to_investigating, unit, user)

UNKNOWN_BATCH = "2099123199999"  # not in the batch register: quality must trace it by hand


@pytest.fixture
def org(app):
    make_unit("PROD1-W1", "生产一部包装车间", "department", "PROD1")
    make_unit("BR-CD-QY", "成都青羊办事处", "department", "BR-CD")
    make_user("handler2_prod1", "PROD1", [Role.HANDLER])
    make_user("handler_w1", "PROD1-W1", [Role.HANDLER])
    make_user("leader_w1", "PROD1-W1", [Role.LEADER])
    make_user("handler_hq", "HQ", [Role.HANDLER])
    make_user("handler_tech", "TECH", [Role.HANDLER])
    make_user("rep2_cd", "BR-CD", [Role.REP])
    make_user("rep_qy", "BR-CD-QY", [Role.REP])
    make_user("left_desk", "CS", [Role.DESK], active=False)
    make_user("left_leader", "LEGAL", [Role.LEADER], active=False)
    return app


def everybody() -> list[User]:
    return list(db.session.execute(sa.select(User).order_by(User.id)).unique().scalars())


def names(people) -> set[str]:
    return {p.username for p in people}


# ---------------------------------------------------------------- a case at every step

def general_at_prod1():
    return to_investigating(make_case())


def propose_as(case, username, **amounts):
    return ops.propose_solution(
        case, user(username), case.version, findings="当日生产记录正常", root_cause="包装工序人员未戴发帽",
        responsibility=Responsibility.DEPARTMENT, responsibility_note=None,
        solution_form=SettlementForm.PRODUCT, solution_text="赔偿同款产品两袋", product_qty=2, **amounts)


def settled():
    case = make_case()
    return ops.settle_on_spot(case, user("rep_cd"), case.version, klass=Klass.GENERAL,
                              category_id=category("quality.taste").id, solution_form=SettlementForm.PRODUCT,
                              text="当场赔偿同款水饺两袋，顾客接受", multiple=Decimal("2"))


def satisfied(case, username="desk"):
    return ops.record_callback(case, user(username), case.version, reached=True, satisfied=True,
                               scores={"score_quality": 5}, comment=None)


def untraced():
    case = make_case(batch_no=UNKNOWN_BATCH)
    return ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                           klass=Klass.GENERAL, category_id=category("quality.taste").id)


def to_named_handler():
    case = make_case_at("verified")
    return ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD1").id,
                             user_id=user("handler_prod1").id)


def named_handler_left():
    case = to_named_handler()
    user("handler_prod1").active = False
    db.session.commit()
    return case


def submitter_left():
    case = make_case_at("info_requested")
    user("rep_cd").active = False
    db.session.commit()
    return case


def at_tech(klass=Klass.MAJOR):
    """A department with a handler but no leader of its own: its decisions go up to the company."""
    case = make_case_at("verified")
    ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("TECH").id)
    ops.acknowledge_case(case, user("handler_tech"), case.version)
    return propose_as(case, "handler_tech", cash=Decimal("300"))


def at_workshop():
    """A workshop with its own handler and leader, under 生产一部."""
    case = make_case_at("verified")
    ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD1-W1").id)
    ops.acknowledge_case(case, user("handler_w1"), case.version)
    return propose_as(case, "handler_w1", cash=Decimal("300"))


def hotline_without_branch():
    case = to_investigating(make_case("desk", branch_id=None))
    propose_as(case, "handler_prod1")
    return ops.record_implementation(case, user("handler_prod1"), case.version, text="已寄出两袋产品")


def serious():
    case = to_investigating(make_case(), klass=Klass.SERIOUS, cat="quality.foreign_object")
    return propose(case, cash=Decimal("300"))


SCENARIOS = {
    "verify": lambda: make_case_at("new"),
    "supplement: the submitter": lambda: make_case_at("info_requested"),
    "supplement: the submitter left": submitter_left,
    "dispatch: batch traced": lambda: make_case_at("verified"),
    "dispatch: batch untraced": untraced,
    "acknowledge: the department": lambda: make_case_at("dispatched"),
    "acknowledge: a named handler": to_named_handler,
    "acknowledge: the named handler left": named_handler_left,
    "investigate": general_at_prod1,
    "approve: the department's leader": lambda: make_case_at("proposed"),
    "approve: headquarters (serious)": serious,
    "approve: a department without a leader": at_tech,
    "approve: a workshop with its own leader": at_workshop,
    "implement": lambda: make_case_at("approved"),
    "callback: the branch": lambda: make_case_at("implemented"),
    "callback: settled on the spot": settled,
    "callback: hotline case of no branch": hotline_without_branch,
    "sign_off: the department's leader": lambda: make_case_at("called_back"),
    "sign_off: a branch's settlement": lambda: satisfied(settled()),
}

# Who each scenario's step waits for: the procedure, written out by hand.
EXPECTED = {
    "verify": {"desk", "leader_cs"},
    "supplement: the submitter": {"rep_cd"},
    "supplement: the submitter left": {"desk", "leader_cs"},
    "dispatch: batch traced": {"desk", "leader_cs"},
    "dispatch: batch untraced": {"desk", "leader_cs", "quality", "leader_qa"},
    "acknowledge: the department": {"handler_prod1", "handler2_prod1"},
    "acknowledge: a named handler": {"handler_prod1"},
    "acknowledge: the named handler left": {"handler2_prod1"},
    "investigate": {"handler_prod1", "handler2_prod1"},
    "approve: the department's leader": {"leader_prod1"},
    "approve: headquarters (serious)": {"ceo"},
    "approve: a department without a leader": {"ceo"},
    "approve: a workshop with its own leader": {"leader_w1"},
    "implement": {"handler_prod1"},  # the one who acknowledged it carries it out
    "callback: the branch": {"desk", "leader_cs", "rep_cd", "rep2_cd", "rep_qy"},
    "callback: settled on the spot": {"desk", "leader_cs"},
    "callback: hotline case of no branch": {"desk", "leader_cs"},
    "sign_off: the department's leader": {"leader_prod1"},
    "sign_off: a branch's settlement": {"ceo"},
}


def step_work(case, person) -> set[str]:
    """What of the step's own work the person may do now: the transitions of the step that
    its audience governs; quality's batch trace while the batch is untraced (tracing a traced
    batch again is a check anyone of quality may run, not work the case waits for). A rep's
    现场处理 of a new case is theirs by registration, not the verify step's."""
    own = set()
    for name in ops.available(case, person):
        t = ops.TRANSITIONS[name]
        if t.step != case.step or name == "settle":
            continue
        if name == "trace_batch" and not audience.UNTRACED.test(case):
            continue
        own.add(name)
    return own


def told_by_last_change(case) -> set[str] | None:
    """Who the change that put the case at its step told of it (None: it told nobody of the
    step, as the first follow-up does: the department already knows)."""
    key = f"case:{case.id}:step:{case.step.value}:{last_event(case).seq}:%"
    rows = set(db.session.execute(
        sa.select(User.username).join(OutboxMessage, OutboxMessage.recipient_id == User.id)
        .where(OutboxMessage.key.like(key))).scalars())
    return rows or None


def in_my_work(person, case) -> bool:
    return db.session.execute(sa.select(Case.id).where(queries.inbox_clause(person), Case.id == case.id)
                              ).first() is not None


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_told_iff_in_my_work_iff_may_act(org, scenario):
    case = SCENARIOS[scenario]()
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    holders = names(audience.holders(case))
    assert holders == EXPECTED[scenario]
    told = told_by_last_change(case)
    if told is not None and not scenario.endswith("left"):
        assert told == holders
    for person in everybody():
        may = audience.may_act(case, person)
        work = step_work(case, person)
        listed = in_my_work(person, case)
        held = person.username in holders
        assert held == may == listed == bool(work), (
            f"{person.username}: told {held}, may act {may} ({sorted(work)}), in my work {listed}")
        assert may == access.in_step_scope(case, person, case.step)
        if may:
            assert access.can_view(case, person), person.username


def test_every_step_and_every_acting_role_is_covered(org):
    steps = {s.split(":")[0] for s in SCENARIOS}
    assert steps == {s.value for s in Step}
    roles_holding = set()
    for people in EXPECTED.values():
        for name in people:
            roles_holding |= user(name).roles
    assert roles_holding == {Role.DESK, Role.QUALITY, Role.HANDLER, Role.LEADER, Role.REP}
    # Whoever a step may wait for has a role that can take one of the step's transitions.
    for step, rule in audience.AUDIENCE.items():
        can_take = set().union(*(t.allowed_roles for t in ops.TRANSITIONS.values() if t.step == step))
        assert rule.roles <= can_take, step


def test_the_company_leader_decides_only_what_reaches_the_company(org, as_user):
    """The company leader is not told of a department's approval and does not find it in
    my work; it is not theirs to take either (the page offers no decision)."""
    case = make_case_at("proposed")
    ceo = user("ceo")
    assert not audience.may_act(case, ceo) and not in_my_work(ceo, case)
    assert "approve" not in ops.available(case, ceo)
    page = as_user("ceo").get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'id="panel-approve"' not in page  # they see the case, not a decision to take
    assert case.number not in as_user("ceo").get("/work").get_data(as_text=True)


def test_quality_is_asked_to_trace_an_unknown_batch(org):
    case = untraced()
    mails = db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.recipient_id == user("quality").id,
        OutboxMessage.channel == "email", OutboxMessage.key.like("%:step:dispatch:%"))).scalars().all()
    assert [m.subject for m in mails] == [f"【客诉】{case.number} 待您批号追溯"]
    desk_mail = db.session.execute(sa.select(OutboxMessage.subject).where(
        OutboxMessage.case_id == case.id, OutboxMessage.recipient_id == user("desk").id,
        OutboxMessage.channel == "email", OutboxMessage.key.like("%:step:dispatch:%"))).scalars().all()
    assert desk_mail == [f"【客诉】{case.number} 待您分派"]
    # Traced by hand, it waits for the desk alone.
    ops.trace_batch(case, user("quality"), case.version, unit_id=unit("PROD1").id, reason="包装袋印有生产一部代码")
    assert names(audience.holders(case)) == {"desk", "leader_cs"}
    assert not in_my_work(user("quality"), case)


def test_the_page_names_the_unit_whose_leaders_decide(org, as_user):
    """技术中心 has no leader of its own: its approvals wait for the company's, and say so."""
    case = at_tech()
    html = as_user("ceo").get(f"/cases/{case.number}").get_data(as_text=True)
    assert "由公司领导批示" in html and "由技术中心领导批示" not in html
    assert 'id="panel-approve"' in html
    html = as_user("leader_w1").get(f"/cases/{at_workshop().number}").get_data(as_text=True)
    assert "由生产一部包装车间领导批示" in html


def test_leaders_of_walks_up_to_the_nearest_unit_with_an_active_leader(org):
    assert names(audience.leaders_of(unit("PROD1").id)) == {"leader_prod1"}
    assert names(audience.leaders_of(unit("PROD1-W1").id)) == {"leader_w1"}
    assert names(audience.leaders_of(unit("BR-CD-QY").id)) == {"ceo"}   # office → branch → company
    assert names(audience.leaders_of(unit("LEGAL").id)) == {"ceo"}      # its leader has left
    assert audience.leaders_of(None) == []
    user("leader_prod1").active = False
    db.session.commit()
    assert names(audience.leaders_of(unit("PROD1").id)) == {"ceo"}


# ---------------------------------------------------------------- callback_rejections (was escalation_level)

def test_an_unsatisfied_callback_is_counted_as_a_rejection_not_as_the_ladder_level(org, as_user):
    case = make_case_at("implemented")
    ops.record_callback(case, user("desk"), case.version, reached=True, satisfied=False,
                        scores={"score_quality": 2}, comment="顾客认为赔偿太少")
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.callback_rejections == 1
    html = as_user("desk").get(f"/cases/{case.number}").get_data(as_text=True)
    callback_card = html.split("<h2>回访</h2>", 1)[1].split("</section>", 1)[0]
    assert "不满意次数" in callback_card and "共 1 次" in callback_card
    head = html.split('class="case-head"', 1)[1].split("</div>", 1)[0]
    # The head's 升级 pill is the ladder's level (portal/escalation), whatever the count above.
    if case.ladder_level:
        assert f"升级 {case.ladder_level}</span>" in head
    else:
        assert 'class="pill level"' not in head

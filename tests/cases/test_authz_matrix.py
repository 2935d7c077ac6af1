"""Who may take each step of a case, through the web: every transition × every demo user.

Generated from `operations.TRANSITIONS`, so a new transition fails here until someone writes
down who may take it. The expectations are a small table from PROCEDURES.md and DESIGN.md
("People and roles"), not the app's own access functions: allowed → 303 and the case moves,
visible but not theirs → 403, not visible at all → 404, and in both refusals nothing changes.

The workflow helpers (`case_at`, `signed_in`, `post_step`, `FORMS`) are shared with
test_step_input.py.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.cases import operations as ops
from portal.cases.models import Case, Category
from portal.cases.states import State, Step
from portal.enums import Kind, Klass, Responsibility, Role, SettlementForm, Validity
from portal.extensions import db
from portal.org.models import OrgUnit
from portal.signing.models import AuditEvent, Signature
from tests.conftest import csrf_from, make_case, user

PASSWORD = "demo1234"

# ---------------------------------------------------------------- the table under test

# Every demo login, so every role is tried in and out of scope (handler_prod1 / handler_prod2,
# leader_prod1 / leader_prod2, rep_cd / rep_zz …).
USERS = ["admin", "desk", "leader_cs", "quality", "leader_qa", "handler_prod1", "leader_prod1",
         "handler_prod2", "leader_prod2", "handler_logistics", "leader_logistics",
         "rep_cd", "rep_zz", "rep_bj", "ceo"]

# The case: registered by rep_cd of 成都分公司, dispatched (from the "dispatched" stage on) to 生产一部.
# Desk, quality, admin and the company leader see every case; the branch's reps see their
# branch's cases; a department's handlers and leader see what is dispatched to it.
SEES_BEFORE_DISPATCH = {"admin", "desk", "leader_cs", "quality", "leader_qa", "ceo", "rep_cd"}
SEES_AFTER_DISPATCH = SEES_BEFORE_DISPATCH | {"handler_prod1", "leader_prod1"}

# Who may take each step of that case.
MAY = {
    "verify": {"desk", "leader_cs"},            # the desk verifies and classifies (leader_cs is desk too)
    "request_info": {"desk", "leader_cs"},
    "supply_info": {"rep_cd"},                   # the question goes back to whoever submitted the case
    "trace_batch": {"quality", "leader_qa"},     # quality traces the batch to its production department
    "dispatch": {"desk", "leader_cs"},
    "acknowledge": {"handler_prod1"},            # staff of the responsible department
    "propose": {"handler_prod1"},
    "approve": {"leader_prod1", "ceo"},          # its department leader, or the company leader above all
    "reject": {"leader_prod1", "ceo"},
    "implement": {"handler_prod1"},
    "callback": {"desk", "leader_cs", "rep_cd"},  # the desk or the branch's own rep calls the customer
    "sign_off": {"leader_prod1", "ceo"},
    "reopen": {"desk", "leader_cs"},             # the desk reopens a repeat complaint
}

# The stage of the case each transition acts on (stages are built by `case_at`).
ACTS_ON = {"verify": "new", "request_info": "new", "supply_info": "info_requested",
           "trace_batch": "verified", "dispatch": "verified", "acknowledge": "dispatched",
           "propose": "acknowledged", "approve": "proposed", "reject": "proposed",
           "implement": "approved", "callback": "implemented", "sign_off": "called_back",
           "reopen": "closed"}

# Where an allowed transition leaves the case, and the audit event it writes.
OUTCOME = {
    "verify": (State.VERIFIED, Step.DISPATCH, "verified"),
    "request_info": (State.INFO_REQUESTED, Step.SUPPLEMENT, "info_requested"),
    "supply_info": (State.NEW, Step.VERIFY, "info_supplied"),
    "trace_batch": (State.VERIFIED, Step.DISPATCH, "batch_traced"),
    "dispatch": (State.INVESTIGATING, Step.ACKNOWLEDGE, "dispatched"),
    "acknowledge": (State.INVESTIGATING, Step.INVESTIGATE, "acknowledged"),
    "propose": (State.PROPOSED, Step.APPROVE, "proposed"),  # a major case needs the leader
    "approve": (State.APPROVED, Step.IMPLEMENT, "approved"),
    "reject": (State.INVESTIGATING, Step.INVESTIGATE, "proposal_rejected"),
    "implement": (State.CONFIRMING, Step.CALLBACK, "implemented"),
    "callback": (State.CONFIRMING, Step.SIGN_OFF, "callback_satisfied"),
    "sign_off": (State.CLOSED, None, "signed_off"),
    "reopen": (State.INVESTIGATING, Step.INVESTIGATE, "reopened"),
}

DISPATCHED_STAGES = {"dispatched", "acknowledged", "proposed", "approved", "implemented",
                     "called_back", "closed"}
STATUS = {"allowed": 303, "forbidden": 403, "out_of_scope": 404}


def expectation(action: str, username: str) -> str | None:
    if action not in MAY or action not in ACTS_ON:
        return None
    if username in MAY[action]:
        return "allowed"
    sees = SEES_AFTER_DISPATCH if ACTS_ON[action] in DISPATCHED_STAGES else SEES_BEFORE_DISPATCH
    return "forbidden" if username in sees else "out_of_scope"


# ---------------------------------------------------------------- workflow helpers (shared)

def category(code: str) -> Category:
    return db.session.execute(sa.select(Category).where(Category.code == code)).scalar_one()


def unit(code: str) -> OrgUnit:
    return db.session.execute(sa.select(OrgUnit).where(OrgUnit.code == code)).scalar_one()


def _propose(case):
    ops.propose_solution(case, user("handler_prod1"), case.version, findings="当日包装工序记录缺失",
                         root_cause="包装工人未戴发帽", responsibility=Responsibility.DEPARTMENT,
                         responsibility_note="生产一部包装车间", solution_form=SettlementForm.PRODUCT,
                         solution_text="赔偿同款产品十袋", product_qty=10)


# The main line of a major foreign-object complaint, one operation per stage.
MAIN_LINE = [
    ("verified", lambda c: ops.verify_case(
        c, user("desk"), c.version, validity=Validity.VALID, kind=Kind.COMPLAINT, klass=Klass.MAJOR,
        category_id=category("quality.foreign_object").id)),
    ("dispatched", lambda c: ops.dispatch_case(c, user("desk"), c.version, unit_id=unit("PROD1").id)),
    ("acknowledged", lambda c: ops.acknowledge_case(c, user("handler_prod1"), c.version)),
    ("proposed", _propose),
    ("approved", lambda c: ops.approve_proposal(c, user("leader_prod1"), c.version, password=PASSWORD,
                                                comment="同意")),
    ("implemented", lambda c: ops.record_implementation(c, user("handler_prod1"), c.version,
                                                        text="已上门送达十袋产品")),
    ("called_back", lambda c: ops.record_callback(c, user("rep_cd"), c.version, reached=True,
                                                  satisfied=True, scores={"score_quality": 4},
                                                  comment=None)),
    ("closed", lambda c: ops.sign_off_case(c, user("leader_prod1"), c.version, password=PASSWORD)),
]


def case_at(stage: str) -> Case:
    """A case of rep_cd (成都) driven through the operations up to `stage`."""
    case = make_case()
    if stage == "new":
        return case
    if stage == "info_requested":
        return ops.request_info(case, user("desk"), case.version, question="请补拍包装上的批号")
    for name, move in MAIN_LINE:
        move(case)
        if name == stage:
            return case
    raise ValueError(f"unknown stage {stage}")


# A minimal valid form for each step (field names without the `<panel>-` prefix).
FORMS = {
    "verify": lambda: {"validity": "valid", "kind": "complaint", "klass": "major",
                       "category_id": str(category("quality.foreign_object").id)},
    "request_info": lambda: {"question": "请补拍包装上的批号"},
    "supply_info": lambda: {"reply": "批号为 2026090110100，照片已补"},
    "trace_batch": lambda: {},
    "dispatch": lambda: {"unit_id": str(unit("PROD1").id)},
    "acknowledge": lambda: {"note": "已电话联系顾客"},
    "propose": lambda: {"findings": "当日包装工序记录缺失", "root_cause": "包装工人未戴发帽",
                        "responsibility": "department", "solution_form": "product",
                        "solution_text": "赔偿同款产品十袋", "product_qty": "10"},
    "approve": lambda: {"password": PASSWORD, "comment": "同意"},
    "reject": lambda: {"password": PASSWORD, "comment": "补偿过高，请与顾客再协商"},
    "implement": lambda: {"text": "已上门送达十袋产品"},
    "callback": lambda: {"reached": "yes", "satisfied": "yes", "score_quality": "5"},
    "sign_off": lambda: {"password": PASSWORD, "comment": "同意结案"},
    "reopen": lambda: {"reason": "顾客再次投诉同一问题"},
}
# The decision panel shows approve and reject together; reject posts the approve form.
PREFIX = {"reject": "approve"}


def signed_in(app, username: str, password: str = PASSWORD):
    """A logged-in client and the CSRF token of its session (one page load fewer per test)."""
    client = app.test_client()
    token = csrf_from(client, "/auth/login")
    resp = client.post("/auth/login", data={"username": username, "password": password,
                                            "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return client, token


def post_step(client, token: str, case_or_number, action: str, *, version=None, **fields):
    """POST one step's form as the browser does (plain form post, not htmx)."""
    number = getattr(case_or_number, "number", case_or_number)
    prefix = PREFIX.get(action, action)
    if version is None:
        version = case_or_number.version
    data = {"csrf_token": token, f"{prefix}-version": str(version)}
    data.update({f"{prefix}-{k}": v for k, v in fields.items()})
    return client.post(f"/cases/{number}/act/{action}", data=data)


def footprint(case: Case) -> tuple:
    """What a refused step must leave untouched: position, version, audit events, signatures."""
    db.session.expire_all()
    fresh = db.session.get(Case, case.id)
    count = lambda model: db.session.execute(  # noqa: E731
        sa.select(sa.func.count()).select_from(model).where(model.case_id == case.id)).scalar_one()
    return fresh.state, fresh.step, fresh.version, count(AuditEvent), count(Signature)


def last_event(case: Case) -> AuditEvent:
    return db.session.execute(sa.select(AuditEvent).where(AuditEvent.case_id == case.id)
                              .order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()


# ---------------------------------------------------------------- the matrix

def _params():
    for action in ops.TRANSITIONS:
        for username in USERS:
            expected = expectation(action, username)
            yield pytest.param(action, username, expected,
                               id=f"{action}-{username}-{expected or 'missing_from_matrix'}")


def test_matrix_covers_every_transition_every_demo_user_and_every_role():
    from portal.seed import DEMO_USERS
    tables = {"MAY": MAY, "ACTS_ON": ACTS_ON, "OUTCOME": OUTCOME, "FORMS": FORMS}
    for name, table in tables.items():
        assert set(table) == set(ops.TRANSITIONS), f"{name} does not list exactly the transitions"
    assert set(USERS) == {u[0] for u in DEMO_USERS}
    assert set().union(*(roles for _, _, _, roles, _ in DEMO_USERS)) == set(Role)
    assert all(MAY[a] for a in MAY), "every step must be open to someone"


@pytest.fixture(scope="module")
def seeded_once(_app):
    """One wiped and seeded database for the whole matrix (about 200 combinations).

    A refused step must change nothing, so the refusals of one transition share one case;
    every allowed combination gets a case of its own. Yields the app and that cache.
    """
    from portal.seed import seed_demo
    from tests.conftest import IsolatedClient, _wipe
    with _app.app_context():
        _wipe(db)
        seed_demo()
        db.session.remove()
    _app.test_client_class = IsolatedClient
    yield _app, {}


@pytest.fixture
def matrix_app(seeded_once):
    app, shared_cases = seeded_once
    with app.app_context():
        yield app, shared_cases
        db.session.remove()


@pytest.mark.parametrize("action, username, expected", list(_params()))
def test_who_may_take_each_step(matrix_app, action, username, expected):
    assert expected is not None, f"new transition {action!r}: add it to MAY, ACTS_ON, OUTCOME and FORMS"
    app, shared_cases = matrix_app
    if expected == "allowed":
        case = case_at(ACTS_ON[action])
    else:
        if action not in shared_cases:
            shared_cases[action] = case_at(ACTS_ON[action]).id
        case = db.session.get(Case, shared_cases[action])
    before = footprint(case)
    client, token = signed_in(app, username)

    resp = post_step(client, token, case, action, **FORMS[action]())

    html = resp.get_data(as_text=True)
    assert resp.status_code == STATUS[expected], html[:800]
    after = footprint(case)
    if expected == "allowed":
        assert resp.headers["Location"].endswith(f"/cases/{case.number}")
        state, step, action_logged = OUTCOME[action]
        assert after[:2] == (state, step)
        event = last_event(case)
        assert event.action == action_logged and event.actor_id == user(username).id
        assert after[3] > before[3]
    else:
        assert after == before
        if expected == "forbidden":
            assert "不能执行" in html or "不由您负责" in html
        else:
            assert "页面不存在，或您无权查看" in html

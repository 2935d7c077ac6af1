"""Who may take each step of a case, through the web: every transition × every demo user.

Generated from `operations.TRANSITIONS`, so a new transition fails here until someone writes
down who may take it. The expectations are a small table from PROCEDURES.md and DESIGN.md
("People and roles"), not the app's own access functions: allowed → 303 and the case moves,
visible but not theirs → 403, not visible at all → 404, and in both refusals nothing changes.

The workflow helpers (`make_case_at`, `signed_in`, `post_step`, `FORMS`, `ACTS_ON`) are in
tests/conftest.py.
"""
from __future__ import annotations

import pytest

from portal.cases import operations as ops
from portal.cases.models import Case
from portal.cases.states import State, Step
from portal.extensions import db
from portal.org.enums import Role
from tests.conftest import (ACTS_ON, FORMS, footprint, last_event, make_case_at, post_step, signed_in,
                            user)

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
    "settle": {"rep_cd"},                        # the branch's rep settles on the spot (§7)
    "supply_info": {"rep_cd"},                   # the question goes back to whoever submitted the case
    "trace_batch": {"quality", "leader_qa"},     # quality traces the batch to its production department
    "dispatch": {"desk", "leader_cs"},
    "acknowledge": {"handler_prod1"},            # staff of the responsible department
    "propose": {"handler_prod1"},
    "approve": {"leader_prod1"},                 # its department leader (the company leader only
    "reject": {"leader_prod1"},                  # for what the rules send to headquarters)
    "implement": {"handler_prod1"},
    "callback": {"desk", "leader_cs", "rep_cd"},  # the desk or the branch's own rep calls the customer
    "sign_off": {"leader_prod1"},
    "reopen": {"desk", "leader_cs"},             # the desk reopens a repeat complaint
    # 改派: the desk, or the department holding the case (its handler or leader, or the company leader)
    "redispatch": {"desk", "leader_cs", "handler_prod1", "leader_prod1", "ceo"},
}

# Where an allowed transition leaves the case, and the audit event it writes.
OUTCOME = {
    "verify": (State.VERIFIED, Step.DISPATCH, "verified"),
    "request_info": (State.INFO_REQUESTED, Step.SUPPLEMENT, "info_requested"),
    "settle": (State.CONFIRMING, Step.CALLBACK, "settled_on_spot"),
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
    "redispatch": (State.INVESTIGATING, Step.ACKNOWLEDGE, "redispatched"),  # now 生产二部's
}
# Who no longer sees the case after the step, and so lands on "my work" instead of the case.
LOSES_SIGHT = {("redispatch", "handler_prod1"), ("redispatch", "leader_prod1")}

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
        case = make_case_at(ACTS_ON[action])
    else:
        if action not in shared_cases:
            shared_cases[action] = make_case_at(ACTS_ON[action]).id
        case = db.session.get(Case, shared_cases[action])
    before = footprint(case)
    client, token = signed_in(app, username)

    resp = post_step(client, token, case, action, **FORMS[action]())

    html = resp.get_data(as_text=True)
    assert resp.status_code == STATUS[expected], html[:800]
    after = footprint(case)
    if expected == "allowed":
        landing = "/work" if (action, username) in LOSES_SIGHT else f"/cases/{case.number}"
        assert resp.headers["Location"].endswith(landing)
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

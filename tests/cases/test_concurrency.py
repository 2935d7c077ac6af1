"""Many people at once: intake numbering under load, and two people acting on one case at the
same moment from separate processes (as gunicorn workers do) — one wins, nothing is lost."""
from __future__ import annotations

import multiprocessing as mp
import threading
import traceback

import pytest
import sqlalchemy as sa

from portal.cases import operations as ops
from portal.cases.enums import Kind, Klass, Validity
from portal.cases.models import Case, CaseCounter
from portal.cases.states import State, Step
from portal.clock import SHANGHAI, utcnow
from portal.extensions import db
from portal.org.enums import Role
from portal.notify.models import OutboxMessage
from portal.signing.audit import verify_chain
from portal.signing.models import AuditEvent, Signature
from tests.conftest import PASSWORD, category, make_case, make_case_at, make_user, unit, user

WORKER_TIMEOUT = 120


def dialect() -> str:
    return db.engine.dialect.name


def _count(model, **where) -> int:
    q = sa.select(sa.func.count()).select_from(model)
    for key, value in where.items():
        q = q.where(getattr(model, key) == value)
    return db.session.execute(q).scalar_one()


# ---------------------------------------------------------------- numbering under parallel intake

def test_fifty_parallel_intakes_get_fifty_consecutive_numbers(app):
    n = 50
    start = threading.Barrier(n)
    numbers, errors = [], []
    lock = threading.Lock()

    def intake(i: int):
        try:
            with app.app_context():
                start.wait(timeout=30)
                case = make_case("rep_cd" if i % 2 else "desk", customer_name=f"顾客{i:02d}")
                with lock:
                    numbers.append(case.number)
                db.session.remove()
        except Exception:  # noqa: BLE001 - reported below with the traceback
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=intake, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WORKER_TIMEOUT)

    assert not errors, errors[0]
    year = utcnow().astimezone(SHANGHAI).year
    assert sorted(numbers) == [f"KS{year}-{i:06d}" for i in range(1, n + 1)]
    db.session.expire_all()
    assert db.session.get(CaseCounter, year).last == n
    assert _count(Case) == n
    ok, message = verify_chain()  # the audit chain stays gap-free under the same load
    assert ok, message


# ---------------------------------------------------------------- one case, several processes

def _act_in_own_process(config: dict, number: str, username: str, action: str, version: int,
                        kwargs: dict, barrier, results) -> None:
    """A separate process with its own app and connections: load the case, wait, act."""
    from portal import create_app
    from portal.config import TestConfig
    from portal.errors import Conflict
    app = create_app(TestConfig, **config)
    with app.app_context():
        try:
            case = db.session.execute(sa.select(Case).where(Case.number == number)).scalar_one()
            actor = user(username)
            kwargs = dict(kwargs)
            if "unit_code" in kwargs:
                kwargs["unit_id"] = unit(kwargs.pop("unit_code")).id
            if "category_code" in kwargs:
                kwargs["category_id"] = category(kwargs.pop("category_code")).id
            operation = OPERATIONS[action]
            barrier.wait(timeout=60)
            operation(case, actor, version, **kwargs)
            results.put((username, action, "ok", None))
        except Conflict as exc:
            results.put((username, action, "conflict", exc.message))
        except Exception:  # noqa: BLE001 - the parent reports it
            results.put((username, action, "error", traceback.format_exc()))
        finally:
            db.session.remove()
            db.engine.dispose()


OPERATIONS = {"approve": ops.approve_proposal, "reject": ops.reject_proposal,
              "verify": ops.verify_case, "request_info": ops.request_info,
              "dispatch": ops.dispatch_case, "callback": ops.record_callback}


def race(app, case: Case, contenders: list[tuple[str, str, dict]]) -> list[tuple]:
    """Run each (username, action, kwargs) in its own spawned process on the case's current
    version, released together; return what each one got."""
    config = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "UPLOAD_DIR",
                                         "PDF_CACHE_DIR")}
    number, version = case.number, case.version
    db.session.remove()  # nothing of ours open while they run
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(len(contenders)), ctx.Queue()
    procs = [ctx.Process(target=_act_in_own_process,
                         args=(config, number, username, action, version, kwargs, barrier, results))
             for username, action, kwargs in contenders]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=WORKER_TIMEOUT) for _ in procs]
    for p in procs:
        p.join(WORKER_TIMEOUT)
        assert p.exitcode == 0
    errors = [o[3] for o in outcomes if o[2] == "error"]
    assert not errors, errors[0]
    return outcomes


def winner_and_losers(outcomes):
    winners = [o for o in outcomes if o[2] == "ok"]
    losers = [o for o in outcomes if o[2] == "conflict"]
    assert len(winners) == 1, outcomes
    assert len(losers) == len(outcomes) - 1, outcomes
    for _, _, _, message in losers:
        assert "被他人" in message, message  # the page tells them someone else got there first
    return winners[0], losers


def second_leader():
    """生产一部's second leader (副部长): two people the department's approvals wait for."""
    make_user("leader2_prod1", "PROD1", [Role.LEADER], name="何平")


def test_parallel_approvals_from_several_processes_sign_once(app):
    if dialect() != "postgresql":
        pytest.skip("the many-process approval race is a PostgreSQL check (row locks and the audit "
                    "advisory lock of production's database); on SQLite the two-process races below run")
    second_leader()
    case = make_case_at("proposed")
    case_id, version = case.id, case.version
    events_before = _count(AuditEvent, case_id=case_id)
    contenders = [(name, "approve", {"password": PASSWORD, "comment": f"{name} 同意"})
                  for name in ("leader_prod1", "leader2_prod1", "leader_prod1")]  # one in two tabs, and the other

    winner, _ = winner_and_losers(race(app, case, contenders))

    case = db.session.get(Case, case_id)
    assert case.state == State.APPROVED and case.step == Step.IMPLEMENT
    assert case.version == version + 1
    assert case.decision_comment == f"{winner[0]} 同意"
    signatures = db.session.execute(sa.select(Signature).where(Signature.case_id == case_id)).scalars().all()
    assert len(signatures) == 1 and signatures[0].signer_id == user(winner[0]).id
    assert _count(AuditEvent, case_id=case_id, action="approved") == 1
    # The winner's approval and its signature; the losers left nothing behind.
    assert _count(AuditEvent, case_id=case_id) == events_before + 2
    ok, message = verify_chain()
    assert ok, message


# Two edits of one version: the stage they both start from, and who does what.
EDIT_RACES = {
    "verify_vs_request_info": ("new", [
        ("desk", "verify", {"validity": Validity.VALID, "kind": Kind.COMPLAINT, "klass": Klass.GENERAL,
                            "category_code": "quality.taste"}),
        ("leader_cs", "request_info", {"question": "请补拍批号"}),
    ]),
    "two_desks_dispatch_to_different_departments": ("verified", [
        ("desk", "dispatch", {"unit_code": "PROD1"}),
        ("leader_cs", "dispatch", {"unit_code": "PROD2"}),
    ]),
    "rep_and_desk_call_back_at_once": ("implemented", [
        ("rep_cd", "callback", {"reached": True, "satisfied": True, "scores": {"score_quality": 5},
                                "comment": None}),
        ("desk", "callback", {"reached": True, "satisfied": False, "scores": {"score_quality": 2},
                              "comment": "顾客嫌赔偿太少"}),
    ]),
    "approve_vs_reject": ("proposed", [
        ("leader_prod1", "approve", {"password": PASSWORD, "comment": "同意"}),
        ("leader2_prod1", "reject", {"password": PASSWORD, "comment": "补偿过高"}),
    ]),
}

# Where the case must be when a given contender won, and the event it wrote.
WON = {
    ("desk", "verify"): (State.VERIFIED, Step.DISPATCH, "verified"),
    ("leader_cs", "request_info"): (State.INFO_REQUESTED, Step.SUPPLEMENT, "info_requested"),
    ("desk", "dispatch"): (State.INVESTIGATING, Step.ACKNOWLEDGE, "dispatched"),
    ("leader_cs", "dispatch"): (State.INVESTIGATING, Step.ACKNOWLEDGE, "dispatched"),
    ("rep_cd", "callback"): (State.CONFIRMING, Step.SIGN_OFF, "callback_satisfied"),
    ("desk", "callback"): (State.INVESTIGATING, Step.INVESTIGATE, "callback_unsatisfied"),
    ("leader_prod1", "approve"): (State.APPROVED, Step.IMPLEMENT, "approved"),
    ("leader2_prod1", "reject"): (State.INVESTIGATING, Step.INVESTIGATE, "proposal_rejected"),
}


@pytest.mark.parametrize("race_name", list(EDIT_RACES))
def test_parallel_edits_of_one_version_one_wins_nothing_lost(app, race_name):
    stage, contenders = EDIT_RACES[race_name]
    if any(name == "leader2_prod1" for name, _, _ in contenders):
        second_leader()
    case = make_case_at(stage)
    case_id, version = case.id, case.version
    events_before = _count(AuditEvent, case_id=case_id)
    signatures_before = _count(Signature, case_id=case_id)
    last_outbox = db.session.execute(sa.select(sa.func.max(OutboxMessage.id))).scalar() or 0

    (who, action, _, _), _ = winner_and_losers(race(app, case, contenders))

    case = db.session.get(Case, case_id)
    assert case.version == version + 1  # exactly one write reached the row
    state, step, event_action = WON[(who, action)]
    assert (case.state, case.step) == (state, step)
    kwargs = next(kw for u, a, kw in contenders if (u, a) == (who, action))
    if action == "dispatch":
        assert case.responsible_unit_id == unit(kwargs["unit_code"]).id  # the winner's choice, whole
    if action == "callback":
        assert case.callback_satisfied is kwargs["satisfied"] and case.callback_count == 1
        assert case.callback_rejections == (0 if kwargs["satisfied"] else 1)  # raised once, not twice
    new_events = db.session.execute(sa.select(AuditEvent).where(AuditEvent.case_id == case_id)
                                    .order_by(AuditEvent.seq)).scalars().all()[events_before:]
    signed = action in ("approve", "reject")
    # The winner's event (and signature); the loser's rolled back with its change.
    assert [e.action for e in new_events] == (["signed"] if signed else []) + [event_action]
    assert all(e.actor_id == user(who).id for e in new_events)
    assert _count(Signature, case_id=case_id) == signatures_before + signed
    # Notifications only for the step the winner opened.
    keys = db.session.execute(sa.select(OutboxMessage.key).where(
        OutboxMessage.case_id == case_id, OutboxMessage.id > last_outbox)).scalars().all()
    # (Reminders of that step and the ladder's messages are written with it: portal/escalation.)
    step_keys = [k for k in keys if ":step:" in k]
    assert step_keys and all(f":step:{step.value}:{new_events[-1].seq}:" in k for k in step_keys), keys
    assert all(f":remind:{step.value}:" in k for k in keys if ":remind:" in k), keys
    ok, message = verify_chain()
    assert ok, message

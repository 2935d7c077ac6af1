"""Reminders and the escalation ladder acting on a case.

`on_commit` runs inside every case transition's transaction (operations._commit): when the
case leaves a step, what that step had scheduled and not yet sent is cancelled; when it
enters one, the step's reminders are written as future outbox rows and its breach as a
timer; case clocks start and stop; the triggers of PROCEDURES.md §5 escalate. `fire_timer`
runs a timer once (from its `enqueue_at` job or the minute sweep): the claim of the timer
commits with what it does, so a job run twice, or the sweep and a job at the same moment,
act once.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from portal.cases.models import Case
from portal.cases.states import State
from portal.clock import as_utc, utcnow
from portal.escalation import ladder, messages
from portal.escalation.enums import Trigger
from portal.escalation.models import CaseEscalation, CaseTimer
from portal.escalation.people import holders, leaders_of
from portal.extensions import db
from portal.signing import audit
from portal.notify.models import OutboxMessage
from portal.notify.outbox import add_message, add_messages, cancel_pending, hand_to_workers, robots_for_unit
from portal.org.enums import Role
from portal.org.models import OrgUnit, User, UserRole
from portal.steps import Clock, Step
from portal.webhooks import emit as webhooks

log = logging.getLogger(__name__)

# The sweep leaves a timer this long to its own scheduled job before firing it itself.
SWEEP_GRACE = timedelta(seconds=5)
SWEEP_LIMIT = 1000
# Clocks that ask the desk to do something rather than escalate.
DESK_TASKS = {Clock.PROGRESS_CHECK, Clock.REVISIT}
# Which clocks a transition starts (counted from their anchor) and which it ends.
STARTS = {"registered": (Clock.SOLUTION, Clock.RESOLVED, Clock.SIGNED),
          "dispatched": (Clock.PROGRESS_CHECK, Clock.ON_SITE),
          "signed_off": (Clock.REVISIT,)}
_SESSION_KEY = "escalation_timers"
_REMINDERS_KEY = "escalation_reminders"
SENT_CHANNELS = ("email", "sms", "robot")
# Timers the sweep hands to one job.
SWEEP_JOB_BATCH = 100


def _reminder_channels() -> tuple[str, ...]:
    return tuple(current_app.config.get("REMINDER_CHANNELS", ("email", "inapp")))


def _limit(target, case):
    from portal.sla.policy import resolve
    return resolve(target, case.klass, case.channel)


def _calendar():
    from portal.sla.policy import work_calendar
    return work_calendar()


def whole_second(value):
    """Up to the next whole second: RQ schedules jobs at whole seconds (it drops the fraction),
    so a job for 10:00:00.4 would run at 10:00:00, find its row not yet due, and leave it to the
    minute sweep. Rounded up, the job runs at its time or just after."""
    value = as_utc(value)
    if value is None or not value.microsecond:
        return value
    return value.replace(microsecond=0) + timedelta(seconds=1)


def _stamp(value) -> str:
    return as_utc(value).strftime("%Y%m%d%H%M%S%f")


# ---------------------------------------------------------------- the hook in every transition

def on_commit(case: Case, action: str, before: dict, after: dict, event_seq: int) -> list:
    """Called by operations._commit after the audit event, before the commit; returns the
    outbox rows it wrote (the caller hands them to the workers with its own)."""
    now = utcnow()
    out: list = []
    # The rows written here go to the database in one batch per table at the caller's flush
    # (each lookup on the way would otherwise flush the row before it on its own).
    with db.session.no_autoflush:
        # Intake sets the first step before its event (its "after" lists the case's facts).
        # A case just registered has nothing scheduled to cancel and no pause to end.
        if action == "registered" or "step_started_at" in after or "step" in after:
            if action != "registered":
                _leave_step(case, now)
            if case.step is not None:
                out += _enter_step(case, now)
        if action != "registered":
            _pauses(case, action, now)
        out += _clocks(case, action, event_seq, now)
    out += _triggers(case, action, event_seq, now)
    return out


# Waiting on the submitter (补充信息) or on a customer who could not be reached stops the case
# clocks (portal/sla/pauses.py); the next transition resumes them, later by the paused time.
PAUSING = {"info_requested": "等待提交人补充信息", "callback_unreached": "回访未联系上顾客，等待再次联系"}


def _pauses(case: Case, action: str, now) -> None:
    from portal.sla.pauses import open_pause, pause_case, resume_case
    if action in PAUSING:
        pause_case(case, PAUSING[action], now)
        db.session.execute(
            sa.update(CaseTimer)
            .where(CaseTimer.case_id == case.id, CaseTimer.clock.is_not(None), CaseTimer.fired_at.is_(None),
                   CaseTimer.cancelled_at.is_(None))
            .values(cancelled_at=now, outcome="paused"), execution_options={"synchronize_session": False})
        return
    pause = open_pause(case.id)
    if pause is None:
        return
    started = as_utc(pause.started_at)
    resume_case(case, now)
    if case.state in (State.CLOSED, State.REJECTED):
        return
    from portal.sla.due import shift
    paused = db.session.execute(sa.select(CaseTimer).where(
        CaseTimer.case_id == case.id, CaseTimer.clock.is_not(None), CaseTimer.outcome == "paused",
        CaseTimer.cancelled_at >= started)).scalars().all()
    for t in paused:
        limit = _limit(Clock(t.clock), case)
        again = shift(as_utc(t.fire_at), started, now, limit.calendar, _calendar())
        t.outcome = "paused_resumed"
        _timer(case, t.kind, again, clock=t.clock, level=t.level,
               key=f"{t.key.split(':resumed:')[0]}:resumed:{_stamp(now)}")


def _leave_step(case: Case, now) -> None:
    cancel_pending(case.id, kinds=("reminder",), now=now)
    db.session.execute(
        sa.update(CaseTimer)
        .where(CaseTimer.case_id == case.id, CaseTimer.step.is_not(None),
               CaseTimer.fired_at.is_(None), CaseTimer.cancelled_at.is_(None))
        .values(cancelled_at=now, outcome="step_left"),
        execution_options={"synchronize_session": False})


def _enter_step(case: Case, now) -> list:
    """The step's reminders (future outbox rows, to its holders) and its breach timer."""
    from portal.sla.due import point
    limit = _limit(case.step, case)
    if not limit.active or case.due_at is None:
        return []
    start = as_utc(case.step_started_at) or now
    cal = _calendar()
    people = holders(case)
    specs, points = [], []
    for percent in limit.reminder_percents:
        at = whole_second(point(limit, start, percent, cal))
        if at is None or at <= now:
            continue
        subject, body, sms = messages.reminder(case, case.step, percent, case.due_at)
        prefix = f"case:{case.id}:remind:{case.step.value}:{_stamp(start)}:{percent}"
        points.append(prefix)
        specs += _specs(people, _reminder_channels(), prefix, subject, body, sms, case, at, "reminder")
    # Every reminder point's rows with one lookup of their keys; handed over by hand_over() as
    # one job per point (not one per message), only what a worker sends (in-app rows are read
    # in the portal).
    rows = add_messages(specs)
    for prefix in points:
        db.session.info.setdefault(_REMINDERS_KEY, []).append(
            [m for m in rows if m.key.startswith(prefix + ":") and m.channel in SENT_CHANNELS])
    _timer(case, "breach", as_utc(case.due_at), step=case.step, step_started_at=start,
           key=f"case:{case.id}:breach:{case.step.value}:{_stamp(start)}", fresh=True)
    return []


def _specs(people, channels, prefix, subject, body, sms, case, at, kind) -> list[dict]:
    return [dict(key=f"{prefix}:{person.id}:{channel}", channel=channel, recipient=person,
                 subject=subject, body=sms if channel == "sms" else body, case_id=case.id, send_after=at, kind=kind)
            for person in people for channel in channels]


def _to_people(people, channels, prefix, subject, body, sms, case, at, kind) -> list:
    return add_messages(_specs(people, channels, prefix, subject, body, sms, case, at, kind))


def _timer(case: Case, kind: str, fire_at, *, key: str, step=None, step_started_at=None,
           clock=None, level=None, fresh: bool = False) -> CaseTimer | None:
    """A timer unless one with this key exists; `fresh`: the key names a moment that has only
    just happened (a step entered now, a clock started by this event), so no lookup is needed."""
    if not fresh and db.session.execute(sa.select(CaseTimer.id).where(CaseTimer.key == key)).first():
        return None
    timer = CaseTimer(case_id=case.id, kind=kind, step=step, step_started_at=step_started_at,
                      clock=getattr(clock, "value", clock), level=level, fire_at=whole_second(fire_at),
                      key=key)
    db.session.add(timer)
    db.session.info.setdefault(_SESSION_KEY, []).append(timer)
    return timer


def hand_over() -> None:
    """After commit: each new timer becomes a job at its time, and each step's reminders one
    delivery job per send time (RQ's scheduler), all in one round trip to Redis. Lost jobs, or
    Redis down, are caught by the minute sweeps (timers here, outbox rows in portal/notify)."""
    timers = db.session.info.pop(_SESSION_KEY, [])
    reminders = db.session.info.pop(_REMINDERS_KEY, [])
    if (not timers and not reminders) or current_app.config.get("OUTBOX_DIRECT_DISABLED"):
        return
    timer_ids = _ids(timers)
    batches = [ids for ids in (_ids(batch) for batch in reminders) if ids]
    # Only what was really committed (a rolled-back transaction's rows are not there).
    rows = db.session.execute(
        sa.select(CaseTimer.id, CaseTimer.fire_at)
        .where(CaseTimer.id.in_(timer_ids), CaseTimer.fired_at.is_(None),
               CaseTimer.cancelled_at.is_(None))).all() if timer_ids else []
    pending = dict(db.session.execute(sa.select(OutboxMessage.id, OutboxMessage.send_after).where(
        OutboxMessage.id.in_([i for ids in batches for i in ids]), OutboxMessage.status == "pending")
    ).all()) if batches else {}
    groups = []
    for ids in batches:
        found = [i for i in ids if i in pending]
        if found:
            groups.append((as_utc(pending[found[0]]), sorted(found)))
    db.session.commit()
    from portal.queues import enqueue_many
    enqueue_many("notify", [
        *({"func": "jobs.timers.fire", "args": (timer_id,), "at": as_utc(fire_at), "job_id": f"timer-{timer_id}",
           "result_ttl": 0, "failure_ttl": 7 * 86400} for timer_id, fire_at in rows),
        *({"func": "jobs.deliver.deliver_batch", "args": (ids,), "at": at, "job_id": f"remind-{ids[0]}-{len(ids)}",
           "result_ttl": 0, "failure_ttl": 7 * 86400} for at, ids in groups)])


def _ids(objects) -> list[int]:
    """The ids of rows written in the transaction just committed, read from the session's
    identity map without loading each row again (a commit expires them); a row of a
    rolled-back transaction has no identity and is left out."""
    out = []
    for obj in objects:
        identity = sa.inspect(obj).identity
        if identity is not None:
            out.append(identity[0])
    return out


def forget_unsent() -> None:
    """A transaction rolled back: its timers and reminders were never written."""
    db.session.info.pop(_SESSION_KEY, None)
    db.session.info.pop(_REMINDERS_KEY, None)


# ---------------------------------------------------------------- case clocks

def _clocks(case: Case, action: str, event_seq: int, now) -> list:
    from portal.sla.due import deadline, point
    ended = set()
    if case.state in (State.APPROVED, State.CONFIRMING, State.CLOSED, State.REJECTED):
        ended.add(Clock.SOLUTION)  # a solution exists (approved or in effect)
    if case.state in (State.CLOSED, State.REJECTED) or case.step == Step.SIGN_OFF:
        ended.add(Clock.RESOLVED)
    if case.state in (State.CLOSED, State.REJECTED):
        ended.update({Clock.SIGNED, Clock.PROGRESS_CHECK, Clock.ON_SITE})
    if case.state in (State.PROPOSED, State.APPROVED, State.CONFIRMING):
        ended.add(Clock.PROGRESS_CHECK)  # the department has a solution: no need to ask
    if action in ("reopened", "dispatched", "redispatched"):
        ended.update({Clock.REVISIT} if action == "reopened" else {Clock.PROGRESS_CHECK, Clock.ON_SITE})
    if ended:
        db.session.execute(
            sa.update(CaseTimer)
            .where(CaseTimer.case_id == case.id, CaseTimer.clock.in_([c.value for c in ended]),
                   CaseTimer.fired_at.is_(None), CaseTimer.cancelled_at.is_(None))
            .values(cancelled_at=now, outcome="clock_ended"),
            execution_options={"synchronize_session": False})
    starts = STARTS.get("dispatched" if action == "redispatched" else action, ())
    anchor = {"registered": case.received_at, "signed_off": case.closed_at}.get(action, now)
    for clock in starts:
        limit = _limit(clock, case)
        if not limit.active:
            continue
        at = deadline(limit, as_utc(anchor) or now, _calendar())
        if at is not None:
            _timer(case, "clock", at, clock=clock, key=f"case:{case.id}:clock:{clock.value}:{event_seq}", fresh=True)
        if clock in DESK_TASKS:
            continue  # a task for its moment, not a limit to be reminded of
        for percent in limit.reminder_percents:
            remind = point(limit, as_utc(anchor) or now, percent, _calendar())
            if remind is not None and remind > now:
                # Fired as a timer: the reminder goes to whoever holds the case by then.
                _timer(case, "clock_remind", remind, clock=clock, level=int(percent),
                       key=f"case:{case.id}:clock:{clock.value}:{event_seq}:r{int(percent)}", fresh=True)
    return []


# ---------------------------------------------------------------- triggers of §5

def _company_unit_id(unit_id) -> bool:
    unit = db.session.get(OrgUnit, unit_id) if unit_id else None
    return unit is not None and unit.parent_id is None


def _triggers(case: Case, action: str, event_seq: int, now) -> list:
    if action == "registered" and case.threatens_media:
        top = ladder.top_level()
        return escalate(case, Trigger.MEDIA_THREAT, level=top.level if top else 1,
                        key=f"case:{case.id}:media", now=now)
    if action in ("callback_unsatisfied", "customer_appealed"):  # 回访不满意, or 申诉 on the progress page
        return escalate(case, Trigger.CUSTOMER_REJECTED, key=f"case:{case.id}:rejected:{event_seq}", now=now)
    if action == "proposed" and case.step == Step.APPROVE and _company_unit_id(case.step_unit_id):
        # The compensation is beyond the department's authority: headquarters decides (§7).
        return escalate(case, Trigger.ABOVE_AUTHORITY, minimum=2, key=f"case:{case.id}:authority:{event_seq}",
                        now=now)
    return []


# ---------------------------------------------------------------- escalating

REASONS = {
    Trigger.LIMIT_PASSED: "「{step}」已超过办理时限",
    Trigger.NO_SOLUTION_4H: "受理 4 小时仍无顾客接受的处理方案",
    Trigger.CUSTOMER_REJECTED: "顾客不接受处理结果",
    Trigger.MEDIA_THREAT: "顾客扬言向监管部门或媒体反映",
    Trigger.ABOVE_AUTHORITY: "补偿超出本级权限，需总部决定",
    Trigger.MANUAL: "手动升级",
}


def _reason(case: Case, trigger: Trigger, step=None, clock=None) -> str:
    from portal.i18n import force_locale
    with force_locale("zh_CN"):
        name = (step or case.step).label if (step or case.step) else (clock.label if clock else "—")
    if trigger == Trigger.LIMIT_PASSED and clock is not None and step is None:
        with force_locale("zh_CN"):
            return f"「{clock.label}」时限已过"
    return REASONS[trigger].format(step=name)


def escalate(case: Case, trigger: Trigger, *, key: str, level: int | None = None, minimum: int = 1,
             step=None, clock=None, actor: User | None = None, reason: str | None = None,
             now=None, record: bool = False) -> list:
    """Up the ladder (one level above where the case stands, at least `minimum`, at most the
    top): the record, the messages to that level's people and robots, the case's level.
    Once per `key`. Returns the outbox rows written.

    `record`: the escalation is an operation of its own (a timer fired), so it writes its audit
    event; a trigger inside a transition is part of that transition's event, and 手动升级
    records its own."""
    now = now or utcnow()
    if db.session.execute(sa.select(CaseEscalation.id).where(CaseEscalation.key == key)).first():
        return []
    rows = ladder.levels()
    if not rows:
        return []
    wanted = level if level is not None else max(case.ladder_level + 1, minimum)
    row = next((r for r in rows if r.level >= wanted), rows[-1])
    reason = reason or _reason(case, trigger, step, clock)
    audience = ladder.audience_for(row, case)
    overdue_step = (step or case.step) if trigger == Trigger.LIMIT_PASSED and clock is None else None
    subject, body, sms = messages.escalation(case, row.level, row.name, reason, overdue_step=overdue_step)
    prefix = f"case:{case.id}:esc:{key}"
    out, sent = [], []
    for person, channels in audience.people.values():
        wrote = []
        for channel in sorted(channels):
            msg = add_message(key=f"{prefix}:{person.id}:{channel}", channel=channel, recipient=person,
                              subject=subject, body=sms if channel == "sms" else body, case_id=case.id,
                              send_after=now, kind="escalation")
            if msg is not None:
                out.append(msg)
                wrote.append(channel)
        sent.append({"user_id": person.id, "name": person.name, "channels": wrote})
    for unit_id in sorted(audience.robot_units):
        for robot in robots_for_unit(unit_id):
            msg = add_message(key=f"{prefix}:robot:{robot.id}", channel="robot", address=str(robot.id),
                              subject=subject, body=body, case_id=case.id, send_after=now, kind="escalation")
            if msg is not None:
                out.append(msg)
                sent.append({"robot_id": robot.id, "name": robot.name, "channels": ["robot"]})
    db.session.flush()
    db.session.add(CaseEscalation(case_id=case.id, level=row.level, trigger=trigger,
                                  step=step or case.step, clock=getattr(clock, "value", clock),
                                  reason=reason, at=now, actor_id=getattr(actor, "id", None),
                                  recipients=sent, message_ids=[m.id for m in out], key=key))
    if record:
        # The clock moved the case up the ladder: the timeline says so, like any change to it.
        audit.record("escalated", object_type="case", object_id=case.id, case_id=case.id,
                     before={"ladder_level": case.ladder_level},
                     after={"ladder_level": max(row.level, case.ladder_level), "trigger": trigger.value},
                     note=f"第 {row.level} 级（{row.name}）：{reason}"[:200])
    if row.level > case.ladder_level:
        out += webhooks.on_escalated(case, row.level, row.name, trigger, key, now)  # issue 14
        # Not through the ORM: the case's version (the forms' conflict check) stays as it is,
        # so a handler's open form is not refused because the clock escalated meanwhile.
        db.session.execute(sa.update(Case).where(Case.id == case.id, Case.ladder_level < row.level)
                           .values(ladder_level=row.level), execution_options={"synchronize_session": False})
        sa.orm.attributes.set_committed_value(case, "ladder_level", row.level)
    return out


def _climb_later(case: Case, timer: CaseTimer, now) -> None:
    """If the step is still not done, the next rung hears of it `after_minutes` later."""
    above = ladder.next_level(case.ladder_level)
    if above is None:
        return
    _timer(case, "ladder", now + timedelta(minutes=float(above.after_minutes or 0)), step=timer.step,
           step_started_at=timer.step_started_at, level=above.level,
           key=f"case:{case.id}:ladder:{timer.step.value if timer.step else timer.clock}:"
               f"{_stamp(timer.step_started_at or timer.fire_at)}:{above.level}")


# ---------------------------------------------------------------- firing timers

def fire_timer(timer_id: int, now=None) -> str:
    """Do what a timer is for, once. Returns its outcome ('skipped' if not due or done)."""
    now = now or utcnow()
    claimed = db.session.execute(
        sa.update(CaseTimer)
        .where(CaseTimer.id == timer_id, CaseTimer.fired_at.is_(None), CaseTimer.cancelled_at.is_(None),
               CaseTimer.fire_at <= now)
        .values(fired_at=now), execution_options={"synchronize_session": False}).rowcount
    if not claimed:
        db.session.rollback()
        early = db.session.execute(sa.select(CaseTimer.fire_at).where(
            CaseTimer.id == timer_id, CaseTimer.fired_at.is_(None), CaseTimer.cancelled_at.is_(None))).scalar()
        db.session.commit()
        return "early" if early is not None else "skipped"
    timer = db.session.get(CaseTimer, timer_id, populate_existing=True)
    case = db.session.get(Case, timer.case_id, populate_existing=True)
    try:
        outcome, out, committed = _act(timer, case, now)
        if not committed:
            timer.outcome = outcome
            db.session.flush()
            ids = [m.id for m in out if m.channel != "inapp"]
            db.session.commit()
            hand_to_workers(ids)
            hand_over()
    except Exception:
        db.session.rollback()
        forget_unsent()
        raise
    log.info("timer %s (%s) fired: %s", timer_id, timer.kind, outcome)
    return outcome


def _stale(timer: CaseTimer, case: Case) -> bool:
    if timer.step is None:
        return False
    return (case.step != timer.step or case.step_started_at is None
            or as_utc(case.step_started_at) != as_utc(timer.step_started_at))


def _act(timer: CaseTimer, case: Case, now) -> tuple[str, list, bool]:
    """(outcome, outbox rows, whether a case transition already committed it all)."""
    if _stale(timer, case):
        return "stale", [], False
    if timer.kind == "clock":
        return _clock_fired(timer, case, now)
    if timer.kind == "clock_remind":
        return _clock_reminded(timer, case, now)
    if timer.kind == "ladder":
        out = escalate(case, Trigger.LIMIT_PASSED, level=timer.level, step=timer.step,
                       key=f"timer:{timer.id}", now=now, record=True)
        _climb_later(case, timer, now)
        return f"escalated:{case.ladder_level}", out, False
    if timer.kind == "repeat":
        return "repeated", _repeat(case, timer, now), False
    return _breach(timer, case, now)


def _breach(timer: CaseTimer, case: Case, now) -> tuple[str, list, bool]:
    limit = _limit(timer.step, case)
    action = limit.breach_action or "escalate"
    if action == "repeat" and limit.repeat_minutes:
        return "repeated", _repeat(case, timer, now), False
    if action == "hand_to_leader":
        done = _hand_to_leader(case, timer, now)
        if done is not None:
            return done
    if action == "send_back":
        done = _send_back(case, timer, now)
        if done is not None:
            return done
    out = escalate(case, Trigger.LIMIT_PASSED, step=timer.step, key=f"timer:{timer.id}", now=now,
                   record=True)
    _climb_later(case, timer, now)
    return f"escalated:{case.ladder_level}", out, False


def _repeat(case: Case, timer: CaseTimer, now) -> list:
    """Remind the step's holders again now, and again every repeat_minutes until it is done."""
    limit = _limit(timer.step, case)
    n = 1 + (db.session.execute(sa.select(sa.func.count()).select_from(CaseTimer).where(
        CaseTimer.case_id == case.id, CaseTimer.kind == "repeat",
        CaseTimer.step_started_at == timer.step_started_at, CaseTimer.fired_at.is_not(None),
        CaseTimer.id != timer.id)).scalar_one())
    subject, body, sms = messages.repeated(case, case.step, n)
    prefix = f"case:{case.id}:repeat:{timer.id}"
    out = _to_people(holders(case), _reminder_channels(), prefix, subject, body, sms, case, now, "reminder")
    if limit.repeat_minutes:
        _timer(case, "repeat", now + timedelta(minutes=float(limit.repeat_minutes)), step=timer.step,
               step_started_at=timer.step_started_at,
               key=f"case:{case.id}:repeat:{timer.step.value}:{_stamp(timer.step_started_at)}:{n + 1}")
    return out


def _hand_to_leader(case: Case, timer: CaseTimer, now):
    """The step passes to the nearest leader of the unit holding it, if a leader may act on it."""
    from portal.cases import operations as ops
    leaders = leaders_of(case.step_unit_id or case.responsible_unit_id)
    leader = next((u for u in leaders if _may_act(case, u)), None)
    if leader is None or case.step_user_id == leader.id:
        return None
    before, after = ops._apply(case, {"step_user_id": leader.id})
    extra = []

    def tell(event_seq):
        extra.extend(escalate(case, Trigger.LIMIT_PASSED, step=timer.step, key=f"timer:{timer.id}",
                              reason=_reason(case, Trigger.LIMIT_PASSED, timer.step) + f"，已转交{leader.name}办理",
                              now=now))
        return extra
    timer.outcome = "handed_to_leader"
    ops._commit(case, "handed_to_leader", None, before, after, note=f"超时转交 {leader.name}", notify=False,
                also=tell)
    return "handed_to_leader", extra, True


def _may_act(case: Case, user: User) -> bool:
    try:
        from portal.cases import audience
        return audience.may_act(case, user)
    except ImportError:  # pragma: no cover - until portal.cases.audience lands
        from portal.cases import access
        return access.in_step_scope(case, user, case.step)


def _send_back(case: Case, timer: CaseTimer, now):
    """A department step not done in time goes back to the desk for dispatch; a decision not
    taken in time goes back to the department. Other steps escalate instead."""
    from portal.cases import operations as ops
    if case.step in (Step.ACKNOWLEDGE, Step.INVESTIGATE):
        changes = {"state": State.VERIFIED, "responsible_unit_id": None, "responsible_user_id": None,
                   "acknowledged_at": None, **ops._enter(case, Step.DISPATCH, now=now)}
    elif case.step == Step.APPROVE:
        changes = {"state": State.INVESTIGATING, **ops._enter(case, Step.INVESTIGATE, now=now,
                                                              unit_id=case.responsible_unit_id,
                                                              user_id=case.responsible_user_id)}
    else:
        return None
    with_name = _reason(case, Trigger.LIMIT_PASSED, timer.step)
    before, after = ops._apply(case, changes)
    timer.outcome = "sent_back"
    ops._commit(case, "sent_back_at_breach", None, before, after, note=f"{with_name}，退回")
    return "sent_back", [], True


def _clock_reminded(timer: CaseTimer, case: Case, now) -> tuple[str, list, bool]:
    """A case clock at one of its reminder points: whoever holds the case now hears of it."""
    if case.state in (State.CLOSED, State.REJECTED) or case.step is None:
        return "stale", [], False
    clock = Clock(timer.clock)
    # The clock's own deadline (moved on by any pause), for the message.
    due = db.session.execute(sa.select(CaseTimer.fire_at).where(
        CaseTimer.case_id == case.id, CaseTimer.kind == "clock", CaseTimer.clock == clock.value,
        CaseTimer.fired_at.is_(None), CaseTimer.cancelled_at.is_(None))).scalar()
    if due is None:
        return "stale", [], False
    subject, body, sms = messages.reminder(case, clock, timer.level or 0, due)
    prefix = f"case:{case.id}:clockremind:{timer.id}"
    out = _to_people(holders(case), _reminder_channels(), prefix, subject, body, sms, case, now, "reminder")
    return "reminded", out, False


def _clock_fired(timer: CaseTimer, case: Case, now) -> tuple[str, list, bool]:
    clock = Clock(timer.clock)
    if clock != Clock.REVISIT and case.state in (State.CLOSED, State.REJECTED):
        return "stale", [], False
    if clock in DESK_TASKS:
        subject, body, sms = messages.clock_task(case, clock)
        desk = db.session.execute(sa.select(User).join(UserRole).where(
            User.active.is_(True), UserRole.role == Role.DESK).order_by(User.id)).unique().scalars().all()
        out = _to_people(desk, _reminder_channels(), f"case:{case.id}:clock:{timer.id}", subject, body, sms,
                         case, now, "reminder")
        return "desk_told", out, False
    trigger = Trigger.NO_SOLUTION_4H if clock == Clock.SOLUTION else Trigger.LIMIT_PASSED
    out = escalate(case, trigger, minimum=2 if clock == Clock.SOLUTION else 1, clock=clock, step=None,
                   key=f"timer:{timer.id}", now=now, record=True)
    return f"escalated:{case.ladder_level}", out, False


# ---------------------------------------------------------------- cases open before the ladder

def schedule_open_cases(batch: int = 500) -> int:
    """Give every open case whose current step has no timer yet its reminders and breach timer
    (cases registered before this release; run once after upgrading, safe to run again: the
    keys are the same). A step already past its limit fires at the next sweep."""
    now = utcnow()
    scheduled, last_id = 0, 0
    while True:
        cases = db.session.execute(
            sa.select(Case).where(Case.id > last_id, Case.step.is_not(None), Case.due_at.is_not(None))
            .order_by(Case.id).limit(batch)).unique().scalars().all()
        if not cases:
            return scheduled
        for case in cases:
            last_id = case.id
            key = f"case:{case.id}:breach:{case.step.value}:{_stamp(case.step_started_at or now)}"
            if db.session.execute(sa.select(CaseTimer.id).where(CaseTimer.key == key)).first():
                continue
            _enter_step(case, now)
            scheduled += 1
        db.session.commit()
        hand_over()


# ---------------------------------------------------------------- the sweep

def due_timer_ids(now=None, limit: int = SWEEP_LIMIT) -> list[int]:
    """Pending timers whose time came more than SWEEP_GRACE ago (their job should have run)."""
    now = now or utcnow()
    return list(db.session.execute(
        sa.select(CaseTimer.id)
        .where(CaseTimer.fired_at.is_(None), CaseTimer.cancelled_at.is_(None),
               CaseTimer.fire_at <= now - SWEEP_GRACE)
        .order_by(CaseTimer.fire_at).limit(limit)).scalars())


def sweep_timers(now=None, limit: int = SWEEP_LIMIT, inline: bool = False) -> int:
    """The minute sweep: every timer past its time goes to a worker in one round trip to Redis
    (or, `inline` or Redis refusing, is fired here). Returns how many were handed over or fired."""
    ids = due_timer_ids(now, limit)
    db.session.commit()
    if not ids:
        return 0
    if not inline and _hand_many(ids):
        return len(ids)
    for timer_id in ids:
        try:
            fire_timer(timer_id)
        except Exception:  # noqa: BLE001 - one bad timer must not stop the others
            log.exception("timer %s failed", timer_id)
    return len(ids)


def _hand_many(ids: list[int]) -> bool:
    """Hand the due timers to the workers, SWEEP_JOB_BATCH to a job, in one round trip."""
    from rq import Queue
    from portal.queues import redis
    try:
        q = Queue("notify", connection=redis())
        with redis().pipeline() as pipe:
            for start in range(0, len(ids), SWEEP_JOB_BATCH):
                chunk = ids[start:start + SWEEP_JOB_BATCH]
                q.enqueue_call("jobs.timers.fire_many", args=(chunk,), job_id=f"timers-swept-{chunk[0]}-{len(chunk)}",
                               result_ttl=0, failure_ttl=7 * 86400, pipeline=pipe)
            pipe.execute()
        return True
    except Exception as exc:  # noqa: BLE001 - then the sweep fires them itself
        log.warning("sweep could not hand %d timers to workers: %s", len(ids), exc)
        return False

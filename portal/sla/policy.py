"""Which limit applies to a case's step or clock: the most specific policy row wins
(class and channel > class > channel > default), else the PROCEDURES.md §4 default."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401  (the session event below)
from flask import g, has_app_context

from portal.extensions import db
from portal.sla.due import ROUND_THE_CLOCK, Limit, WorkCalendar, deadline
from portal.sla.enums import DayKind
from portal.sla.models import DEFAULT_REMINDERS, Holiday, SlaPolicy
from portal.steps import Clock, Step

# PROCEDURES.md §4, used when the table holds no row for a step or clock.
DEFAULT_MINUTES = {
    Step.VERIFY: 30, Step.SUPPLEMENT: 24 * 60, Step.DISPATCH: 10, Step.ACKNOWLEDGE: 15,
    Step.INVESTIGATE: 4 * 60, Step.APPROVE: 2 * 60, Step.IMPLEMENT: 20 * 60,
    Step.CALLBACK: 4 * 60, Step.SIGN_OFF: 24 * 60,
    Clock.PROGRESS_CHECK: 60, Clock.SOLUTION: 4 * 60, Clock.RESOLVED: 24 * 60,
    Clock.SIGNED: 48 * 60, Clock.ON_SITE: 24 * 60, Clock.REVISIT: 7 * 24 * 60,
}
# Off unless an administrator turns it on: the demo company repairs no equipment on site.
DEFAULT_INACTIVE = {Clock.ON_SITE}


def _key(value) -> str | None:
    return getattr(value, "value", value) or None


def _limit(row: SlaPolicy) -> Limit:
    return Limit(minutes=row.minutes, calendar=row.calendar,
                 reminder_percents=tuple(int(p) for p in (row.reminder_percents or ())),
                 breach_action=row.breach_action, repeat_minutes=row.repeat_minutes,
                 active=bool(row.active))


def default_limit(target: Step | Clock) -> Limit:
    return Limit(minutes=DEFAULT_MINUTES[target], calendar=ROUND_THE_CLOCK,
                 reminder_percents=tuple(DEFAULT_REMINDERS), active=target not in DEFAULT_INACTIVE)


def _rows(target: Step | Clock) -> list[tuple[int, str | None, str | None, Limit]]:
    """(id, klass, channel, limit) of the target's policies, read once per app context (a sweep
    resolves hundreds of cases; the table is a few dozen rows)."""
    table = g.get("_sla_policies") if has_app_context() else None
    if table is None:
        table = {}
        for row in db.session.execute(sa.select(SlaPolicy).order_by(SlaPolicy.id)).scalars():
            table.setdefault(row.target, []).append((row.id, row.klass, row.channel, _limit(row)))
        if has_app_context():
            g._sla_policies = table
    return table.get(target, [])


def _best(target: Step | Clock, klass=None, channel=None):
    klass, channel = _key(klass), _key(channel)
    best, best_score = None, -1
    for row in _rows(target):
        _id, row_klass, row_channel, _lim = row
        if row_klass not in (None, klass) or row_channel not in (None, channel):
            continue
        score = (row_klass is not None) * 2 + (row_channel is not None)
        if score >= best_score:  # on a tie the newer row
            best, best_score = row, score
    return best


def best_policy(target: Step | Clock, klass=None, channel=None) -> SlaPolicy | None:
    """The policy row that applies (for the admin pages)."""
    row = _best(target, klass, channel)
    return db.session.get(SlaPolicy, row[0]) if row else None


def resolve(target: Step | Clock, klass=None, channel=None) -> Limit:
    """The limit for a step or case clock of a case of `klass` from `channel`."""
    row = _best(target, klass, channel)
    return row[3] if row is not None else default_limit(target)


def limit_for(step: Step, klass=None, channel=None) -> tuple[float, str]:
    limit = resolve(step, klass, channel)
    return limit.minutes, limit.calendar


# ---------------------------------------------------------------- the holiday calendar

def load_calendar() -> WorkCalendar:
    rows = db.session.execute(sa.select(Holiday.day, Holiday.kind)).all()
    return WorkCalendar(holidays=frozenset(d for d, k in rows if k == DayKind.HOLIDAY),
                        workdays=frozenset(d for d, k in rows if k == DayKind.WORKDAY))


def work_calendar() -> WorkCalendar:
    """Holidays and make-up days, read once per app context (a request, a job)."""
    if not has_app_context():
        return load_calendar()
    cal = g.get("_sla_work_calendar")
    if cal is None:
        cal = g._sla_work_calendar = load_calendar()
    return cal


def forget_calendar() -> None:
    """After the policies or the holiday table changed in this app context."""
    if has_app_context():
        g.pop("_sla_work_calendar", None)
        g.pop("_sla_policies", None)


@sa.event.listens_for(sa.orm.Session, "after_flush")
def _changed(session, _ctx):
    if any(isinstance(o, (Holiday, SlaPolicy)) for o in (*session.new, *session.dirty, *session.deleted)):
        forget_calendar()


@sa.event.listens_for(sa.orm.Session, "do_orm_execute")
def _bulk_changed(state):
    # sa.delete(SlaPolicy) / sa.update(Holiday) bypass the flush.
    if (state.is_delete or state.is_update or state.is_insert) and any(
            m.class_ in (Holiday, SlaPolicy) for m in state.all_mappers):
        forget_calendar()


def step_due(step: Step, start: datetime, klass=None, channel=None) -> datetime:
    """The due time of a step entered at `start` (used when a case enters a step)."""
    return deadline(resolve(step, klass, channel), start, work_calendar())

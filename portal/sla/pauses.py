"""Pauses of a case's clocks: while the case waits on the submitter or the customer nothing
counts. The calling operation commits (the pause is part of its transaction and audit event)."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.clock import as_utc, utcnow
from portal.extensions import db
from portal.sla.due import Pause
from portal.sla.models import CasePause


def open_pause(case_id: int) -> CasePause | None:
    return db.session.execute(
        sa.select(CasePause).where(CasePause.case_id == case_id, CasePause.ended_at.is_(None))
        .order_by(CasePause.started_at.desc())).scalars().first()


def pause_case(case, reason: str, now: datetime | None = None) -> CasePause:
    """Stop the case's clocks from `now`; a case already paused keeps its first pause."""
    current = open_pause(case.id)
    if current is not None:
        return current
    pause = CasePause(case_id=case.id, started_at=now or utcnow(), reason=(reason or "")[:200])
    db.session.add(pause)
    db.session.flush()
    return pause


def resume_case(case, now: datetime | None = None) -> timedelta:
    """End the open pause; the wall-clock time it lasted (zero if the case was not paused).
    Deadlines move on by it counted in their own calendar: `deadline(..., pauses=pauses_of(id))`
    or `due.shift(due, pause.started_at, pause.ended_at, calendar, cal)`."""
    current = open_pause(case.id)
    if current is None:
        return timedelta(0)
    now = now or utcnow()
    current.ended_at = max(as_utc(now), as_utc(current.started_at))
    db.session.flush()
    return as_utc(current.ended_at) - as_utc(current.started_at)


def pauses_of(case_id: int) -> list[Pause]:
    """The case's pauses as (started, ended) pairs, oldest first, for `deadline(pauses=...)`."""
    rows = db.session.execute(
        sa.select(CasePause.started_at, CasePause.ended_at).where(CasePause.case_id == case_id)
        .order_by(CasePause.started_at)).all()
    return [(as_utc(s), as_utc(e)) for s, e in rows]


def case_pauses(case_id: int) -> list[CasePause]:
    """For the case page: every pause, newest first."""
    return db.session.execute(sa.select(CasePause).where(CasePause.case_id == case_id)
                              .order_by(CasePause.started_at.desc())).scalars().all()


def is_paused(case_id: int) -> bool:
    return open_pause(case_id) is not None

"""Which limit applies to a case's step: the most specific policy row wins."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from portal.cases.states import Step
from portal.extensions import db
from portal.sla.due import due_at
from portal.sla.models import SlaPolicy

# PROCEDURES.md §4, used when the table holds no row for a step.
DEFAULT_MINUTES = {
    Step.VERIFY: 30, Step.SUPPLEMENT: 24 * 60, Step.DISPATCH: 10, Step.ACKNOWLEDGE: 15,
    Step.INVESTIGATE: 4 * 60, Step.APPROVE: 2 * 60, Step.IMPLEMENT: 20 * 60,
    Step.CALLBACK: 4 * 60, Step.SIGN_OFF: 24 * 60,
}


def limit_for(step: Step, klass=None, channel=None) -> tuple[int, str]:
    rows = db.session.execute(sa.select(SlaPolicy).where(SlaPolicy.step == step)).scalars().all()
    best, best_score = None, -1
    for row in rows:
        if row.klass not in (None, klass) or row.channel not in (None, channel):
            continue
        score = (row.klass is not None) * 2 + (row.channel is not None)
        if score > best_score:
            best, best_score = row, score
    if best is None:
        return DEFAULT_MINUTES[step], "24x7"
    return best.minutes, best.calendar


def step_due(step: Step, start: datetime, klass=None, channel=None) -> datetime:
    minutes, calendar = limit_for(step, klass, channel)
    return due_at(start, minutes, calendar)

"""Due times: 24×7 for serious cases, working hours with holidays for the rest."""
from datetime import date, datetime, timezone

import sqlalchemy as sa

from portal.cases.enums import Klass
from portal.cases.states import Step
from portal.clock import SHANGHAI
from portal.extensions import db
from portal.sla.due import due_at
from portal.sla.models import SlaPolicy
from portal.sla.policy import limit_for


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_round_the_clock_limit_counts_nights_and_weekends():
    assert due_at(sh(2026, 11, 27, 23, 50), 30) == sh(2026, 11, 28, 0, 20).astimezone(timezone.utc)


def test_working_hours_carry_over_the_weekend():
    # Friday 16:00 + 2 working hours = Monday 09:30 (90 min on Friday, 30 on Monday).
    assert due_at(sh(2026, 11, 27, 16, 0), 120, "working") == sh(2026, 11, 30, 9, 0).astimezone(timezone.utc)


def test_working_hours_start_next_morning_after_hours_and_skip_holidays():
    holidays = frozenset({date(2026, 12, 1)})
    # Monday 20:00, the next day is a holiday: the clock starts Wednesday 08:30.
    assert due_at(sh(2026, 11, 30, 20, 0), 30, "working", holidays) == sh(2026, 12, 2, 9, 0).astimezone(timezone.utc)


def test_most_specific_policy_wins(app):
    db.session.add(SlaPolicy(step=Step.VERIFY, klass=Klass.SERIOUS, minutes=10, calendar="24x7"))
    db.session.commit()
    assert limit_for(Step.VERIFY, Klass.SERIOUS) == (10, "24x7")
    assert limit_for(Step.VERIFY, Klass.GENERAL) == (30, "24x7")  # the seeded default


def test_missing_policy_falls_back_to_procedure_defaults(app):
    db.session.execute(sa.delete(SlaPolicy))
    db.session.commit()
    assert limit_for(Step.ACKNOWLEDGE) == (15, "24x7")

"""Time-limit records: the policy of each step or case clock per class (and optionally channel),
the holiday calendar with its make-up working days (调休), and the pauses of a case's clocks.

Class and channel are kept as their string values so this domain needs nothing from
portal.cases (the case passes `case.klass` / `case.channel`, str enums that compare equal)."""
import sqlalchemy as sa

from portal.extensions import db
from portal.models_base import enum_type, utc_column
from portal.sla.enums import BreachAction, CalendarKind, DayKind
from portal.steps import Clock, Step

DEFAULT_REMINDERS = [50, 80]


class _Value(sa.types.TypeDecorator):
    """A string column that also takes a str enum (stores its value)."""
    impl = sa.String(32)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return getattr(value, "value", value)


class SlaPolicy(db.Model):
    __tablename__ = "sla_policy"
    id = sa.Column(sa.Integer, primary_key=True)
    step = sa.Column(enum_type(Step))    # exactly one of step / clock
    clock = sa.Column(enum_type(Clock))
    klass = sa.Column(_Value)    # NULL: the default for every class
    channel = sa.Column(_Value)  # NULL: any channel
    minutes = sa.Column(sa.Float, nullable=False)  # fractions allowed (tests use seconds)
    calendar = sa.Column(sa.String(16), nullable=False, default=CalendarKind.ROUND_THE_CLOCK.value)
    reminder_percents = sa.Column(sa.JSON, nullable=False, default=lambda: list(DEFAULT_REMINDERS))
    breach_action = sa.Column(sa.String(16), nullable=False, default=BreachAction.ESCALATE.value)
    repeat_minutes = sa.Column(sa.Float)  # for breach_action "repeat": remind again every N min
    active = sa.Column(sa.Boolean, nullable=False, default=True)

    __table_args__ = (
        sa.CheckConstraint("(step IS NULL) <> (clock IS NULL)", name="one_target"),
        sa.CheckConstraint("minutes >= 0", name="minutes_not_negative"),
    )

    @property
    def target(self) -> Step | Clock:
        return self.step or self.clock


class Holiday(db.Model):
    """One calendar day that differs from the week's rule: a holiday on a weekday, or a
    Saturday/Sunday worked in exchange (调休). Entered per year from the State Council notice."""
    __tablename__ = "holiday"
    id = sa.Column(sa.Integer, primary_key=True)
    day = sa.Column(sa.Date, nullable=False, unique=True)
    kind = sa.Column(enum_type(DayKind, 16), nullable=False)
    name = sa.Column(sa.String(40), nullable=False, default="")


class CasePause(db.Model):
    """A stretch in which the case waits on the submitter or the customer: its clocks stop."""
    __tablename__ = "case_pause"
    id = sa.Column(sa.Integer, primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), nullable=False)
    started_at = utc_column(nullable=False)
    ended_at = utc_column()  # NULL while the case is paused
    reason = sa.Column(sa.String(200), nullable=False, default="")

    __table_args__ = (sa.Index("ix_case_pause_case", "case_id", "started_at"),)

"""The escalation ladder (PROCEDURES.md §5), what each case climbed of it, and its timers."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.cases.states import Step
from portal.escalation.enums import Trigger, Who
from portal.extensions import db
from portal.models_base import created_column, enum_type, utc_column
from portal.org.enums import Role

# What a ladder recipient may be told through; "robot" is the unit's group robots (H3's UnitRobot).
LADDER_CHANNELS = ("sms", "email", "robot", "inapp")


class LadderLevel(db.Model):
    """One rung: level 1 fires at the breach, each higher one `after_minutes` after the one below,
    if the step is still not done."""
    __tablename__ = "ladder_level"
    id = sa.Column(sa.Integer, primary_key=True)
    level = sa.Column(sa.Integer, nullable=False, unique=True)
    name = sa.Column(sa.String(60), nullable=False)
    after_minutes = sa.Column(sa.Float, nullable=False, default=0)
    active = sa.Column(sa.Boolean, nullable=False, default=True)

    recipients = relationship("LadderRecipient", back_populates="level_row", order_by="LadderRecipient.id",
                              cascade="all, delete-orphan", lazy="selectin")


class LadderRecipient(db.Model):
    """Who a level tells: the leaders of the unit holding the step, everyone with a role (in a
    unit, or anywhere), or a named person; optionally only for cases of one product or
    production line (the heavy-equipment procedure names contacts per product line)."""
    __tablename__ = "ladder_recipient"
    id = sa.Column(sa.Integer, primary_key=True)
    level_id = sa.Column(sa.Integer, sa.ForeignKey("ladder_level.id", ondelete="CASCADE"), nullable=False,
                         index=True)
    who = sa.Column(enum_type(Who), nullable=False)
    role = sa.Column(enum_type(Role))
    unit_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"))
    user_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    product_id = sa.Column(sa.Integer, sa.ForeignKey("product.id"))
    line = sa.Column(sa.String(40))  # Batch.line, e.g. 1号线
    channels = sa.Column(sa.JSON, nullable=False)  # subset of LADDER_CHANNELS

    level_row = relationship("LadderLevel", back_populates="recipients")
    unit = relationship("OrgUnit")
    user = relationship("User")
    product = relationship("Product")


class CaseEscalation(db.Model):
    """A case went up the ladder (or was reminded at a breach): why, from which step, and
    exactly what was sent to whom."""
    __tablename__ = "case_escalation"
    id = sa.Column(sa.Integer, primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), nullable=False, index=True)
    level = sa.Column(sa.Integer, nullable=False)
    trigger = sa.Column(enum_type(Trigger), nullable=False)
    step = sa.Column(enum_type(Step))
    clock = sa.Column(sa.String(24))
    reason = sa.Column(sa.Text, nullable=False)
    at = utc_column(nullable=False)
    actor_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))  # None: the clock did it
    # [{"user_id": …, "name": …, "channels": [...]}, {"robot_id": …, "name": …}]
    recipients = sa.Column(sa.JSON, nullable=False)
    message_ids = sa.Column(sa.JSON, nullable=False)
    # One escalation per cause: the timer, trigger event or level it came from.
    key = sa.Column(sa.String(160), nullable=False, unique=True)

    actor = relationship("User")


class CaseTimer(db.Model):
    """Something that must happen at `fire_at` unless the step (or clock) it belongs to has
    ended: a breach, the next rung of the ladder, a repeated reminder, a case clock.

    Fired once: the claim (fired_at set where it was NULL) commits with its effects."""
    __tablename__ = "case_timer"
    id = sa.Column(sa.Integer, primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), nullable=False, index=True)
    kind = sa.Column(sa.String(16), nullable=False)  # breach | ladder | repeat | clock
    step = sa.Column(enum_type(Step))  # the step entry it belongs to (None: a case clock)
    clock = sa.Column(sa.String(24))
    step_started_at = utc_column()  # which entry of the step (a step can be entered again)
    level = sa.Column(sa.Integer)  # ladder: the level to climb to
    fire_at = utc_column(nullable=False)
    fired_at = utc_column()
    cancelled_at = utc_column()
    outcome = sa.Column(sa.String(40))
    key = sa.Column(sa.String(160), nullable=False, unique=True)
    created_at = created_column()

    __table_args__ = (
        # The sweep reads only the pending timers whose time has come: a range on this small
        # index, whatever the number of open cases.
        sa.Index("ix_case_timer_pending", "fire_at",
                 postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
                 sqlite_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL")),
    )

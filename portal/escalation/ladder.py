"""The ladder as configured: its seeded default (PROCEDURES.md §5) and who a level tells for a case."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from portal.escalation.enums import Who
from portal.escalation.models import LADDER_CHANNELS, LadderLevel, LadderRecipient
from portal.extensions import db
from portal.org.enums import Role
from portal.org.models import User, UserRole

# handler → handler's department leader → service manager / headquarters complaint desk →
# company leadership. Level 0 is the step's own holders (they get the reminders).
SEED = [  # level, name, minutes after the level below, [(who, role, unit code, channels)]
    (1, "责任部门领导", 0, [(Who.STEP_LEADERS, None, None, ("sms", "email", "robot", "inapp"))]),
    (2, "客服经理/总部投诉专席", 60, [(Who.ROLE, Role.LEADER, "CS", ("sms", "email", "robot", "inapp")),
                                     (Who.ROLE, Role.DESK, "CS", ("email", "inapp"))]),
    (3, "公司领导", 120, [(Who.ROLE, Role.LEADER, "HQ", ("sms", "email", "inapp"))]),
]


def seed_ladder(units: dict) -> None:
    """The default ladder, unless one is configured (idempotent; called by seed_reference)."""
    if db.session.execute(sa.select(LadderLevel.id)).first():
        return
    for level, name, after, recipients in SEED:
        row = LadderLevel(level=level, name=name, after_minutes=after, active=True)
        for who, role, unit_code, channels in recipients:
            unit = units.get(unit_code) if unit_code else None
            if unit_code and unit is None:
                continue
            row.recipients.append(LadderRecipient(who=who, role=role, unit=unit, channels=list(channels)))
        db.session.add(row)
    db.session.flush()


def levels() -> list[LadderLevel]:
    """The active levels, lowest first."""
    return db.session.execute(sa.select(LadderLevel).where(LadderLevel.active.is_(True))
                              .order_by(LadderLevel.level)).scalars().all()


def level_row(level: int) -> LadderLevel | None:
    return next((row for row in levels() if row.level == level), None)


def next_level(level: int) -> LadderLevel | None:
    """The first active level above `level` (levels may be switched off)."""
    return next((row for row in levels() if row.level > level), None)


def top_level() -> LadderLevel | None:
    rows = levels()
    return rows[-1] if rows else None


@dataclass
class Audience:
    """Who one level tells about one case: people with their channels, and unit robots."""
    people: dict[int, tuple[User, set[str]]] = field(default_factory=dict)
    robot_units: set[int] = field(default_factory=set)

    def add(self, user: User, channels) -> None:
        if user is None or not user.active:
            return
        _, have = self.people.setdefault(user.id, (user, set()))
        have.update(c for c in channels if c != "robot")


def _applies(rec: LadderRecipient, case) -> bool:
    """A recipient limited to a product or production line hears only of cases on it."""
    if rec.product_id is not None and case.product_id != rec.product_id:
        return False
    if rec.line:
        batch = case.batch
        if batch is None or (batch.line or "").strip() != rec.line.strip():
            return False
    return True


def _step_units(case) -> list[int]:
    """The unit holding the step: named on the case, else the units of the people holding it
    (the desk's steps name no unit: 客服中心 holds them)."""
    unit_id = case.step_unit_id or case.responsible_unit_id
    if unit_id:
        return [unit_id]
    from portal.escalation.people import holders
    return sorted({u.unit_id for u in holders(case)})


def audience_for(row: LadderLevel, case) -> Audience:
    from portal.escalation.people import leaders_of
    out = Audience()
    for rec in row.recipients:
        if not _applies(rec, case):
            continue
        channels = [c for c in rec.channels if c in LADDER_CHANNELS]
        if rec.who == Who.STEP_LEADERS:
            for unit_id in _step_units(case):
                for leader in leaders_of(unit_id):
                    out.add(leader, channels)
                if "robot" in channels:
                    out.robot_units.add(unit_id)
        elif rec.who == Who.USER:
            out.add(rec.user, channels)
            if "robot" in channels and rec.user is not None:
                out.robot_units.add(rec.user.unit_id)
        elif rec.who == Who.ROLE and rec.role is not None:
            q = sa.select(User).join(UserRole).where(User.active.is_(True), UserRole.role == rec.role)
            if rec.unit_id is not None:
                q = q.where(User.unit_id == rec.unit_id)
            for person in db.session.execute(q.order_by(User.id)).unique().scalars():
                out.add(person, channels)
            if "robot" in channels and rec.unit_id is not None:
                out.robot_units.add(rec.unit_id)
    return out

"""手动升级: the desk or a leader takes an open case one level up the ladder, with the reason."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.cases import access
from portal.cases.models import Case
from portal.cases.states import OPEN_STATES
from portal.clock import utcnow
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.escalation import ladder
from portal.escalation.enums import Trigger
from portal.escalation.models import CaseEscalation
from portal.extensions import db
from portal.notify.outbox import hand_to_workers
from portal.org.enums import Role
from portal.signing import audit

ROLES = (Role.DESK, Role.LEADER)


def may_escalate(case: Case, user) -> bool:
    return (user is not None and getattr(user, "is_authenticated", False) and user.has_role(*ROLES)
            and case.state in OPEN_STATES and access.can_view(case, user))


def next_level(case: Case):
    return ladder.next_level(case.ladder_level)


def escalate_by_hand(case: Case, actor, *, reason: str | None, now=None) -> CaseEscalation:
    """One level above where the case stands; the escalation, its messages and the audit
    event in one transaction."""
    from portal.escalation.operations import escalate
    if not may_escalate(case, actor):
        raise PermissionDenied(_("您不能升级投诉 %(number)s。", number=case.number))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("请写明升级原因。"), {"reason": _("请写明升级原因")})
    above = next_level(case)
    if above is None:
        raise ValidationError(_("投诉 %(number)s 已在最高一级，不能再升级。", number=case.number))
    now = now or utcnow()
    key = f"case:{case.id}:manual:{above.level}"
    taken = _("投诉 %(number)s 刚刚已被升级到第 %(level)s 级。", number=case.number, level=above.level)
    if db.session.execute(sa.select(CaseEscalation.id).where(CaseEscalation.key == key)).first():
        raise Conflict(taken)
    try:
        messages = escalate(case, Trigger.MANUAL, level=above.level, key=key, actor=actor,
                            reason=f"{actor.name}手动升级：{reason[:200]}", now=now)
        audit.record("escalated_by_hand", actor=actor, object_type="case", object_id=case.id, case_id=case.id,
                     after={"ladder_level": above.level}, note=reason[:200])
        db.session.flush()
        ids = [m.id for m in messages if m.channel != "inapp"]
        db.session.commit()
    except sa.exc.IntegrityError:
        # Someone took it to this level a moment ago.
        db.session.rollback()
        raise Conflict(taken) from None
    hand_to_workers(ids)
    return db.session.execute(sa.select(CaseEscalation).where(CaseEscalation.key == key)).scalar_one()

"""Editing the ladder (admin): one operation per change, checked, audited, committed once."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from portal import refcache
from portal.errors import PermissionDenied, ValidationError
from portal.escalation.enums import Who
from portal.escalation.models import LADDER_CHANNELS, LadderLevel, LadderRecipient
from portal.extensions import db
from portal.org.enums import Role
from portal.org.models import OrgUnit, User
from portal.signing import audit


def _admin(actor: User) -> None:
    if not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("只有系统管理员可以修改升级规则。"))


def _minutes(value) -> float:
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise ValidationError(_("间隔请填写分钟数。"), {"after_minutes": _("请填写分钟数")}) from None
    if minutes < 0:
        raise ValidationError(_("间隔不能为负数。"), {"after_minutes": _("不能为负数")})
    return minutes


def _name(value) -> str:
    name = (value or "").strip()
    if not name:
        raise ValidationError(_("请填写级别名称。"), {"name": _("请填写级别名称")})
    if len(name) > 60:
        raise ValidationError(_("级别名称不能超过 60 个字。"), {"name": _("不能超过 60 个字")})
    return name


def _commit(actor: User, action: str, object_id, before=None, after=None) -> None:
    audit.record(action, actor=actor, object_type="ladder", object_id=object_id, before=before, after=after)
    db.session.commit()
    refcache.clear()  # the case pages name the levels (portal/escalation/history.level_names)


def add_level(actor: User, *, name: str, after_minutes) -> LadderLevel:
    _admin(actor)
    name, minutes = _name(name), _minutes(after_minutes)
    top = db.session.execute(sa.select(sa.func.max(LadderLevel.level))).scalar() or 0
    row = LadderLevel(level=top + 1, name=name, after_minutes=minutes, active=True)
    db.session.add(row)
    db.session.flush()
    _commit(actor, "ladder_level_added", row.id, after={"level": row.level, "name": name, "after_minutes": minutes})
    return row


def update_level(actor: User, row: LadderLevel, *, name: str, after_minutes, active: bool) -> LadderLevel:
    _admin(actor)
    name, minutes = _name(name), _minutes(after_minutes)
    before = {"name": row.name, "after_minutes": row.after_minutes, "active": row.active}
    row.name, row.after_minutes, row.active = name, minutes, bool(active)
    _commit(actor, "ladder_level_changed", row.id, before=before,
            after={"name": name, "after_minutes": minutes, "active": bool(active)})
    return row


def add_recipient(actor: User, row: LadderLevel, *, who: str | None, role: str | None = None,
                  unit_id: int | None = None, user_id: int | None = None, product_id: int | None = None,
                  line: str | None = None, channels=()) -> LadderRecipient:
    """Who the level tells, and through which channels; a role may be limited to a unit, and any
    recipient to the cases of one product or production line."""
    _admin(actor)
    who_value = Who.get(who)
    if who_value is None:
        raise ValidationError(_("请选择通知对象。"), {"who": _("请选择")})
    chosen = [c for c in LADDER_CHANNELS if c in set(channels or ())]
    if not chosen:
        raise ValidationError(_("请至少选择一种通知方式。"), {"channels": _("请至少选择一种")})
    role_value = Role.get(role)
    unit = db.session.get(OrgUnit, unit_id) if unit_id else None
    person = db.session.get(User, user_id) if user_id else None
    if unit_id and unit is None:
        raise ValidationError(_("所选部门不存在。"), {"unit_id": _("部门不存在")})
    if who_value == Who.ROLE and role_value is None:
        raise ValidationError(_("请选择角色。"), {"role": _("请选择角色")})
    if who_value == Who.USER and (person is None or not person.active):
        raise ValidationError(_("请选择在岗的人员。"), {"user_id": _("请选择在岗的人员")})
    if product_id:
        from portal.batches.models import Product
        if db.session.get(Product, product_id) is None:
            raise ValidationError(_("所选产品不存在。"), {"product_id": _("产品不存在")})
    rec = LadderRecipient(who=who_value, role=role_value if who_value == Who.ROLE else None,
                          unit_id=unit.id if unit and who_value == Who.ROLE else None,
                          user_id=person.id if who_value == Who.USER else None,
                          product_id=product_id or None, line=(line or "").strip() or None, channels=chosen)
    row.recipients.append(rec)
    db.session.flush()
    _commit(actor, "ladder_recipient_added", row.id,
            after={"level": row.level, "who": who_value, "role": rec.role, "unit_id": rec.unit_id,
                   "user_id": rec.user_id, "product_id": rec.product_id, "line": rec.line, "channels": chosen})
    return rec


def remove_recipient(actor: User, rec: LadderRecipient) -> None:
    _admin(actor)
    level = rec.level_row
    before = {"level": level.level, "who": rec.who, "role": rec.role, "unit_id": rec.unit_id,
              "user_id": rec.user_id, "channels": rec.channels}
    level.recipients.remove(rec)
    db.session.flush()
    _commit(actor, "ladder_recipient_removed", level.id, before=before)

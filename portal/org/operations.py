"""Changes to users and organisation units, made by a system administrator.

Each function checks everything first, then writes the change and its audit event and
commits them as one transaction; a broken rule raises ValidationError keyed by form field.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from portal.errors import PermissionDenied, ValidationError
from portal.extensions import db
from portal.org.enums import Role, UnitKind
from portal.org.models import OrgUnit, User
from portal.signing import audit

MIN_PASSWORD = 8
# Lower case only: the login compares usernames exactly, so one spelling per person.
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,63}$")
UNIT_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_\-]{0,31}$")


# ---------------------------------------------------------------- shared

def _require_admin(actor: User) -> None:
    if actor is None or not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("只有系统管理员可以管理用户和组织机构。"))


def _fail(errors: dict[str, str]):
    message = next(iter(errors.values())) if len(errors) == 1 else _("请修改标出的项目。")
    raise ValidationError(message, errors)


def _text(value) -> str | None:
    return (value or "").strip() or None


def _unit(unit_id) -> OrgUnit | None:
    try:
        return db.session.get(OrgUnit, int(unit_id)) if unit_id else None
    except (TypeError, ValueError):
        return None


def _save(action: str, actor: User, obj, before: dict | None, after: dict | None,
          note: str | None = None, on_duplicate: ValidationError | None = None) -> None:
    """Audit and commit the pending change, or roll all of it back."""
    object_type = "user" if isinstance(obj, User) else "org_unit"
    try:
        db.session.flush()  # a new row needs its id for the event
        audit.record(action, actor=actor, object_type=object_type, object_id=obj.id,
                     before=before, after=after, note=note)
        db.session.commit()
    except IntegrityError:
        # Another admin saved the same username or code between our check and our write.
        db.session.rollback()
        if on_duplicate is None:
            raise
        raise on_duplicate from None
    except Exception:
        db.session.rollback()
        raise


def _changes(before: dict, after: dict) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


# ---------------------------------------------------------------- users

def _user_snapshot(user: User) -> dict:
    return {"username": user.username, "name": user.name, "unit_id": user.unit_id,
            "roles": sorted(r.value for r in user.roles), "title": user.title,
            "phone": user.phone, "email": user.email, "active": bool(user.active)}


def _duplicate_username(username: str) -> ValidationError:
    message = _("用户名「%(username)s」已被使用，请换一个。", username=username)
    return ValidationError(message, {"username": message})


def _check_user(actor: User, data: dict, user: User | None) -> dict:
    """The cleaned values, or ValidationError naming every field that is wrong."""
    errors: dict[str, str] = {}
    editing_self = user is not None and user.id == actor.id
    clean = {k: _text(data.get(k)) for k in ("name", "title", "phone", "email")}
    if not clean["name"]:
        errors["name"] = _("请填写姓名。")

    unit = _unit(data.get("unit_id"))
    # A user may stay in a unit that was deactivated since, but nobody is moved into one.
    if unit is None or not (unit.active or (user is not None and unit.id == user.unit_id)):
        errors["unit_id"] = _("请选择在用的所属机构。")
    else:
        clean["unit_id"] = unit.id

    roles = {Role.get(r) for r in data.get("roles") or ()}
    if None in roles:
        errors["roles"] = _("角色无效。")
    elif not roles:
        errors["roles"] = _("请至少选择一个角色。")
    elif editing_self and Role.ADMIN not in roles:
        errors["roles"] = _("不能取消自己的系统管理员角色。")
    clean["roles"] = roles

    password = data.get("password") or ""
    if (user is None or password) and len(password) < MIN_PASSWORD:
        errors["password"] = _("密码至少 %(n)s 位。", n=MIN_PASSWORD)
    clean["password"] = password or None

    if "active" in data:
        clean["active"] = bool(data["active"])
        if editing_self and not clean["active"]:
            errors["active"] = _("不能停用自己的账号。")

    if user is None:
        username = (data.get("username") or "").strip().lower()
        if not USERNAME.match(username):
            errors["username"] = _("用户名为 2–64 位字母、数字或 . _ -，以字母或数字开头。")
        elif db.session.execute(sa.select(User.id).where(
                sa.func.lower(User.username) == username)).first():
            errors["username"] = _duplicate_username(username).message
        clean["username"] = username

    if errors:
        _fail(errors)
    return clean


def create_user(actor: User, data: dict) -> User:
    _require_admin(actor)
    clean = _check_user(actor, data, None)
    user = User(username=clean["username"], name=clean["name"], unit_id=clean["unit_id"],
                title=clean["title"], phone=clean["phone"], email=clean["email"],
                active=clean.get("active", True))
    user.set_password(clean["password"])
    user.roles = clean["roles"]
    db.session.add(user)
    _save("user_created", actor, user, None, _user_snapshot(user),
          on_duplicate=_duplicate_username(user.username))
    return user


def update_user(actor: User, user: User, data: dict) -> User:
    """Name, unit, roles, contact details, active; a new password if one is given."""
    _require_admin(actor)
    clean = _check_user(actor, data, user)
    before = _user_snapshot(user)
    for key in ("name", "unit_id", "title", "phone", "email"):
        setattr(user, key, clean[key])
    user.roles = clean["roles"]
    if "active" in clean and clean["active"] != user.active:
        _set_active(user, clean["active"])
    if clean["password"]:
        user.set_password(clean["password"])  # also ends the user's other sessions
    old, new = _changes(before, _user_snapshot(user))
    if not new and not clean["password"]:
        return user  # nothing changed: no event
    _save("user_updated", actor, user, old, new,
          note="管理员重设了密码" if clean["password"] else None)
    return user


def _set_active(user: User, active: bool) -> None:
    user.active = active
    if not active:
        # load_user already refuses inactive users; ending their sessions also keeps old
        # session cookies dead if the account is reactivated later.
        from portal.auth.session import end_other_sessions
        end_other_sessions(user.id)


def deactivate_user(actor: User, user: User) -> User:
    _require_admin(actor)
    if user.id == actor.id:
        raise ValidationError(_("不能停用自己的账号。"), {"active": _("不能停用自己的账号。")})
    if not user.active:
        return user
    _set_active(user, False)
    _save("user_deactivated", actor, user, {"active": True}, {"active": False})
    return user


def reactivate_user(actor: User, user: User) -> User:
    _require_admin(actor)
    if user.active:
        return user
    if not user.unit.active:
        raise ValidationError(_("所属机构「%(unit)s」已停用，请先把该用户调到在用的机构。", unit=user.unit.name),
                              {"unit_id": _("所属机构已停用。")})
    _set_active(user, True)
    _save("user_reactivated", actor, user, {"active": False}, {"active": True})
    return user


# ---------------------------------------------------------------- units

def _unit_snapshot(unit: OrgUnit) -> dict:
    return {"code": unit.code, "name": unit.name, "kind": unit.kind.value,
            "parent_id": unit.parent_id, "active": bool(unit.active)}


def _duplicate_code(code: str) -> ValidationError:
    message = _("编码「%(code)s」已被其他机构使用。", code=code)
    return ValidationError(message, {"code": message})


def _check_unit(data: dict, unit: OrgUnit | None) -> dict:
    errors: dict[str, str] = {}
    name = _text(data.get("name"))
    if not name:
        errors["name"] = _("请填写机构名称。")

    code = (data.get("code") or "").strip().upper()
    if not UNIT_CODE.match(code):
        errors["code"] = _("编码为 1–32 位字母、数字、- 或 _。")
    else:
        taken = db.session.execute(sa.select(OrgUnit.id).where(
            sa.func.upper(OrgUnit.code) == code, OrgUnit.id != (unit.id if unit else -1))).first()
        if taken:
            errors["code"] = _duplicate_code(code).message

    kind = UnitKind.get(data.get("kind"))
    parent = _unit(data.get("parent_id"))
    if kind is None:
        errors["kind"] = _("请选择机构类型。")
    elif data.get("parent_id") and parent is None:
        errors["parent_id"] = _("上级机构不存在。")
    elif kind == UnitKind.COMPANY:
        if parent is not None:
            errors["parent_id"] = _("公司是组织机构的根，没有上级机构。")
        other = db.session.execute(sa.select(OrgUnit).where(
            OrgUnit.kind == UnitKind.COMPANY, OrgUnit.id != (unit.id if unit else -1))).scalars().first()
        if other is not None:
            errors["kind"] = _("已有公司根机构「%(name)s」，只能有一个。", name=other.name)
    elif parent is None:
        errors["parent_id"] = _("请选择上级机构。")
    elif unit is not None and parent.id in unit.subtree_ids():
        errors["parent_id"] = _("不能把机构移到它自己或它的下级机构之下。")
    elif not parent.active and (unit is None or parent.id != unit.parent_id):
        errors["parent_id"] = _("上级机构「%(name)s」已停用。", name=parent.name)

    if errors:
        _fail(errors)
    return {"name": name, "code": code, "kind": kind, "parent_id": parent.id if parent else None}


def create_unit(actor: User, data: dict) -> OrgUnit:
    _require_admin(actor)
    clean = _check_unit(data, None)
    unit = OrgUnit(active=True, **clean)
    db.session.add(unit)
    _save("unit_created", actor, unit, None, _unit_snapshot(unit),
          on_duplicate=_duplicate_code(clean["code"]))
    return unit


def update_unit(actor: User, unit: OrgUnit, data: dict) -> OrgUnit:
    """Name, code, kind and parent (moving a unit moves everything below it)."""
    _require_admin(actor)
    clean = _check_unit(data, unit)
    before = _unit_snapshot(unit)
    for key, value in clean.items():
        setattr(unit, key, value)
    old, new = _changes(before, _unit_snapshot(unit))
    if new:
        _save("unit_updated", actor, unit, old, new, on_duplicate=_duplicate_code(clean["code"]))
    return unit


def _names(rows, limit: int = 3) -> str:
    names = [r.name for r in rows[:limit]]
    # TRANSLATORS: "、" separates the items of a list of names.
    joined = _("、").join(names)
    return _("%(names)s等", names=joined) if len(rows) > limit else joined


def deactivate_unit(actor: User, unit: OrgUnit) -> OrgUnit:
    """Only an empty unit: its people, sub-units and open cases must go elsewhere first."""
    from portal.cases.models import Case  # cases depend on org; only this check looks back
    from portal.cases.states import OPEN_STATES
    _require_admin(actor)
    if not unit.active:
        return unit
    if unit.parent_id is None:
        raise ValidationError(_("公司根机构不能停用。"))
    users = db.session.execute(sa.select(User).where(User.unit_id == unit.id, User.active)
                               .order_by(User.username)).unique().scalars().all()
    children = db.session.execute(sa.select(OrgUnit).where(OrgUnit.parent_id == unit.id, OrgUnit.active)
                                  .order_by(OrgUnit.code)).scalars().all()
    open_cases = db.session.execute(sa.select(sa.func.count()).select_from(Case).where(
        Case.step_unit_id == unit.id, Case.state.in_(OPEN_STATES))).scalar_one()
    reasons = []
    if users:
        reasons.append(_("还有 %(n)s 名在用用户（%(names)s），请先把他们调到其他机构或停用",
                         n=len(users), names=_names(users)))
    if children:
        reasons.append(_("还有 %(n)s 个在用下级机构（%(names)s），请先停用或移走",
                         n=len(children), names=_names(children)))
    if open_cases:
        reasons.append(_("还有 %(n)s 件未结投诉等待该机构处理，请先改派", n=open_cases))
    if reasons:
        # TRANSLATORS: "；" separates the reasons of one sentence.
        raise ValidationError(_("「%(name)s」不能停用：%(reasons)s。", name=unit.name, reasons=_("；").join(reasons)))
    unit.active = False
    _save("unit_deactivated", actor, unit, {"active": True}, {"active": False})
    return unit


def reactivate_unit(actor: User, unit: OrgUnit) -> OrgUnit:
    _require_admin(actor)
    if unit.active:
        return unit
    if unit.parent is not None and not unit.parent.active:
        raise ValidationError(_("上级机构「%(name)s」已停用，请先启用上级机构。", name=unit.parent.name))
    unit.active = True
    _save("unit_reactivated", actor, unit, {"active": False}, {"active": True})
    return unit

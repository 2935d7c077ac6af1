"""The cause tree (原因分类) and the compensation rules (PROCEDURES.md §6–7), kept by a system
administrator. Each function checks everything first, then writes the change and its audit
event and commits them as one transaction; a broken rule raises ValidationError keyed by
form field, and nothing is written.

The tree has two levels (a cause and its kinds: 产品质量 → 异物), as the verify form offers
them. A category in use (by a case or a rule) is never deleted, only deactivated: the cases
filed under it keep their cause.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from portal.cases.enums import Klass
from portal.cases.models import Approver, Case, Category, CompensationRule
from portal import refcache
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.extensions import db
from portal.jsonutil import jsonable, sha256_of
from portal.org.enums import Role
from portal.signing import audit

CODE = re.compile(r"^[a-z0-9][a-z0-9_]{0,18}$")  # the part after the parent's "quality."
MAX_MULTIPLE = Decimal("100")
MAX_CASH = Decimal("1000000")


def _require_admin(actor) -> None:
    if actor is None or not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("只有系统管理员可以维护原因分类和补偿规则。"))


def _fail(errors: dict[str, str]):
    message = next(iter(errors.values())) if len(errors) == 1 else _("请修改标出的项目。")
    raise ValidationError(message, errors)


def _save(action: str, actor, object_type: str, obj, before, after, on_duplicate: ValidationError):
    try:
        db.session.flush()  # a new row needs its id for the event
        audit.record(action, actor=actor, object_type=object_type, object_id=obj.id,
                     before=before, after=after)
        db.session.commit()
        refcache.clear()  # the pickers show it at once
    except IntegrityError:
        # Another admin saved the same code (or rule) between our check and our write.
        db.session.rollback()
        raise on_duplicate


def snapshot(obj) -> str:
    """What the admin saw when the form was drawn: a save over someone else's change since is
    a conflict, shown in the page (the rows have no version column; their content is one)."""
    return sha256_of(jsonable(_category_state(obj) if isinstance(obj, Category) else _rule_state(obj)))


def _check_snapshot(obj, seen: str | None) -> None:
    if seen is not None and seen != snapshot(obj):
        raise Conflict(_("另一位管理员刚刚修改了这条记录。页面已显示最新内容，请核对后重新保存。"))


# ---------------------------------------------------------------- categories

def _category_state(c: Category) -> dict:
    return {"code": c.code, "name": c.name, "parent_id": c.parent_id, "sort": c.sort, "active": c.active}


def usable_category(category_id, current_id: int | None = None) -> Category:
    """The category a case may be filed under: one that exists and is offered (active, under
    an active cause). The one a case already has stays usable after a deactivation."""
    try:
        c = db.session.get(Category, int(category_id)) if category_id else None
    except (TypeError, ValueError):
        c = None
    if c is None:
        raise ValidationError(_("原因分类不存在。"), {"category_id": _("原因分类不存在")})
    offered = c.active and (c.parent is None or c.parent.active)
    if not offered and c.id != current_id:
        raise ValidationError(_("原因分类「%(name)s」已停用，请选择其他分类。", name=c.full_name),
                              {"category_id": _("原因分类已停用")})
    return c


def category_in_use(c: Category) -> dict[str, int]:
    """How many cases and rules name the category, and how many kinds it has."""
    def n(stmt):
        return db.session.execute(stmt).scalar_one()
    return {"cases": n(sa.select(sa.func.count()).select_from(Case).where(Case.category_id == c.id)),
            "rules": n(sa.select(sa.func.count()).select_from(CompensationRule)
                       .where(CompensationRule.category_id == c.id)),
            "children": n(sa.select(sa.func.count()).select_from(Category).where(Category.parent_id == c.id))}


def _parent(c: Category | None, parent_id) -> tuple[Category | None, str | None]:
    """The new parent, or an error: only a top-level cause, never the category itself, and a
    cause with kinds of its own stays at the top (two levels)."""
    if not parent_id:
        return None, None
    try:
        parent = db.session.get(Category, int(parent_id))
    except (TypeError, ValueError):
        parent = None
    if parent is None:
        return None, _("上级分类不存在")
    if c is not None and parent.id == c.id:
        return None, _("不能把分类放在它自己下面")
    if parent.parent_id is not None:
        return None, _("只能放在一级分类下（分类最多两级）")
    if c is not None and c.id is not None and category_in_use(c)["children"]:
        return None, _("该分类有下级分类，只能作为一级分类")
    if not parent.active and (c is None or c.parent_id != parent.id):
        return None, _("上级分类已停用")
    return parent, None


def _sort(value) -> tuple[int, str | None]:
    try:
        sort = int(value if value not in (None, "") else 0)
    except (TypeError, ValueError):
        return 0, _("请输入整数")
    return sort, (None if 0 <= sort <= 9999 else _("排序号须在 0 到 9999 之间"))


def _category_fields(c: Category | None, data: dict) -> tuple[str, Category | None, int]:
    errors = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = _("请填写分类名称")
    elif len(name) > 60:
        errors["name"] = _("分类名称最多 60 个字")
    parent, err = _parent(c, data.get("parent_id"))
    if err:
        errors["parent_id"] = err
    sort, err = _sort(data.get("sort"))
    if err:
        errors["sort"] = err
    if not errors:
        clash = sa.select(Category.id).where(
            Category.name == name,
            Category.parent_id == parent.id if parent else Category.parent_id.is_(None))
        if c is not None and c.id is not None:
            clash = clash.where(Category.id != c.id)
        if db.session.execute(clash).first():
            errors["name"] = _("同一上级下已有同名分类")
    if errors:
        _fail(errors)
    return name, parent, sort


def create_category(actor, data: dict) -> Category:
    """A new cause or kind of defect. Its code (for reports and imports) is the parent's code
    and the short code given: quality.filling_foreign."""
    _require_admin(actor)
    name, parent, sort = _category_fields(None, data)
    short = (data.get("code") or "").strip().lower()
    if not CODE.match(short):
        _fail({"code": _("编码只能用小写字母、数字和 _，以字母或数字开头，最多 19 位")})
    code = f"{parent.code}.{short}" if parent else short
    if db.session.execute(sa.select(Category.id).where(Category.code == code)).first():
        _fail({"code": _("编码 %(code)s 已被使用", code=code)})
    c = Category(code=code, name=name, parent=parent, sort=sort, active=True)
    db.session.add(c)
    _save("category_created", actor, "category", c, None, _category_state(c),
          ValidationError(_("编码 %(code)s 已被使用", code=code), {"code": _("编码已被使用")}))
    return c


def update_category(actor, c: Category, data: dict, *, seen: str | None = None) -> Category:
    """Rename or move (to the top, or under another top-level cause), or re-sort. The code
    stays: reports and imports that name it keep working."""
    _require_admin(actor)
    _check_snapshot(c, seen)
    name, parent, sort = _category_fields(c, data)
    before = _category_state(c)
    c.name, c.parent, c.sort = name, parent, sort
    after = _category_state(c)
    if after == before:
        return c
    _save("category_changed", actor, "category", c, before, after,
          ValidationError(_("保存失败，请重试。")))
    return c


def set_category_active(actor, c: Category, active: bool) -> Category:
    """Deactivated: no longer offered when a case is verified (nor its kinds); cases filed
    under it keep it. A kind cannot be active under a deactivated cause."""
    _require_admin(actor)
    if c.active == active:
        return c
    if active and c.parent is not None and not c.parent.active:
        _fail({"active": _("上级分类「%(name)s」已停用，请先启用它。", name=c.parent.name)})
    before = _category_state(c)
    c.active = active
    _save("category_activated" if active else "category_deactivated", actor, "category", c,
          before, _category_state(c), ValidationError(_("保存失败，请重试。")))
    return c


def delete_category(actor, c: Category) -> None:
    """Only a category nothing names: no case, no rule, no kinds under it."""
    _require_admin(actor)
    use = category_in_use(c)
    if any(use.values()):
        raise ValidationError(_("分类「%(name)s」正在使用（%(cases)s 件投诉、%(rules)s 条补偿规则、%(children)s 个下级分类），不能删除；可以停用。",
                                name=c.name, **use))
    before = _category_state(c)
    category_id = c.id
    db.session.delete(c)
    db.session.flush()
    audit.record("category_deleted", actor=actor, object_type="category", object_id=category_id,
                 before=before, after=None)
    db.session.commit()
    refcache.clear()


# ---------------------------------------------------------------- compensation rules

def _rule_state(r: CompensationRule) -> dict:
    return {"klass": r.klass, "category_id": r.category_id, "max_multiple": r.max_multiple,
            "max_cash": r.max_cash, "always_needs_approval": bool(r.always_needs_approval),
            "approver": r.approver, "note": r.note}


def _decimal(value, limit: Decimal, errors: dict, field: str, label: str) -> Decimal | None:
    text = str(value if value is not None else "").strip().replace("，", ".").replace(",", ".")
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        errors[field] = _("%(label)s须是数字", label=label)
        return None
    if not number.is_finite() or number < 0 or number > limit:
        errors[field] = _("%(label)s须在 0 到 %(limit)s 之间", label=label, limit=f"{limit:f}")
    elif number != number.quantize(Decimal("0.01")):
        errors[field] = _("%(label)s最多两位小数", label=label)
    return number


def _rule_fields(r: CompensationRule | None, data: dict) -> dict:
    errors: dict[str, str] = {}
    klass = Klass.get(data.get("klass"))
    if klass is None:
        errors["klass"] = _("请选择投诉类别")
    category = None
    if data.get("category_id"):
        try:
            category = db.session.get(Category, int(data["category_id"]))
        except (TypeError, ValueError):
            category = None
        if category is None:
            errors["category_id"] = _("原因分类不存在")
        elif not category.active and (r is None or r.category_id != category.id):
            errors["category_id"] = _("原因分类已停用")
    approver = Approver.get(data.get("approver")) or Approver.DEPARTMENT
    fields = {
        "klass": klass, "category_id": category.id if category else None,
        "max_multiple": _decimal(data.get("max_multiple"), MAX_MULTIPLE, errors, "max_multiple", _("产品倍数上限")),
        "max_cash": _decimal(data.get("max_cash"), MAX_CASH, errors, "max_cash", _("现金上限")),
        "always_needs_approval": bool(data.get("always_needs_approval")), "approver": approver,
        "note": (data.get("note") or "").strip() or None,
    }
    if fields["note"] and len(fields["note"]) > 200:
        errors["note"] = _("说明最多 200 个字")
    if not errors:
        clash = sa.select(CompensationRule.id).where(
            CompensationRule.klass == klass,
            CompensationRule.category_id == fields["category_id"] if category
            else CompensationRule.category_id.is_(None))
        if r is not None and r.id is not None:
            clash = clash.where(CompensationRule.id != r.id)
        if db.session.execute(clash).first():
            errors["category_id"] = (_("%(klass)s类「%(category)s」已有补偿规则，请修改那一条", klass=klass.label,
                                       category=category.full_name) if category
                                     else _("%(klass)s类已有默认规则（任何原因），请修改那一条", klass=klass.label))
    if errors:
        _fail(errors)
    return fields


def _duplicate_rule() -> ValidationError:
    return ValidationError(_("同一类别和原因的补偿规则已存在。"), {"category_id": _("已有同样的规则")})


def create_rule(actor, data: dict) -> CompensationRule:
    """A class's default rule (any cause) or a rule for one cause and its kinds (§7: a foreign
    object in the skin 1:5, in the filling 1:10); the most specific one applies."""
    _require_admin(actor)
    r = CompensationRule(**_rule_fields(None, data))
    db.session.add(r)
    _save("compensation_rule_created", actor, "compensation_rule", r, None, _rule_state(r), _duplicate_rule())
    return r


def update_rule(actor, r: CompensationRule, data: dict, *, seen: str | None = None) -> CompensationRule:
    """From the next proposal on; a proposal already assessed keeps its reasons."""
    _require_admin(actor)
    _check_snapshot(r, seen)
    fields = _rule_fields(r, data)
    before = _rule_state(r)
    for name, value in fields.items():
        setattr(r, name, value)
    after = _rule_state(r)
    if jsonable(after) == jsonable(before):
        return r
    _save("compensation_rule_changed", actor, "compensation_rule", r, before, after, _duplicate_rule())
    return r


def delete_rule(actor, r: CompensationRule, *, seen: str | None = None) -> None:
    """Rules are settings, not records: a case never points at one (its reasons are stored)."""
    _require_admin(actor)
    _check_snapshot(r, seen)
    before, rule_id = _rule_state(r), r.id
    db.session.delete(r)
    db.session.flush()
    audit.record("compensation_rule_deleted", actor=actor, object_type="compensation_rule",
                 object_id=rule_id, before=before, after=None)
    db.session.commit()

"""Changes to the product and batch register, made by a system administrator.

Each function checks everything first (portal/catalog/rules.py, the same rules the import
applies), then writes the change and its audit event and commits them as one transaction;
a broken rule raises ValidationError keyed by form field, an edit of a record changed since
its form was loaded raises Conflict.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal.batches.models import Batch, Product
from portal.catalog import rules
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.extensions import db
from portal.org.enums import Role, UnitKind
from portal.org.models import OrgUnit, User
from portal.signing import audit


def require_admin(actor: User) -> None:
    if actor is None or not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("只有系统管理员可以维护产品和批号。"))


def _fail(errors: dict[str, str]):
    message = next(iter(errors.values())) if len(errors) == 1 else _("请修改标出的项目。")
    raise ValidationError(message, errors)


def _check_version(obj, version, stale: str) -> None:
    if version is not None and str(version) != str(obj.version):
        raise Conflict(stale)


def _save(reg: _Register, action: str, actor: User, obj, before: dict | None,
          after: dict | None) -> None:
    """Audit and commit the pending change, or roll all of it back."""
    try:
        db.session.flush()  # a new row needs its id for the event
        audit.record(f"{reg.name}_{action}", actor=actor, object_type=reg.name, object_id=obj.id,
                     before=before, after=after)
        db.session.commit()
    except IntegrityError:
        # Another admin (or an import) saved the same code between our check and our write.
        db.session.rollback()
        raise reg.duplicate(obj) from None
    except StaleDataError:
        db.session.rollback()
        raise Conflict(reg.stale(obj)) from None
    except Exception:
        db.session.rollback()
        raise


def _changes(before: dict, after: dict) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


# ---------------------------------------------------------------- products

def _product_snapshot(p: Product) -> dict:
    return {"code": p.code, "name": p.name, "spec": p.spec,
            "unit_price": str(p.unit_price) if p.unit_price is not None else None,
            "active": bool(p.active)}


def _duplicate_product(code: str) -> ValidationError:
    message = _("产品编码「%(code)s」已被使用。", code=code)
    return ValidationError(message, {"code": message})


def _product_stale(p: Product) -> str:
    return _("产品 %(code)s 已被他人修改。请重新打开本页查看最新内容后再保存。", code=p.code)


def _check_product(data: dict, product: Product | None) -> dict:
    values, errors = rules.clean(data, rules.product_fields())
    if "code" in values and db.session.execute(sa.select(Product.id).where(
            Product.code == values["code"], Product.id != (product.id if product else -1))).first():
        errors["code"] = _duplicate_product(values["code"]).message
    if errors:
        _fail(errors)
    return values


def create_product(actor: User, data: dict) -> Product:
    return _create(_PRODUCTS, actor, data)


def update_product(actor: User, product: Product, data: dict, version) -> Product:
    return _update(_PRODUCTS, actor, product, data, version)


def set_product_active(actor: User, product: Product, active: bool, version) -> Product:
    """An inactive product is no longer offered at intake; its batches and cases stay."""
    return _set_active(_PRODUCTS, actor, product, active, version)


# ---------------------------------------------------------------- batches

def _batch_snapshot(b: Batch) -> dict:
    return {"batch_no": b.batch_no, "product_id": b.product_id,
            "production_date": b.production_date.isoformat() if b.production_date else None,
            "production_unit_id": b.production_unit_id, "line": b.line, "shift": b.shift,
            "quantity": b.quantity, "shipped_regions": list(b.shipped_regions or []),
            "active": bool(b.active)}


def _duplicate_batch(batch_no: str) -> ValidationError:
    message = _("批号「%(batch_no)s」已在批号登记中。", batch_no=batch_no)
    return ValidationError(message, {"batch_no": message})


def _batch_stale(b: Batch) -> str:
    return _("批号 %(batch_no)s 已被他人修改。请重新打开本页查看最新内容后再保存。", batch_no=b.batch_no)


def production_units(keep: int | None = None) -> list[OrgUnit]:
    """Where a batch may be made: active departments (and the one it names, if retired)."""
    return db.session.execute(
        sa.select(OrgUnit).where(OrgUnit.kind == UnitKind.DEPARTMENT,
                                 sa.or_(OrgUnit.active.is_(True), OrgUnit.id == (keep or -1)))
        .order_by(OrgUnit.code)).scalars().all()


def batch_products(keep: int | None = None) -> list[Product]:
    """What a batch may be of: active products (and the one it names, if retired)."""
    return db.session.execute(
        sa.select(Product).where(sa.or_(Product.active.is_(True), Product.id == (keep or -1)))
        .order_by(Product.code)).scalars().all()


def _by_id(model, value):
    try:
        return db.session.get(model, int(value)) if value else None
    except (TypeError, ValueError):
        return None


def _check_batch(data: dict, batch: Batch | None) -> dict:
    values, errors = rules.clean(data, rules.batch_fields())
    product = _by_id(Product, data.get("product_id"))
    if product is None or not (product.active or (batch and product.id == batch.product_id)):
        errors["product_id"] = _("请选择在用的产品。")
    else:
        values["product_id"] = product.id
    unit = _by_id(OrgUnit, data.get("production_unit_id"))
    if unit is None or unit.kind != UnitKind.DEPARTMENT or not (
            unit.active or (batch and unit.id == batch.production_unit_id)):
        errors["production_unit_id"] = _("请选择在用的生产部门。")
    else:
        values["production_unit_id"] = unit.id
    if "batch_no" in values and db.session.execute(sa.select(Batch.id).where(
            Batch.batch_no == values["batch_no"], Batch.id != (batch.id if batch else -1))).first():
        errors["batch_no"] = _duplicate_batch(values["batch_no"]).message
    if errors:
        _fail(errors)
    return values


def create_batch(actor: User, data: dict) -> Batch:
    return _create(_BATCHES, actor, data)


def update_batch(actor: User, batch: Batch, data: dict, version) -> Batch:
    return _update(_BATCHES, actor, batch, data, version)


def set_batch_active(actor: User, batch: Batch, active: bool, version) -> Batch:
    """An inactive batch stays in the register for the cases that name it."""
    return _set_active(_BATCHES, actor, batch, active, version)


# ---------------------------------------------------------------- both registers

@dataclass(frozen=True)
class _Register:
    """What differs between the product and the batch register; their changes are written once.
    `name` is the audit object type and starts its events (product_created, batch_updated …)."""
    name: str
    model: type
    check: Callable      # (data, the record or None) -> clean values, or ValidationError
    snapshot: Callable   # record -> its audited fields
    duplicate: Callable  # record -> the ValidationError of a code already taken
    stale: Callable      # record -> the message of an edit made on an old version


_PRODUCTS = _Register("product", Product, _check_product, _product_snapshot,
                      lambda p: _duplicate_product(p.code), _product_stale)
_BATCHES = _Register("batch", Batch, _check_batch, _batch_snapshot,
                     lambda b: _duplicate_batch(b.batch_no), _batch_stale)


def _create(reg: _Register, actor: User, data: dict):
    require_admin(actor)
    obj = reg.model(**reg.check(data, None), active=True)
    db.session.add(obj)
    _save(reg, "created", actor, obj, None, reg.snapshot(obj))
    return obj


def _update(reg: _Register, actor: User, obj, data: dict, version):
    require_admin(actor)
    _check_version(obj, version, reg.stale(obj))
    values = reg.check(data, obj)
    before = reg.snapshot(obj)
    for key, value in values.items():
        setattr(obj, key, value)
    old, new = _changes(before, reg.snapshot(obj))
    if new:
        _save(reg, "updated", actor, obj, old, new)
    return obj


def _set_active(reg: _Register, actor: User, obj, active: bool, version):
    require_admin(actor)
    _check_version(obj, version, reg.stale(obj))
    if bool(obj.active) != active:
        obj.active = active
        _save(reg, "reactivated" if active else "deactivated", actor, obj,
              {"active": not active}, {"active": active})
    return obj

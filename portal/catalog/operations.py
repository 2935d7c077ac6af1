"""Changes to the product and batch register, made by a system administrator.

Each function checks everything first (portal/catalog/rules.py, the same rules the import
applies), then writes the change and its audit event and commits them as one transaction;
a broken rule raises ValidationError keyed by form field, an edit of a record changed since
its form was loaded raises Conflict.
"""
from __future__ import annotations

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


def _save(action: str, actor: User, obj, before: dict | None, after: dict | None,
          duplicate: ValidationError, stale: str) -> None:
    """Audit and commit the pending change, or roll all of it back."""
    object_type = "product" if isinstance(obj, Product) else "batch"
    try:
        db.session.flush()  # a new row needs its id for the event
        audit.record(action, actor=actor, object_type=object_type, object_id=obj.id,
                     before=before, after=after)
        db.session.commit()
    except IntegrityError:
        # Another admin (or an import) saved the same code between our check and our write.
        db.session.rollback()
        raise duplicate from None
    except StaleDataError:
        db.session.rollback()
        raise Conflict(stale) from None
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
    require_admin(actor)
    values = _check_product(data, None)
    product = Product(**values, active=True)
    db.session.add(product)
    _save("product_created", actor, product, None, _product_snapshot(product),
          _duplicate_product(product.code), "")
    return product


def update_product(actor: User, product: Product, data: dict, version) -> Product:
    require_admin(actor)
    _check_version(product, version, _product_stale(product))
    values = _check_product(data, product)
    before = _product_snapshot(product)
    for key, value in values.items():
        setattr(product, key, value)
    old, new = _changes(before, _product_snapshot(product))
    if new:
        _save("product_updated", actor, product, old, new, _duplicate_product(product.code),
              _product_stale(product))
    return product


def set_product_active(actor: User, product: Product, active: bool, version) -> Product:
    """An inactive product is no longer offered at intake; its batches and cases stay."""
    require_admin(actor)
    _check_version(product, version, _product_stale(product))
    if bool(product.active) != active:
        product.active = active
        _save("product_reactivated" if active else "product_deactivated", actor, product,
              {"active": not active}, {"active": active}, _duplicate_product(product.code),
              _product_stale(product))
    return product


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
    require_admin(actor)
    values = _check_batch(data, None)
    batch = Batch(**values, active=True)
    db.session.add(batch)
    _save("batch_created", actor, batch, None, _batch_snapshot(batch),
          _duplicate_batch(batch.batch_no), "")
    return batch


def update_batch(actor: User, batch: Batch, data: dict, version) -> Batch:
    require_admin(actor)
    _check_version(batch, version, _batch_stale(batch))
    values = _check_batch(data, batch)
    before = _batch_snapshot(batch)
    for key, value in values.items():
        setattr(batch, key, value)
    old, new = _changes(before, _batch_snapshot(batch))
    if new:
        _save("batch_updated", actor, batch, old, new, _duplicate_batch(batch.batch_no),
              _batch_stale(batch))
    return batch


def set_batch_active(actor: User, batch: Batch, active: bool, version) -> Batch:
    """An inactive batch stays in the register for the cases that name it."""
    require_admin(actor)
    _check_version(batch, version, _batch_stale(batch))
    if bool(batch.active) != active:
        batch.active = active
        _save("batch_reactivated" if active else "batch_deactivated", actor, batch,
              {"active": not active}, {"active": active}, _duplicate_batch(batch.batch_no),
              _batch_stale(batch))
    return batch

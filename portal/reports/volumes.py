"""Units produced per product and month, the denominator of the complaint rate per million.

Two sources: the batch register (Batch.quantity, in the month of its production date) and
the volumes quality or an admin enters or imports per product and month (ProductionVolume).
An entered month wins over the register for that product: it is what the plant reports,
while the register may hold only the batches that were ever complained about."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import relationship
from sqlalchemy.orm.exc import StaleDataError

from portal.batches.models import Batch, Product
from portal.catalog import importing, rules
from portal.catalog.rules import FieldError
from portal.clock import local, utcnow
from portal.errors import Conflict, ValidationError
from portal.extensions import db
from portal.models_base import utc_column
from portal.org.models import User
from portal.reports.history import check_file, parse_count, parse_month, refuse, require_editor, stored_upload
from portal.signing import audit


class ProductionVolume(db.Model):
    __tablename__ = "production_volume"
    product_id = sa.Column(sa.Integer, sa.ForeignKey("product.id"), primary_key=True, autoincrement=False)
    month = sa.Column(sa.Date, primary_key=True)  # first day of the month
    units = sa.Column(sa.BigInteger, nullable=False)
    updated_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    updated_at = utc_column(nullable=False, default=utcnow)
    version = sa.Column(sa.Integer, nullable=False, server_default="1")

    product = relationship("Product")
    updated_by = relationship("User")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (sa.Index("ix_production_volume_month", "month"),)


def _next_month(m: date) -> date:
    return date(m.year + m.month // 12, m.month % 12 + 1, 1)


def monthly_units(month_from: date, month_to: date, product_ids=None) -> dict[tuple[int, date], int]:
    """{(product id, month): units} for the months `month_from`..`month_to` (any day of the
    first and last month), entered volumes replacing the register's for their product and
    month; pairs with neither are absent."""
    start, end = date(month_from.year, month_from.month, 1), _next_month(month_to)
    entered = sa.select(ProductionVolume.product_id, ProductionVolume.month, ProductionVolume.units).where(
        ProductionVolume.month >= start, ProductionVolume.month < end)
    # Summed per day in SQL (a few rows per product and day), folded into months here:
    # grouping by month has no portable SQL between PostgreSQL and SQLite.
    register = (sa.select(Batch.product_id, Batch.production_date, sa.func.sum(Batch.quantity))
                .where(Batch.production_date >= start, Batch.production_date < end,
                       Batch.quantity.is_not(None))
                .group_by(Batch.product_id, Batch.production_date))
    if product_ids is not None:
        entered = entered.where(ProductionVolume.product_id.in_(list(product_ids)))
        register = register.where(Batch.product_id.in_(list(product_ids)))
    out: dict[tuple[int, date], int] = defaultdict(int)
    for product_id, day, units in db.session.execute(register):
        out[(product_id, date(day.year, day.month, 1))] += int(units)
    for product_id, month, units in db.session.execute(entered):
        out[(product_id, month)] = int(units)
    return dict(out)


def units_produced(month_from: date, month_to: date, product_ids=None) -> int | None:
    """Units produced in the months `month_from`..`month_to` (dates, any day of the first and
    the last month; both included) of the products `product_ids` (None: all products): per
    product and month the entered volume if there is one, else the sum of the register's
    batch quantities produced that month. None when neither source has a figure for any of
    them (no rate can be computed), 0 only when a figure says 0."""
    units = monthly_units(month_from, month_to, product_ids)
    return sum(units.values()) if units else None


def units_by_month(month_from: date, month_to: date, product_ids=None) -> dict[date, int]:
    """{first day of month: units} for the months `month_from`..`month_to`, each as
    units_produced(month, month, product_ids) would answer it, in two queries instead of two
    per month; a month with no figure is absent (units_produced's None)."""
    out: dict[date, int] = defaultdict(int)
    for (_product, month), units in monthly_units(month_from, month_to, product_ids).items():
        out[month] += units
    return dict(out)


# ---------------------------------------------------------------- entering and importing

MAX_UNITS = 10**12  # a month's packs of one product, generously


def volume_at(product_id: int, month: date) -> ProductionVolume | None:
    return db.session.get(ProductionVolume, (product_id, month))


def set_volume(actor: User, product_id, month, units, version=None) -> ProductionVolume | None:
    """Enter (or with `units` empty, remove) a product's units for a month: it then wins over
    the batch register's for that product and month. `version` is what the form was loaded
    with ('' for none): a figure changed by someone else since is a Conflict."""
    require_editor(actor)
    errors = {}
    product = db.session.get(Product, int(product_id)) if str(product_id or "").isdigit() else None
    if product is None:
        errors["product_id"] = _("请选择产品。")
    try:
        month = parse_month(month, _("月份"))
    except FieldError as exc:
        errors["month"] = exc.message
    try:
        units = None if not rules.as_text(units) else parse_count(units, _("生产数量"), MAX_UNITS)
    except FieldError as exc:
        errors["units"] = exc.message
    if errors:
        raise ValidationError(next(iter(errors.values())) if len(errors) == 1 else _("请修改标出的项目。"), errors)
    row = volume_at(product.id, month)
    if row is not None and not version:
        raise Conflict(_("%(product)s %(month)s 已录入 %(units)s 件；要修改请点下表中的这一行。",
                         product=product.display, month=month.strftime("%Y-%m"), units=f"{row.units:,}"))
    if str(version or "") != (str(row.version) if row else ""):
        raise Conflict(_("%(product)s %(month)s 的产量刚被他人修改，请查看后重新填写。",
                         product=product.display, month=month.strftime("%Y-%m")))
    before = {"units": row.units} if row else None
    if units is None:
        if row is None:
            return None
        db.session.delete(row)
        row = None
    elif row is None:
        row = ProductionVolume(product_id=product.id, month=month, units=units, updated_by_id=actor.id)
        db.session.add(row)
    else:
        row.units, row.updated_by_id, row.updated_at = units, actor.id, utcnow()
    try:
        db.session.flush()
        audit.record("production_volume_set", actor=actor, object_type="product", object_id=product.id,
                     before=before, after={"month": month.isoformat(), "units": units})
        db.session.commit()
    except (IntegrityError, StaleDataError):
        db.session.rollback()
        raise Conflict(_("%(product)s %(month)s 的产量刚被他人修改，请查看后重新填写。",
                         product=product.display, month=month.strftime("%Y-%m"))) from None
    except Exception:
        db.session.rollback()
        raise
    return row


COLUMNS = (
    importing.Column("product", ("产品编码", "产品代码", "product_code"), True),
    importing.Column("month", ("月份", "年月", "month"), True),
    importing.Column("units", ("生产数量", "产量", "数量", "units"), True),
)


def import_volumes(actor: User, file) -> int:
    """Check every row (产品编码, 月份, 生产数量) and, if none is wrong, enter them all in one
    transaction with its audit event, replacing figures entered before for the same product
    and month; returns the rows written. ImportRefused lists the wrong rows."""
    require_editor(actor)
    products = dict(db.session.execute(sa.select(sa.func.upper(Product.code), Product.id)).all())

    def product(value) -> int:
        code = rules.as_text(value).upper()
        if not code:
            raise FieldError(_("请填写产品编码。"))
        if code not in products:
            raise FieldError(_("产品编码「%(code)s」不在产品目录中。", code=code[:32]))
        return products[code]
    cleaners = {"product": product, "month": lambda v: parse_month(v, _("月份")),
                "units": lambda v: parse_count(v, _("生产数量"), MAX_UNITS)}

    def check(raw):
        values, errors = rules.clean(raw, cleaners)
        return values, list(errors.values())

    def key(values, raw):
        return (values["product"], values["month"]), (
            f"{rules.as_text(raw.get('product')).upper()} {values['month'].strftime('%Y-%m')}")

    path, name, sha256 = stored_upload(file)
    try:
        try:
            good, errors, data_rows = check_file(path, COLUMNS, check, key)
        except importing.FileProblem as exc:
            raise ValidationError(exc.message, {"file": exc.message}) from None
    finally:
        path.unlink(missing_ok=True)
    if errors:
        refuse(errors, data_rows)
    table = ProductionVolume.__table__
    try:
        for _number, v in good:
            db.session.execute(table.delete().where(table.c.product_id == v["product"],
                                                    table.c.month == v["month"]))
        db.session.execute(sa.insert(table), [
            {"product_id": v["product"], "month": v["month"], "units": v["units"],
             "updated_by_id": actor.id, "updated_at": utcnow(), "version": 1} for _n, v in good])
        audit.record("production_volumes_imported", actor=actor, object_type="production_volume",
                     object_id=None, after={"filename": name, "sha256": sha256, "rows": len(good)})
        db.session.commit()
    except IntegrityError:  # someone entered one of these months meanwhile
        db.session.rollback()
        raise Conflict(_("导入时有人刚录入了其中某个产品某月的产量，本次没有导入任何行。请重新上传该文件。")) from None
    except Exception:
        db.session.rollback()
        raise
    return len(good)


def recent_units(months: int = 12) -> list[tuple[date, Product, int, bool]]:
    """(month, product, units, entered?) of the last `months` months, newest first, for the page."""
    today = local(utcnow()).date()
    last = date(today.year, today.month, 1)
    back = last.year * 12 + last.month - 1 - (months - 1)
    first = date(back // 12, back % 12 + 1, 1)
    units = monthly_units(first, last)
    entered = set(db.session.execute(sa.select(ProductionVolume.product_id, ProductionVolume.month)
                                     .where(ProductionVolume.month >= first)).all())
    products = {p.id: p for p in db.session.execute(sa.select(Product)).scalars()}
    return sorted(((m, products[p], n, (p, m) in entered) for (p, m), n in units.items()),
                  key=lambda r: (r[0], r[1].code), reverse=True)

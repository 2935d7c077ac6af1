"""Units produced per product and month, the denominator of the complaint rate per million.

Two sources: the batch register (Batch.quantity, in the month of its production date) and
the volumes quality or an admin enters or imports per product and month (ProductionVolume).
An entered month wins over the register for that product: it is what the plant reports,
while the register may hold only the batches that were ever complained about."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.batches.models import Batch
from portal.clock import utcnow
from portal.extensions import db
from portal.models_base import utc_column


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

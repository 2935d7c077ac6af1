"""The register's lists: products and batches with search and paging, and recent imports."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.batches.lookup import normalise_batch_no
from portal.batches.models import Batch, Product
from portal.cases.queries import page_arg
from portal.catalog.models import ImportJob
from portal.extensions import db

PAGE_SIZE = 50
STATUSES = ("active", "inactive")


@dataclass
class RegisterFilters:
    q: str = ""
    status: str = ""  # active | inactive | "" (both)
    product: str = ""  # a product id (batches only)
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "RegisterFilters":
        status = args.get("status", "")
        product = args.get("product", "")
        return cls(q=(args.get("q") or "").strip()[:60], status=status if status in STATUSES else "",
                   product=product if product.isdigit() else "", page=page_arg(args))

    def as_args(self, **override) -> dict:
        d = {**vars(self), **override}
        return {k: v for k, v in d.items() if v not in ("", None) and not (k == "page" and v == 1)}


def _page(q, f: RegisterFilters, page_size: int):
    """One page and whether there is a next one (no COUNT(*) over 100,000 batches)."""
    rows = db.session.execute(q.limit(page_size + 1).offset((f.page - 1) * page_size)).unique().scalars().all()
    return rows[:page_size], len(rows) > page_size


def _like(text: str) -> str:
    return "%" + text.replace("%", "").replace("_", "") + "%"


def find_products(f: RegisterFilters, page_size: int = PAGE_SIZE):
    q = sa.select(Product).order_by(Product.active.desc(), Product.code)
    if f.status:
        q = q.where(Product.active.is_(f.status == "active"))
    if f.q:
        like = _like(f.q)
        q = q.where(sa.or_(Product.code.ilike(like), Product.name.ilike(like), Product.spec.ilike(like)))
    return _page(q, f, page_size)


def find_batches(f: RegisterFilters, page_size: int = PAGE_SIZE):
    """Newest production first; the search matches the start of a batch number, or the
    product's code or name."""
    q = (sa.select(Batch).options(joinedload(Batch.production_unit))
         .order_by(Batch.production_date.desc(), Batch.id.desc()))
    if f.status:
        q = q.where(Batch.active.is_(f.status == "active"))
    if f.product:
        q = q.where(Batch.product_id == int(f.product))
    if f.q:
        prefix = (normalise_batch_no(f.q) or "").replace("%", "").replace("_", "")
        like = _like(f.q)
        q = q.where(sa.or_(Batch.batch_no.like(prefix + "%"), Batch.product_id.in_(
            sa.select(Product.id).where(sa.or_(Product.code.ilike(like), Product.name.ilike(like))))))
    return _page(q, f, page_size)


def all_products() -> list[Product]:
    return db.session.execute(sa.select(Product).order_by(Product.code)).scalars().all()


def recent_imports(limit: int = 10) -> list[ImportJob]:
    return db.session.execute(sa.select(ImportJob).options(joinedload(ImportJob.created_by))
                              .order_by(ImportJob.id.desc()).limit(limit)).unique().scalars().all()

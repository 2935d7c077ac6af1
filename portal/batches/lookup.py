"""Batch look-up for intake and tracing: product, production date, department, sibling cases."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.batches.models import Batch, Product
from portal.extensions import db


def normalise_batch_no(value: str | None) -> str | None:
    if not value:
        return None
    return "".join(value.split()).upper()[:40] or None


def find_batch(batch_no: str | None) -> Batch | None:
    batch_no = normalise_batch_no(batch_no)
    if not batch_no:
        return None
    # The production department comes along: the case page and the trace show its name.
    return db.session.execute(sa.select(Batch).where(Batch.batch_no == batch_no)
                              .options(joinedload(Batch.production_unit))).scalar_one_or_none()


def cases_on_batch(batch_no: str | None, *, viewer, exclude_id: int | None = None) -> int:
    """How many complaints on this batch `viewer` may see: a count is as telling as the
    rows, so it follows the same scope (a rep counts their branch's cases, quality all)."""
    from portal.cases import access
    from portal.cases.models import Case
    batch_no = normalise_batch_no(batch_no)
    if not batch_no:
        return 0
    q = sa.select(sa.func.count()).select_from(Case).where(Case.batch_no == batch_no)
    if exclude_id:
        q = q.where(Case.id != exclude_id)
    if (clause := access.visible_clause(viewer)) is not None:
        q = q.where(clause)
    return db.session.execute(q).scalar_one()


def search_products(text: str, limit: int = 15) -> list[Product]:
    q = sa.select(Product).where(Product.active.is_(True))
    text = (text or "").strip()
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        q = q.where(sa.or_(Product.name.ilike(like), Product.code.ilike(like), Product.spec.ilike(like)))
    return db.session.execute(q.order_by(Product.name).limit(limit)).scalars().all()

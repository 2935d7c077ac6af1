"""Scoped reads of sheets: the list, and the sheets of a batch or a case (for other pages)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.batches.lookup import normalise_batch_no
from portal.capa import access
from portal.capa.models import CorrectiveAction, sheet_case
from portal.capa.states import OPEN_STATES, SheetState
from portal.cases import access as case_access
from portal.cases.models import Case
from portal.extensions import db


def _scoped(q, viewer):
    clause = access.visible_clause(viewer)
    return q if clause is None else q.where(clause)


@dataclass
class SheetFilters:
    state: str = ""  # "", "open", "mine" or a SheetState value
    q: str = ""
    page: int = 1

    @property
    def active(self) -> bool:
        return bool(self.state or self.q)

    def as_args(self, **override) -> dict:
        args = {"state": self.state, "q": self.q, "page": self.page, **override}
        return {k: v for k, v in args.items() if v not in ("", None, 1)}

    @classmethod
    def from_args(cls, args) -> "SheetFilters":
        page = args.get("page", "1")
        return cls(state=args.get("state", "").strip(), q=args.get("q", "").strip()[:40],
                   page=max(int(page), 1) if page.isdigit() else 1)


def list_sheets(viewer, f: SheetFilters, page_size: int) -> tuple[list[CorrectiveAction], bool]:
    """A page of the sheets the viewer may see, newest first; one row more tells of a next page."""
    q = _scoped(sa.select(CorrectiveAction), viewer).options(
        selectinload(CorrectiveAction.receiving_unit), selectinload(CorrectiveAction.cases))
    if f.state == "open":
        q = q.where(CorrectiveAction.state.in_(sorted(OPEN_STATES)))
    elif f.state == "mine":
        q = q.where(access.waiting_clause(viewer))
    elif SheetState.get(f.state) is not None:
        q = q.where(CorrectiveAction.state == SheetState(f.state))
    if f.q:
        like = f"%{f.q.upper()}%"
        q = q.where(sa.or_(CorrectiveAction.number.like(like), CorrectiveAction.batch_no.like(like),
                           CorrectiveAction.product_name.like(f"%{f.q}%")))
    q = q.order_by(CorrectiveAction.issued_at.desc(), CorrectiveAction.id.desc())
    rows = db.session.execute(q.offset((f.page - 1) * page_size).limit(page_size + 1)).scalars().all()
    return rows[:page_size], len(rows) > page_size


def cases_to_answer(numbers: list[str], batch_no: str | None, viewer) -> tuple[list, str | None]:
    """What a new sheet starts from: the named cases in their order, or else every case on
    the batch (a cluster), as far as `viewer` may see them; and the batch number."""
    batch_no = normalise_batch_no(batch_no)
    if numbers:
        found = {c.number: c for c in db.session.execute(
            sa.select(Case).where(Case.number.in_(numbers))).unique().scalars()}
        cases = [found[n] for n in dict.fromkeys(numbers) if n in found]
    elif batch_no:
        cases = list(db.session.execute(sa.select(Case).where(Case.batch_no == batch_no)
                                        .order_by(Case.received_at, Case.id)).unique().scalars())
    else:
        cases = []
    cases = [c for c in cases if case_access.can_view(c, viewer)]
    return cases, batch_no or next((c.batch_no for c in cases if c.batch_no), None)


def sheets_for_batch(batch_no: str | None, viewer) -> list[CorrectiveAction]:
    """The sheets issued for this batch that `viewer` may see (the cluster page shows them)."""
    batch_no = normalise_batch_no(batch_no)
    if not batch_no:
        return []
    q = _scoped(sa.select(CorrectiveAction).where(CorrectiveAction.batch_no == batch_no), viewer)
    return list(db.session.execute(q.order_by(CorrectiveAction.issued_at.desc())).scalars())


def sheets_for_case(case, viewer) -> list[CorrectiveAction]:
    """The sheets that answer this case, as far as `viewer` may see them (the case page's block)."""
    q = _scoped(sa.select(CorrectiveAction).join(sheet_case, sheet_case.c.sheet_id == CorrectiveAction.id)
                .where(sheet_case.c.case_id == case.id), viewer)
    return list(db.session.execute(q.order_by(CorrectiveAction.issued_at.desc())).scalars())


def waiting_count(viewer) -> int:
    q = _scoped(sa.select(sa.func.count()).select_from(CorrectiveAction), viewer)
    return db.session.execute(q.where(access.waiting_clause(viewer))).scalar_one()


def sheet_of_message(message, viewer) -> str | None:
    """The number of the sheet a bell message is about (its key is "ca:<sheet id>:…", see
    operations._notify), if `viewer` may still see it."""
    head, _sep, rest = (message.key or "").partition(":")
    sheet_id = rest.partition(":")[0]
    if head != "ca" or not sheet_id.isdigit():
        return None
    sheet = db.session.get(CorrectiveAction, int(sheet_id))
    return sheet.number if sheet is not None and access.can_view(sheet, viewer) else None

"""The knowledge base as every member of staff reads it: found with the case list's own
search (portal/search) or by tag, the customer reduced to what teaches nothing about them."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.cases.models import Case, mask_phone
from portal.cases.queries import page_arg
from portal.extensions import db
from portal.knowledge.models import TypicalCase
from portal.search import index as search_index

TITLES = ("先生", "女士", "小姐")


def masked_name(name: str | None) -> str:
    """王先生 stays 王先生 (how the desk writes callers who gave no full name); 王秀英 → 王*."""
    name = (name or "").strip()
    if not name:
        return ""
    for title in TITLES:
        if name.endswith(title) and len(name) > len(title):
            return name[0] + title
    return name[0] + "*"


@dataclass
class Entry:
    """What the knowledge base shows of a typical case: no full name, phone or address."""
    typical: TypicalCase
    case: Case

    @property
    def customer(self) -> str:
        return masked_name(self.case.customer_name)

    @property
    def phone(self) -> str:
        return mask_phone(self.case.customer_phone)


@dataclass
class KnowledgeFilters:
    q: str = ""
    tag: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "KnowledgeFilters":
        return cls(q=(args.get("q") or "").strip()[:60], tag=(args.get("tag") or "").strip()[:30],
                   page=page_arg(args))

    def as_args(self, **overrides) -> dict:
        args = {"q": self.q, "tag": self.tag, "page": self.page, **overrides}
        return {k: v for k, v in args.items() if v and not (k == "page" and v == 1)}


def list_entries(f: KnowledgeFilters, page_size: int = 20) -> tuple[list[Entry], bool]:
    """Newest first. Words go through the case index (name, product, description) or match
    the lessons and tags (a few hundred rows, read as they are)."""
    q = (sa.select(TypicalCase).join(Case, Case.id == TypicalCase.case_id)
         .options(joinedload(TypicalCase.case).joinedload(Case.category)))
    if f.q:
        q = q.where(sa.or_(search_index.matching(f.q), TypicalCase.lessons.contains(f.q, autoescape=True),
                           TypicalCase.tags.contains(f.q, autoescape=True)))
    if f.tag:
        q = q.where((" " + TypicalCase.tags + " ").contains(f" {f.tag} ", autoescape=True))
    q = q.order_by(TypicalCase.marked_at.desc(), TypicalCase.id.desc())
    rows = db.session.execute(q.limit(page_size + 1).offset((f.page - 1) * page_size)).unique().scalars().all()
    return [Entry(t, t.case) for t in rows[:page_size]], len(rows) > page_size


def typical_of(case: Case) -> TypicalCase | None:
    return db.session.execute(sa.select(TypicalCase).where(TypicalCase.case_id == case.id)).scalar_one_or_none()

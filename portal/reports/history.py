"""History from day one: the complaint ledger kept before the portal (Excel or CSV), imported
as monthly counts per cause category and branch, so this year's chart has last year beside it.

A file is either monthly counts (月份, 投诉类别, 分公司, 投诉数量) or one row per past complaint
(受理日期, 投诉类别, 分公司, …), counted here per month, category and branch. Every row is
checked before anything is written (the catalog import's reading and header rules,
portal/catalog/importing.py); one wrong row and nothing is imported, the page listing each
wrong row by its number. A ledger row for a month, category and branch already imported is
replaced (the newer file corrects the older).

Where the ledger and the portal meet: the portal's own cases count from the month of its
first case; the ledger fills only the months before it, so no month is counted twice."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import relationship

from portal.catalog import importing, rules
from portal.cases.access import ALL_SEEING
from portal.cases.models import Case, Category
from portal.clock import local
from portal.errors import PermissionDenied, ValidationError
from portal.extensions import db
from portal.labels import LabeledEnum, N_
from portal.models_base import created_column, enum_type
from portal.org.enums import Role, UnitKind
from portal.org.models import OrgUnit, User
from portal.org.tree import unit_tree
from portal.signing import audit

MAX_ROWS = 50_000  # checked in the request: a few years of a ledger, a few seconds
MAX_COUNT = 1_000_000  # complaints in one month, category and branch
EDITORS = {Role.ADMIN, Role.QUALITY}


class LedgerSource(LabeledEnum):
    COUNTS = "counts", N_("月度汇总")
    CASES = "cases", N_("逐条投诉")


class LedgerImport(db.Model):
    """One imported file, for the page's list and the audit trail."""
    __tablename__ = "ledger_import"
    id = sa.Column(sa.Integer, primary_key=True)
    source = sa.Column(enum_type(LedgerSource, length=16), nullable=False)
    filename = sa.Column(sa.String(120), nullable=False)
    sha256 = sa.Column(sa.String(64), nullable=False)
    data_rows = sa.Column(sa.Integer, nullable=False)  # rows of the file
    ledger_rows = sa.Column(sa.Integer, nullable=False)  # month × category × branch written
    created_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    created_at = created_column()

    created_by = relationship("User")


class LedgerMonth(db.Model):
    """Complaints of one month (its first day), cause category and branch before the portal;
    category or branch empty where the old ledger did not say."""
    __tablename__ = "ledger_month"
    id = sa.Column(sa.Integer, primary_key=True)
    month = sa.Column(sa.Date, nullable=False)
    category_id = sa.Column(sa.Integer, sa.ForeignKey("category.id"))
    branch_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"))
    count = sa.Column(sa.Integer, nullable=False)
    source = sa.Column(enum_type(LedgerSource, length=16), nullable=False)
    import_id = sa.Column(sa.Integer, sa.ForeignKey("ledger_import.id"), nullable=False)

    __table_args__ = (sa.Index("ix_ledger_month_month", "month"),)


# ---------------------------------------------------------------- the dashboard's contract

def first_case_month() -> date | None:
    """The first day of the Asia/Shanghai month of the portal's first case (None: no case yet)."""
    first = db.session.execute(sa.select(sa.func.min(Case.received_at))).scalar()
    if first is None:
        return None
    first = local(first)
    return date(first.year, first.month, 1)


def _scope(user) -> sa.ColumnElement | None:
    """The ledger rows a user may count, as the case list scopes cases by branch (None: all).
    The ledger knows no responsible department: a department's leader sees none of it."""
    if user is None or user.roles & ALL_SEEING:
        return None
    if user.unit is not None and user.unit.kind == UnitKind.COMPANY:
        return None
    branches = set()
    if Role.LEADER in user.roles:
        branches |= unit_tree().subtree(user.unit_id)
    if Role.REP in user.roles and user.branch_id() is not None:
        branches |= unit_tree().subtree(user.branch_id())
    return LedgerMonth.branch_id.in_(branches) if branches else sa.false()


def monthly_counts(year: int, filters=None, user=None) -> dict[int, int]:
    """{month number 1–12: complaints} from the imported ledger for `year`, only for the months
    before the portal's first case (from that month on the cases count; see the module's
    docstring); a month absent from the dict has no ledger row.

    `filters`: anything with the case list's `branch`, `category`, `product` and `unit`
    strings (portal.cases.queries.CaseFilters, the dashboard's DashFilters) or None. Branch
    and category filter as the case list does (a branch with its sub-units, a category with
    its subcategories, "none" for rows without one); a product or department filter gives {}
    (the ledger does not know them, and a partial count would mislead). `user` scopes by
    branch as the case list does (None: no scoping, for jobs)."""
    f = filters
    if f is not None and (getattr(f, "product", "") or getattr(f, "unit", "")):
        return {}
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    cutover = first_case_month()
    if cutover is not None:
        end = min(end, cutover)
    if end <= start:
        return {}
    where = [LedgerMonth.month >= start, LedgerMonth.month < end]
    if (clause := _scope(user)) is not None:
        where.append(clause)
    category = getattr(f, "category", "") if f is not None else ""
    branch = getattr(f, "branch", "") if f is not None else ""
    if category == "none":
        where.append(LedgerMonth.category_id.is_(None))
    elif category.isdigit():
        children = sa.select(Category.id).where(Category.parent_id == int(category))
        where.append(sa.or_(LedgerMonth.category_id == int(category), LedgerMonth.category_id.in_(children)))
    if branch == "none":
        where.append(LedgerMonth.branch_id.is_(None))
    elif branch.isdigit():
        where.append(LedgerMonth.branch_id.in_(unit_tree().subtree(int(branch))))
    rows = db.session.execute(sa.select(LedgerMonth.month, sa.func.sum(LedgerMonth.count))
                              .where(*where).group_by(LedgerMonth.month))
    out: dict[int, int] = {}
    for month, n in rows:
        out[month.month] = int(n)
    return out

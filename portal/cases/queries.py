"""Scoped case lists: filters, sorting and paging for the list; the per-user work inbox."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from portal.batches.lookup import normalise_batch_no
from portal import dbreads
from portal.cases import access, audience
from portal.cases.enums import Klass
from portal.cases.models import Case, Category, phone_digits
from portal.cases.states import State, Step
from portal.clock import SHANGHAI, utcnow
from portal.extensions import db
from portal.labels import N_
from portal.org.enums import Role
from portal.org.models import OrgUnit
from portal.org.tree import unit_tree
from portal.search import index as search_index

NUMBER_RE = re.compile(r"^KS(\d{4})-(\d{1,6})$", re.I)
# What a person types for a phone: digits with spaces, dashes, dots or brackets, maybe +86.
PHONE_RE = re.compile(r"^\+?[\d\s\-.()（）]+$")
PHONE_MIN_DIGITS = 4  # "the last four digits" is how people quote a number on the phone
SORTS = {
    "-received": (Case.received_at.desc(), Case.id.desc()),
    "received": (Case.received_at.asc(), Case.id.asc()),
    "due": (Case.due_at.asc().nulls_last(), Case.id.asc()),
    "-number": (Case.number.desc(),),
}
SORT_LABELS = {
    "-received": N_("最新受理"),
    "received": N_("最早受理"),
    "due": N_("时限最近"),
    "-number": N_("编号倒序"),
}


@dataclass
class CaseFilters:
    state: str = ""
    klass: str = ""
    category: str = ""
    branch: str = ""
    date_from: str = ""
    date_to: str = ""
    batch: str = ""
    q: str = ""
    # The dashboard's links (issue 13): the product, the responsible unit, the step a case
    # waits at, only what is past its time limit, closed within 48 hours, a closing period.
    product: str = ""
    unit: str = ""
    step: str = ""
    overdue: str = ""
    within48: str = ""
    repeat: str = ""
    closed_from: str = ""
    closed_to: str = ""
    sort: str = "-received"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "CaseFilters":
        f = cls(**{k: (args.get(k) or "").strip()[:60] for k in FILTER_NAMES})
        f.sort = args.get("sort") if args.get("sort") in SORTS else "-received"
        f.page = page_arg(args)
        return f

    def as_args(self, **override) -> dict:
        d = {k: v for k, v in vars(self).items() if v and not (k == "sort" and v == "-received")
             and not (k == "page" and v == 1)}
        d.update({k: v for k, v in override.items()})
        return {k: v for k, v in d.items() if v not in ("", None) and not (k == "page" and v == 1)}

    @property
    def active(self) -> bool:
        return any(getattr(self, k) for k in FILTER_NAMES)


FILTER_NAMES = ("state", "klass", "category", "branch", "date_from", "date_to", "batch", "q", "product",
                "unit", "step", "overdue", "within48", "repeat", "closed_from", "closed_to")


OPEN_STATES = [s for s in State if s not in (State.CLOSED, State.REJECTED)]
NONE_FILTERS = {"category": Case.category_id, "branch": Case.branch_id, "product": Case.product_id,
                "unit": Case.responsible_unit_id}


def local_day_start(value: str) -> datetime | None:
    """The UTC instant an Asia/Shanghai calendar day starts (users type and read local
    dates): 2026-09-02 → 2026-09-01 16:00 UTC. None for anything that is not a date."""
    try:
        d = date.fromisoformat(value)
    except ValueError:
        return None
    # Bound in UTC, the form the column stores: PostgreSQL compares instants either way,
    # but SQLite compares the stored text, which is UTC wall time without an offset.
    return datetime.combine(d, time.min, SHANGHAI).astimezone(timezone.utc)


def phone_suffix(text: str) -> str | None:
    """The digits to look for at the end of customers' phones, if `text` reads as a phone
    (4+ digits, with any dashes, spaces or +86); None if it is something else."""
    if not PHONE_RE.match(text):
        return None
    digits = phone_digits(text)
    return digits if len(digits) >= PHONE_MIN_DIGITS else None


def _prefix_range(column, prefix: str):
    """`column` starts with the digit string `prefix`, as a range an ordinary B-tree index
    serves on PostgreSQL (whatever the collation) and SQLite alike, unlike LIKE 'p%'.

    Strings starting with "4321" are those >= "4321" and < "4322"; "4399" → < "44"; a
    prefix of only nines has no upper bound among digit strings."""
    upper = prefix.rstrip("9")
    if not upper:
        return column >= prefix
    upper = upper[:-1] + str(int(upper[-1]) + 1)
    return sa.and_(column >= prefix, column < upper)


def phone_ends_with(digits: str):
    return _prefix_range(Case.customer_phone_rev, digits[::-1])


def search_clause(text: str):
    """The search box of the case list and of my work: a case number, the end of a phone
    (or a whole one, landlines with their dash), a batch number, or words of a name, product or
    description through the bigram index."""
    text = text.strip()
    if m := NUMBER_RE.match(text):
        # Written as said, without the zeros: KS2026-12 is KS2026-000012 (numbering.py).
        return Case.number == f"KS{m.group(1)}-{int(m.group(2)):06d}"
    if digits := phone_suffix(text):
        # The ids from two index look-ups. Written as OR, SQLite (after ANALYZE) walks the
        # whole received-time index for the ORDER BY … LIMIT instead, a scan of every case.
        return Case.id.in_(sa.union(sa.select(Case.id).where(phone_ends_with(digits)),
                                    sa.select(Case.id).where(Case.batch_no == normalise_batch_no(text))))
    if search_index.has_chinese(text):
        return search_index.matching(text)
    # Latin words and numbers: a batch number, or words of the index (portal/search/index.py).
    return Case.id.in_(sa.union(sa.select(Case.id).where(Case.batch_no == normalise_batch_no(text)),
                                sa.select(Case.id).where(search_index.matching(text))))


def page_arg(args) -> int:
    try:
        return max(1, min(int(args.get("page", 1)), 10_000))
    except ValueError:
        return 1


_branch = aliased(OrgUnit)
# Built once (statements are immutable): building it took longer than PostgreSQL runs it.
# present.case_rows unpacks these rows in this order.
_LIST_SELECT = (sa.select(Case.id, Case.number, Case.received_at, Case.state, Case.klass, Case.customer_name,
                          Case.customer_phone, Case.product_name, Case.batch_no, Case.due_at, Case.step,
                          Case.ladder_level, _branch.name.label("branch_name"))
                .outerjoin(_branch, _branch.id == Case.branch_id))


# The statements of the unfiltered list of those who see every case (the desk's first pages),
# built once: a new statement object is built and its cache key computed on every execution
# (~0.08 ms), a kept one carries its key. Per (sort, page, page size), pages 1-20.
_UNFILTERED: dict[tuple, sa.Select] = {}


def list_cases(user, f: CaseFilters, page_size: int = 50):
    """One page of rows (plain tuples, no ORM objects) and whether a next page exists.

    No COUNT(*): at a million rows it would cost more than the page itself.
    """
    clauses = filter_clauses(user, f)
    key = (f.sort, f.page, page_size)
    q = None if clauses else _UNFILTERED.get(key)
    if q is None:
        q = _LIST_SELECT.where(*clauses)
        q = q.order_by(*SORTS[f.sort]).limit(page_size + 1).offset((f.page - 1) * page_size)
        if not clauses and f.page <= 20:
            _UNFILTERED[key] = q
    rows = dbreads.rows(q)
    return rows[:page_size], len(rows) > page_size


def closed_within(hours: int):
    """Closed no later than `hours` after receipt (SQLite keeps times as text: day numbers)."""
    if db.engine.dialect.name == "sqlite":
        return sa.func.julianday(Case.closed_at) - sa.func.julianday(Case.received_at) <= hours / 24
    return Case.closed_at <= Case.received_at + timedelta(hours=hours)


def repeat_clause():
    """Repeat complaints: an earlier case from the same phone within 90 days before this one
    (portal/reports/rollup.py counts the same)."""
    earlier = aliased(Case)
    if db.engine.dialect.name == "sqlite":
        window = sa.func.julianday(Case.received_at) - sa.func.julianday(earlier.received_at) <= 90
    else:
        window = earlier.received_at >= Case.received_at - timedelta(days=90)
    return sa.exists().where(earlier.customer_phone_rev == Case.customer_phone_rev, earlier.id != Case.id,
                             earlier.received_at < Case.received_at, window)


def filter_clauses(user, f: CaseFilters) -> list:
    """The WHERE clauses of the list for `user` and `f`: the list and the dashboard's live
    figures count the same cases."""
    q = []
    clause = access.visible_clause(user)
    if clause is not None:
        q.append(clause)
    if State.get(f.state):
        q.append(Case.state == State(f.state))
    elif f.state == "open":
        q.append(Case.state.in_(OPEN_STATES))  # IN, not NOT IN: the state index serves it
    if Klass.get(f.klass):
        q.append(Case.klass == Klass(f.klass))
    for name, column in NONE_FILTERS.items():
        if getattr(f, name) == "none":  # the dashboard's bar of cases without one
            q.append(column.is_(None))
    if f.category.isdigit():
        ids = [int(f.category)] + list(db.session.execute(
            sa.select(Category.id).where(Category.parent_id == int(f.category))).scalars())
        q.append(Case.category_id.in_(ids))
    if f.branch.isdigit():
        q.append(Case.branch_id.in_(unit_tree().subtree(int(f.branch))))
    if f.date_from and (start := local_day_start(f.date_from)):
        q.append(Case.received_at >= start)
    if f.date_to and (end := local_day_start(f.date_to)):
        q.append(Case.received_at < end + timedelta(days=1))
    if f.batch:
        q.append(Case.batch_no == normalise_batch_no(f.batch))
    if f.q.strip():
        q.append(search_clause(f.q))
    if f.product.isdigit():
        q.append(Case.product_id == int(f.product))
    if f.unit.isdigit():
        q.append(Case.responsible_unit_id.in_(unit_tree().subtree(int(f.unit))))
    if Step.get(f.step):
        q.append(Case.step == Step(f.step))
    if f.overdue == "1":
        q.append(Case.due_at < utcnow())  # an aware UTC bound: see local_day_start
    if f.within48 == "1":
        q.append(sa.and_(Case.state == State.CLOSED, closed_within(48)))
    if f.repeat == "1":
        q.append(repeat_clause())
    if f.closed_from and (start := local_day_start(f.closed_from)):
        q.append(Case.closed_at >= start)
    if f.closed_to and (end := local_day_start(f.closed_to)):
        q.append(Case.closed_at < end + timedelta(days=1))
    return q


def branch_choices_for(user, choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The list's branch options narrowed to the branches whose cases `user` may see; no
    options at all (the filter is hidden) when that is a single branch.

    Only a rep's view is bounded by branch (their branch, and what they registered, which is
    for their branch too); handlers and leaders see their department's cases from every branch.
    """
    if access.visible_clause(user) is None or user.roles - {Role.REP}:
        return choices
    branch = user.branch_id()
    mine = {str(u) for u in unit_tree().subtree(branch)} if branch is not None else set()
    narrowed = [(value, text) for value, text in choices if value and value in mine]
    return choices[:1] + narrowed if len(narrowed) > 1 else []


def inbox_clause(user):
    """Cases waiting for this user's action, whatever their role(s) (audience.py decides)."""
    return audience.inbox_clause(user)


@dataclass
class WorkFilters:
    """What narrows 我的待办: one step, only what is overdue, a search."""
    step: str = ""
    overdue: bool = False
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "WorkFilters":
        # `only=approve` was the leaders' link before steps could be chosen; old bookmarks keep working.
        step = args.get("step") or args.get("only") or ""
        return cls(step=step if Step.get(step) else "", overdue=args.get("overdue") == "1",
                   q=(args.get("q") or "").strip()[:60], page=page_arg(args))

    def as_args(self, **override) -> dict:
        d = {"step": self.step, "overdue": "1" if self.overdue else "", "q": self.q, "page": self.page}
        d.update(override)
        return {k: v for k, v in d.items() if v not in ("", None, False) and not (k == "page" and v == 1)}

    @property
    def active(self) -> bool:
        return bool(self.step or self.overdue or self.q)


_INBOX_SELECT = (sa.select(Case.id, Case.number, Case.received_at, Case.state, Case.klass, Case.customer_name,
                           Case.product_name, Case.batch_no, Case.due_at, Case.step, Case.ladder_level,
                           Case.comp_cash, Case.approval_reasons, _branch.name.label("branch_name"))
                 .outerjoin(_branch, _branch.id == Case.branch_id))
_INBOX_ORDER = (Case.due_at.asc().nulls_last(), Case.id)


def _inbox_where(user, f: WorkFilters) -> list:
    where = [inbox_clause(user)]
    if f.step:
        where.append(Case.step == Step(f.step))
    if f.overdue:
        where.append(Case.due_at < utcnow())  # an aware UTC bound: see local_day_start
    if f.q:
        where.append(search_clause(f.q))
    return where


def inbox_page(user, f: WorkFilters, page_size: int = 50):
    """One page of my work, nearest time limit first, and how many rows match in all.

    Offset paging with a count: an inbox holds hundreds of cases, not millions, so both are
    cheap, and the count is what the navigation badge shows when nothing is filtered.
    """
    where = _inbox_where(user, f)
    total = db.session.execute(sa.select(sa.func.count()).select_from(Case).where(*where)).scalar_one()
    rows = db.session.execute(_INBOX_SELECT.where(*where).order_by(*_INBOX_ORDER)
                              .limit(page_size).offset((f.page - 1) * page_size)).all()
    return rows, total


def inbox_steps(user) -> list[tuple[Step, int]]:
    """The steps my work is waiting on, with how many of each (the step filter's options)."""
    rows = db.session.execute(sa.select(Case.step, sa.func.count()).where(inbox_clause(user))
                              .group_by(Case.step)).all()
    found = dict(rows)
    return [(step, found[step]) for step in Step if step in found]


def inbox(user, limit: int = 200, steps: list[Step] | None = None):
    """The first rows of my work, optionally of some steps only (the leader's "next approval")."""
    q = _INBOX_SELECT.where(inbox_clause(user))
    if steps:
        q = q.where(Case.step.in_(steps))
    return dbreads.rows(q.order_by(*_INBOX_ORDER).limit(limit))


def inbox_count(user) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Case).where(inbox_clause(user))).scalar_one()


def _neighbours_select(on_batch: bool, earlier: bool, clause) -> sa.Select:
    parts = []
    if on_batch:
        parts.append(sa.select(sa.literal("batch").label("list"), Case.number, Case.received_at, Case.state,
                               Case.customer_name.label("name"), sa.func.count().over().label("total"))
                     .where(Case.batch_no == sa.bindparam("batch_no"), Case.id != sa.bindparam("case_id"))
                     .order_by(Case.received_at.desc()).limit(NEIGHBOURS_ON_BATCH))
    if earlier:
        parts.append(sa.select(sa.literal("earlier").label("list"), Case.number, Case.received_at, Case.state,
                               Case.product_name.label("name"), sa.cast(sa.null(), sa.BigInteger).label("total"))
                     .where(Case.customer_phone_rev == sa.bindparam("phone_rev"), Case.id != sa.bindparam("case_id"),
                            Case.received_at <= sa.bindparam("received_at"))
                     .order_by(Case.received_at.desc()).limit(NEIGHBOURS_EARLIER))
    if clause is not None:
        parts = [p.where(clause) for p in parts]
    both = sa.union_all(*(sa.select(p.subquery()) for p in parts)).subquery()
    return sa.select(both).order_by(both.c.list, both.c.received_at.desc())


NEIGHBOURS_ON_BATCH, NEIGHBOURS_EARLIER = 20, 10
# Built once for those who see every case (the desk, quality): see _UNFILTERED.
_NEIGHBOURS_ALL: dict[tuple[bool, bool], sa.Select] = {}


def neighbours(case: Case, user) -> tuple[list, list]:
    """The case page's two lists of other cases `user` may see, in one statement: the newest
    on the case's batch (each row carrying `total`, how many there are in all: a window
    count, for the heading), and the earlier ones from the same phone (repeat complaints).
    Rows have number, received_at, state and `name`: the customer's, or the product's."""
    shape = (bool(case.batch_no), bool(case.customer_phone_rev))
    if not any(shape):
        return [], []
    clause = access.visible_clause(user)
    if clause is None:
        q = _NEIGHBOURS_ALL.get(shape)
        if q is None:
            q = _NEIGHBOURS_ALL[shape] = _neighbours_select(*shape, None)
    else:
        q = _neighbours_select(*shape, clause)
    rows = dbreads.rows(q, {"case_id": case.id, "batch_no": case.batch_no, "phone_rev": case.customer_phone_rev,
                            "received_at": case.received_at})
    return [r for r in rows if r.list == "batch"], [r for r in rows if r.list == "earlier"]

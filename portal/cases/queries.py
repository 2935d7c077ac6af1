"""Scoped case lists: filters, sorting and paging for the list; the per-user work inbox."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from portal.batches.lookup import normalise_batch_no
from portal.cases import access
from portal.cases.models import Case, Category
from portal.cases.states import State, Step
from portal.clock import SHANGHAI
from portal.enums import Klass, Role, UnitKind
from portal.extensions import db
from portal.org.models import OrgUnit
from portal.org.tree import unit_tree

NUMBER_RE = re.compile(r"^KS\d{4}-\d{1,6}$", re.I)
SORTS = {
    "-received": (Case.received_at.desc(), Case.id.desc()),
    "received": (Case.received_at.asc(), Case.id.asc()),
    "due": (Case.due_at.asc().nulls_last(), Case.id.asc()),
    "-number": (Case.number.desc(),),
}
SORT_LABELS = {"-received": "最新受理", "received": "最早受理", "due": "时限最近", "-number": "编号倒序"}


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
    sort: str = "-received"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "CaseFilters":
        f = cls(**{k: (args.get(k) or "").strip()[:60] for k in
                   ("state", "klass", "category", "branch", "date_from", "date_to", "batch", "q")})
        f.sort = args.get("sort") if args.get("sort") in SORTS else "-received"
        try:
            f.page = max(1, min(int(args.get("page", 1)), 10_000))
        except ValueError:
            f.page = 1
        return f

    def as_args(self, **override) -> dict:
        d = {k: v for k, v in vars(self).items() if v and not (k == "sort" and v == "-received")
             and not (k == "page" and v == 1)}
        d.update({k: v for k, v in override.items()})
        return {k: v for k, v in d.items() if v not in ("", None) and not (k == "page" and v == 1)}

    @property
    def active(self) -> bool:
        return any(getattr(self, k) for k in ("state", "klass", "category", "branch", "date_from",
                                              "date_to", "batch", "q"))


def _local_day_start(value: str) -> datetime | None:
    try:
        d = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime.combine(d, time.min, SHANGHAI)


_branch = aliased(OrgUnit)
# Built once (statements are immutable): building it took longer than PostgreSQL runs it.
_LIST_SELECT = (sa.select(Case.id, Case.number, Case.received_at, Case.state, Case.klass, Case.customer_name,
                          Case.customer_phone, Case.product_name, Case.batch_no, Case.due_at, Case.step,
                          Case.escalation_level, _branch.name.label("branch_name"))
                .outerjoin(_branch, _branch.id == Case.branch_id))


def list_cases(user, f: CaseFilters, page_size: int = 50):
    """One page of rows (plain tuples, no ORM objects) and whether a next page exists.

    No COUNT(*): at a million rows it would cost more than the page itself.
    """
    q = _LIST_SELECT
    clause = access.visible_clause(user)
    if clause is not None:
        q = q.where(clause)
    if State.get(f.state):
        q = q.where(Case.state == State(f.state))
    elif f.state == "open":
        q = q.where(Case.state.notin_([State.CLOSED, State.REJECTED]))
    if Klass.get(f.klass):
        q = q.where(Case.klass == Klass(f.klass))
    if f.category.isdigit():
        ids = [int(f.category)] + list(db.session.execute(
            sa.select(Category.id).where(Category.parent_id == int(f.category))).scalars())
        q = q.where(Case.category_id.in_(ids))
    if f.branch.isdigit():
        q = q.where(Case.branch_id.in_(unit_tree().subtree(int(f.branch))))
    if f.date_from and (start := _local_day_start(f.date_from)):
        q = q.where(Case.received_at >= start)
    if f.date_to and (end := _local_day_start(f.date_to)):
        q = q.where(Case.received_at < end + timedelta(days=1))
    if f.batch:
        q = q.where(Case.batch_no == normalise_batch_no(f.batch))
    if f.q:
        text = f.q.strip()
        if NUMBER_RE.match(text):
            q = q.where(Case.number == text.upper())
        elif text.isdigit() and len(text) >= 7:
            # A phone number or a batch number: both indexed, so no scan of the whole table.
            q = q.where(sa.or_(Case.customer_phone == text, Case.batch_no == text))
        else:
            like = "%" + text.replace("%", "").replace("_", "") + "%"
            q = q.where(sa.or_(Case.number.ilike(like), Case.customer_name.ilike(like),
                               Case.product_name.ilike(like), Case.batch_no == normalise_batch_no(text)))
    q = q.order_by(*SORTS[f.sort]).limit(page_size + 1).offset((f.page - 1) * page_size)
    rows = db.session.execute(q).all()
    return rows[:page_size], len(rows) > page_size


def inbox_clause(user):
    """Cases waiting for this user's action, whatever their role(s)."""
    roles = user.roles
    tree = unit_tree()
    own = tree.subtree(user.unit_id)
    company_leader = user.unit is not None and user.unit.kind == UnitKind.COMPANY
    parts = [sa.and_(Case.step == Step.SUPPLEMENT, Case.step_user_id == user.id)]
    if Role.DESK in roles:
        parts.append(Case.step.in_([Step.VERIFY, Step.DISPATCH, Step.CALLBACK]))
    if Role.QUALITY in roles:
        parts.append(sa.and_(Case.step == Step.DISPATCH, Case.suggested_unit_id.is_(None),
                             Case.batch_no.isnot(None)))
    if Role.HANDLER in roles:
        parts.append(sa.and_(Case.step.in_([Step.ACKNOWLEDGE, Step.INVESTIGATE, Step.IMPLEMENT]),
                             Case.step_unit_id.in_(own),
                             sa.or_(Case.step_user_id.is_(None), Case.step_user_id == user.id)))
    if Role.LEADER in roles:
        leader_steps = Case.step.in_([Step.APPROVE, Step.SIGN_OFF])
        parts.append(leader_steps if company_leader else sa.and_(leader_steps, Case.step_unit_id.in_(own)))
    if Role.REP in roles and (branch := user.branch_id()):
        parts.append(sa.and_(Case.step == Step.CALLBACK, Case.step_unit_id.in_(tree.subtree(branch)),
                             Case.settled_on_spot.is_(False)))  # the desk confirms a rep's settlement
    return sa.or_(*parts)


def inbox(user, limit: int = 200, steps: list[Step] | None = None):
    branch = aliased(OrgUnit)
    q = (sa.select(Case.id, Case.number, Case.received_at, Case.state, Case.klass, Case.customer_name,
                   Case.product_name, Case.batch_no, Case.due_at, Case.step, Case.escalation_level,
                   Case.comp_cash, Case.approval_reasons, branch.name.label("branch_name"))
         .outerjoin(branch, branch.id == Case.branch_id)
         .where(inbox_clause(user)))
    if steps:
        q = q.where(Case.step.in_(steps))
    return db.session.execute(q.order_by(Case.due_at.asc().nulls_last(), Case.id).limit(limit)).all()


def inbox_count(user) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Case).where(inbox_clause(user))).scalar_one()


def related_on_batch(case: Case, user, limit: int = 20):
    if not case.batch_no:
        return []
    q = sa.select(Case.id, Case.number, Case.received_at, Case.state, Case.customer_name).where(
        Case.batch_no == case.batch_no, Case.id != case.id)
    clause = access.visible_clause(user)
    if clause is not None:
        q = q.where(clause)
    return db.session.execute(q.order_by(Case.received_at.desc()).limit(limit)).all()


def earlier_of_customer(case: Case, user, limit: int = 10):
    """Repeat complaints: earlier cases from the same phone number."""
    q = sa.select(Case.id, Case.number, Case.received_at, Case.state, Case.product_name).where(
        Case.customer_phone == case.customer_phone, Case.id != case.id,
        Case.received_at <= case.received_at)
    clause = access.visible_clause(user)
    if clause is not None:
        q = q.where(clause)
    return db.session.execute(q.order_by(Case.received_at.desc()).limit(limit)).all()

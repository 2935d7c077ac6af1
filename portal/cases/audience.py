"""Who each step of a case waits for, written once (AUDIENCE below).

The permission check (`may_act`, behind access.in_step_scope), the "my work" inbox
(`inbox_clause`) and the people told of the step (`holders`) are all derived from the same
declaration, so a person is told of a case iff it is in their work iff they may act on it
(tests/cases/test_audience.py). A step waits for the people of its groups; when the case
names a person (step_user_id) who can still act, it waits for that person alone.

The step's place is (case.step, case.step_unit_id, case.step_user_id): moving a step to
somebody else (改派, "hand the step to the leader") means changing those three.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy.orm import aliased

from portal.cases.models import Case
from portal.cases.states import Step
from portal.extensions import db
from portal.labels import N_
from portal.org.enums import Role, UnitKind
from portal.org import rows as org_rows
from portal.org.models import User, UserRole
from portal.org.tree import UnitTree, unit_tree


# ---------------------------------------------------------------- conditions on the case

@dataclass(frozen=True)
class When:
    """A condition on the case, written for Python (one case) and for SQL (the inbox)."""
    test: Callable[[Case], bool]
    sql: Callable[[], sa.ColumnElement]


# A batch number nobody has traced to its production department yet: quality traces it
# (批号追溯) so that the desk dispatches to the right department.
UNTRACED = When(lambda c: c.batch_no is not None and c.suggested_unit_id is None,
                lambda: sa.and_(Case.batch_no.isnot(None), Case.suggested_unit_id.is_(None)))
# A rep's own on-the-spot settlement is confirmed with the customer by the desk, not the rep.
NOT_SETTLED_ON_SPOT = When(lambda c: not c.settled_on_spot, lambda: Case.settled_on_spot.is_(False))


# ---------------------------------------------------------------- the organisation

def _people_statement(in_units: bool) -> sa.Select:
    has_role = User.id.in_(sa.select(UserRole.user_id).where(
        UserRole.role.in_(sa.bindparam("roles", expanding=True))))
    q = org_rows.user_rows().where(User.active.is_(True), has_role)
    if in_units:
        q = q.where(User.unit_id.in_(sa.bindparam("units", expanding=True)))
    return q.order_by(User.id)


# Built once: the case page asks for its step's holders on every request.
_PEOPLE = {False: _people_statement(False), True: _people_statement(True)}


def _active_with_roles(roles, units=None) -> list[User]:
    """Active users with any of `roles` (in `units`, when given), with their unit and roles
    (portal/org/rows.py)."""
    params = {"roles": list(roles)}
    if units is not None:
        params["units"] = list(units)
    return org_rows.users(_PEOPLE[units is not None], params)


def leader_units() -> set[int]:
    """Units with at least one active leader (asked once per request: my work asks for its
    count, its rows and its steps)."""
    if has_request_context() and "leader_units" in g:
        return g.leader_units
    units = set(db.session.execute(
        sa.select(User.unit_id).join(UserRole).where(User.active.is_(True), UserRole.role == Role.LEADER)
        .distinct()).scalars())
    if has_request_context():
        g.leader_units = units
    return units


def _ancestry(tree: UnitTree, unit_id: int | None) -> list[int]:
    """The unit and those above it, nearest first."""
    out = []
    while unit_id is not None and unit_id not in out:
        out.append(unit_id)
        unit = tree.units.get(unit_id)
        unit_id = unit.parent_id if unit else None
    return out


def leader_unit_of(unit_id: int | None, with_leaders: set[int] | None = None) -> int | None:
    """The nearest unit at or above `unit_id` with an active leader (a branch has none of
    its own: its decisions wait for the company's)."""
    with_leaders = leader_units() if with_leaders is None else with_leaders
    return next((u for u in _ancestry(unit_tree(), unit_id) if u in with_leaders), None)


def leaders_of(unit_id: int | None) -> list[User]:
    """The active leaders of the nearest unit at or above `unit_id` that has any: whom a
    decision of that unit waits for, and whom an escalation from it goes to."""
    chain = _ancestry(unit_tree(), unit_id)
    if not chain:
        return []
    leaders = _active_with_roles({Role.LEADER}, chain)
    for unit in chain:
        found = [u for u in leaders if u.unit_id == unit]
        if found:
            return found
    return []


def _served_units(leader_unit: int, with_leaders: set[int]) -> set[int]:
    """The units whose decisions wait for the leaders of `leader_unit`: it and the units
    below it, except those with a leader of their own (and whatever is below those)."""
    tree = unit_tree()
    out, todo = set(), [leader_unit]
    while todo:
        uid = todo.pop()
        out.add(uid)
        todo.extend(c for c in tree.children.get(uid, []) if c not in with_leaders)
    return out


def branch_of(unit_id: int | None) -> int | None:
    """The branch a person of `unit_id` works for: the unit itself or the nearest branch above."""
    tree = unit_tree()
    return next((u for u in _ancestry(tree, unit_id) if tree.units[u].kind == UnitKind.BRANCH), None)


# ---------------------------------------------------------------- groups of people

@dataclass(frozen=True)
class Group:
    """People a step may wait for. Each group answers the same question three ways:
    for one person and one case (`admits`), for one person over all cases (`clause`, SQL
    on Case, None when the person can never belong), and for one case (`members`)."""
    role: Role
    when: When | None = None
    # What the person is asked to do, when it is not the step itself (the message says it).
    task: str | None = None

    def admits(self, case: Case, user: User) -> bool:
        return (self.role in user.roles and (self.when is None or self.when.test(case))
                and self._in_scope(case, user))

    def clause(self, user: User):
        if self.role not in user.roles:
            return None
        scope = self._scope_clause(user)
        if scope is None:
            return None
        return sa.and_(scope, self.when.sql()) if self.when is not None else scope

    def members(self, case: Case) -> list[User]:
        if self.when is not None and not self.when.test(case):
            return []
        return self._members(case)

    # Scope, per kind of group.
    def _in_scope(self, case, user) -> bool:
        raise NotImplementedError

    def _scope_clause(self, user):
        raise NotImplementedError

    def _members(self, case) -> list[User]:
        raise NotImplementedError


@dataclass(frozen=True)
class Anyone(Group):
    """Everybody with the role, wherever they sit (the complaint desk, quality)."""

    def _in_scope(self, case, user) -> bool:
        return True

    def _scope_clause(self, user):
        return sa.true()

    def _members(self, case) -> list[User]:
        return _active_with_roles({self.role})


@dataclass(frozen=True)
class OfStepUnit(Group):
    """The people with the role in the step's own unit (a department's handlers): the
    unit a case is dispatched to must have them (operations._dispatch_target)."""

    def _in_scope(self, case, user) -> bool:
        return case.step_unit_id is not None and user.unit_id == case.step_unit_id

    def _scope_clause(self, user):
        return Case.step_unit_id == user.unit_id

    def _members(self, case) -> list[User]:
        if case.step_unit_id is None:
            return []
        return _active_with_roles({self.role}, [case.step_unit_id])

    def member_sql(self, person):
        """The same scope for a person row (aliased User) against the case row, in SQL."""
        return person.unit_id == Case.step_unit_id


@dataclass(frozen=True)
class LeadersOfStepUnit(Group):
    """The leaders of the step's unit, or of the nearest unit above it with a leader
    (leaders_of): a company leader decides what a branch or a leaderless department sends
    up, and what the rules send to headquarters; not every department's daily approvals."""
    role: Role = Role.LEADER

    def _in_scope(self, case, user) -> bool:
        return case.step_unit_id is not None and leader_unit_of(case.step_unit_id) == user.unit_id

    def _scope_clause(self, user):
        with_leaders = leader_units()
        if user.unit_id not in with_leaders:
            return None  # not an active leader
        return Case.step_unit_id.in_(sorted(_served_units(user.unit_id, with_leaders)))

    def _members(self, case) -> list[User]:
        return leaders_of(case.step_unit_id) if case.step_unit_id is not None else []


@dataclass(frozen=True)
class OfStepBranch(Group):
    """The people with the role who work for the branch the step sits with (a branch's reps)."""

    def _in_scope(self, case, user) -> bool:
        branch = branch_of(user.unit_id)
        return (branch is not None and case.step_unit_id is not None
                and unit_tree().contains(branch, case.step_unit_id))

    def _scope_clause(self, user):
        branch = branch_of(user.unit_id)
        if branch is None:
            return None
        return Case.step_unit_id.in_(sorted(unit_tree().subtree(branch)))

    def _members(self, case) -> list[User]:
        if case.step_unit_id is None:
            return []
        return [u for u in _active_with_roles({self.role}) if self._in_scope(case, u)]


@dataclass(frozen=True)
class Named:
    """The person the case names for the step (step_user_id), while they can still act:
    active, with one of `roles`, and inside `within` if given. Otherwise the step falls
    back to its groups (a handler who left leaves the case to their department)."""
    roles: frozenset
    within: OfStepUnit | None = None

    def person(self, case: Case) -> User | None:
        if case.step_user_id is None:
            return None
        person = db.session.get(User, case.step_user_id)
        return person if person is not None and self.can_act(case, person) else None

    def can_act(self, case: Case, person: User) -> bool:
        return (person.active and bool(person.roles & self.roles)
                and (self.within is None or self.within._in_scope(case, person)))

    def clause(self, user: User):
        """The cases naming this user, where they can act."""
        if not user.roles & self.roles:
            return None
        mine = Case.step_user_id == user.id
        return sa.and_(mine, self.within._scope_clause(user)) if self.within is not None else mine

    def absent(self):
        """SQL: the case names nobody, or nobody who can still act. The same for every
        reader, so built once (building the aliased subquery cost more than running it)."""
        clause = _ABSENT.get(id(self))
        if clause is None:
            person, role = aliased(User), aliased(UserRole)
            able = [person.id == Case.step_user_id, person.active.is_(True), role.user_id == person.id,
                    role.role.in_(sorted(self.roles))]
            if self.within is not None:
                able.append(self.within.member_sql(person))
            clause = _ABSENT[id(self)] = sa.or_(Case.step_user_id.is_(None), ~sa.exists().where(*able))
        return clause


_ABSENT: dict[int, sa.ColumnElement] = {}


@dataclass(frozen=True)
class Audience:
    groups: tuple[Group, ...]
    named: Named | None = None

    @property
    def roles(self) -> set[Role]:
        return {g.role for g in self.groups} | set(self.named.roles if self.named else ())


def _audience(*groups: Group, named: Named | None = None) -> Audience:
    return Audience(tuple(groups), named)


# ---------------------------------------------------------------- THE declaration

DESK = Anyone(Role.DESK)
DEPARTMENT = OfStepUnit(Role.HANDLER)
# Handling waits for the department's handlers, or the one named (assigned at dispatch,
# or who acknowledged it), while that person is still a handler of the department.
HANDLING = _audience(DEPARTMENT, named=Named(frozenset({Role.HANDLER}), within=DEPARTMENT))
DECIDING = _audience(LeadersOfStepUnit())

AUDIENCE: dict[Step, Audience] = {
    Step.VERIFY: _audience(DESK),
    # The question goes back to whoever submitted the case; if they can no longer answer, the desk does.
    Step.SUPPLEMENT: _audience(DESK, named=Named(frozenset({Role.REP, Role.DESK}))),
    Step.DISPATCH: _audience(DESK, Anyone(Role.QUALITY, when=UNTRACED, task=N_("批号追溯"))),
    Step.ACKNOWLEDGE: HANDLING,
    Step.INVESTIGATE: HANDLING,
    Step.IMPLEMENT: HANDLING,
    Step.APPROVE: DECIDING,
    # The desk, or a rep of the case's branch, calls the customer back (回访).
    Step.CALLBACK: _audience(DESK, OfStepBranch(Role.REP, when=NOT_SETTLED_ON_SPOT)),
    Step.SIGN_OFF: DECIDING,
}


# ---------------------------------------------------------------- the three uses

def may_act(case: Case, user: User, step: Step | None = None) -> bool:
    """Does the case's current step (or `step`, if it is the current one) wait for this user?
    The role a transition needs is checked beside it (operations.check)."""
    step = step or case.step
    if step is None or case.step != step or user is None or not user.active:
        return False
    audience = AUDIENCE[step]
    if audience.named is not None and (person := audience.named.person(case)) is not None:
        return person.id == user.id
    return any(g.admits(case, user) for g in audience.groups)


_SAME_PEOPLE = "audience_same_people"


def same_people() -> None:
    """Until the end of this transaction (operations._commit: the step's notice, then its
    reminders) who holds a case's step is looked up once; a change to any of the case's
    columns asks again."""
    db.session.info[_SAME_PEOPLE] = (db.session().get_transaction(), {})


def holding(case: Case) -> list[tuple[User, str | None]]:
    """The people the case's step waits for, each with their task (None: the step itself)."""
    if case.step is None:
        return []
    memo = db.session.info.get(_SAME_PEOPLE)
    if memo is None or memo[0] is None or memo[0] is not db.session().get_transaction():
        return _holding(case)
    state = sa.inspect(case)
    columns = [state.dict.get(k) for k in state.mapper.column_attrs.keys()]
    known = memo[1].get(id(case))
    if known is None or known[0] != columns:
        known = memo[1][id(case)] = (columns, _holding(case))
    return list(known[1])


def _holding(case: Case) -> list[tuple[User, str | None]]:
    audience = AUDIENCE[case.step]
    if audience.named is not None and (person := audience.named.person(case)) is not None:
        return [(person, None)]
    out, seen = [], set()
    for g in audience.groups:
        for person in g.members(case):
            if person.id not in seen:
                seen.add(person.id)
                out.append((person, g.task))
    return out


def holders(case: Case) -> list[User]:
    """The people the case's step waits for: told of it, reminded, hurried (催办)."""
    return [person for person, _task in holding(case)]


def inbox_clause(user: User):
    """SQL on Case: the cases whose step waits for `user` (我的待办)."""
    if not user.active:
        return sa.false()
    buckets: dict[tuple, tuple[list[Step], object]] = {}
    for step, audience in AUDIENCE.items():
        for g in audience.groups:
            buckets.setdefault(("group", id(g), id(audience.named)), ([], (g, audience.named)))[0].append(step)
        if audience.named is not None:
            buckets.setdefault(("named", id(audience.named)), ([], audience.named))[0].append(step)
    parts = []
    for key, (steps, what) in buckets.items():
        if key[0] == "named":
            clause = what.clause(user)
        else:
            g, named = what
            clause = g.clause(user)
            if clause is not None and named is not None:
                clause = sa.and_(clause, named.absent())
        if clause is not None:
            on_step = Case.step == steps[0] if len(steps) == 1 else Case.step.in_(steps)
            parts.append(sa.and_(on_step, clause))
    return sa.or_(*parts) if parts else sa.false()

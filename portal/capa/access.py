"""Who may see a sheet, and whom each of its states waits for, written once (WAITS below):
the permission check, the "待我处理" list and the people told all derive from it."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort

from portal.capa.models import CorrectiveAction, sheet_case
from portal.capa.states import SheetState
from portal.cases import access as case_access
from portal.cases.audience import leader_unit_of, leader_units, leaders_of
from portal.cases.models import Case
from portal.extensions import db
from portal.org.enums import Role, UnitKind
from portal.org.models import User, UserRole
from portal.org.tree import unit_tree

ALL_SEEING = {Role.ADMIN, Role.QUALITY, Role.DESK}


def _sees_all(user) -> bool:
    return bool(user.roles & ALL_SEEING) or (
        Role.LEADER in user.roles and user.unit is not None and user.unit.kind == UnitKind.COMPANY)


def visible_clause(user):
    """SQL on CorrectiveAction: the sheets `user` may see (None: all). The receiving
    department sees its own; anyone else sees a sheet through a case of it they may see."""
    if _sees_all(user):
        return None
    clauses = []
    if user.has_role(Role.HANDLER, Role.LEADER):
        clauses.append(CorrectiveAction.receiving_unit_id.in_(sorted(unit_tree().subtree(user.unit_id))))
    cases = case_access.visible_clause(user)
    clauses.append(sa.exists().where(sheet_case.c.sheet_id == CorrectiveAction.id,
                                     sheet_case.c.case_id == Case.id,
                                     cases if cases is not None else sa.true()))
    return sa.or_(*clauses)


def can_view(sheet: CorrectiveAction, user) -> bool:
    clause = visible_clause(user)
    if clause is None:
        return True
    return db.session.execute(sa.select(CorrectiveAction.id).where(
        CorrectiveAction.id == sheet.id, clause)).first() is not None


def visible_sheet_or_404(number: str, viewer) -> CorrectiveAction:
    """The sheet by number if `viewer` may see it; 404 otherwise (no hint that it exists)."""
    sheet = db.session.execute(sa.select(CorrectiveAction).where(
        CorrectiveAction.number == number)).scalar_one_or_none()
    if sheet is None or not can_view(sheet, viewer):
        abort(404)
    return sheet


# ---------------------------------------------------------------- whom a state waits for

@dataclass(frozen=True)
class Waiting:
    """The role a state waits for and where: the receiving department's handlers, its
    leaders (or the nearest unit above with one, as a case's approval), or any quality user."""
    role: Role
    where: str  # "receiving" | "receiving_leader" | "anywhere"

    def admits(self, sheet: CorrectiveAction, user: User) -> bool:
        if not user.active or self.role not in user.roles:
            return False
        if self.where == "receiving":
            return user.unit_id == sheet.receiving_unit_id
        if self.where == "receiving_leader":
            return leader_unit_of(sheet.receiving_unit_id) == user.unit_id
        return True

    def members(self, sheet: CorrectiveAction) -> list[User]:
        if self.where == "receiving_leader":
            return leaders_of(sheet.receiving_unit_id)
        return people_with(self.role, sheet.receiving_unit_id if self.where == "receiving" else None)

    def clause(self, user: User):
        if not user.active or self.role not in user.roles:
            return None
        if self.where == "receiving":
            return CorrectiveAction.receiving_unit_id == user.unit_id
        if self.where == "receiving_leader":
            if user.unit_id not in leader_units():
                return None
            served = [u for u in unit_tree().subtree(user.unit_id) if leader_unit_of(u) == user.unit_id]
            return CorrectiveAction.receiving_unit_id.in_(sorted(served))
        return sa.true()


def people_with(role: Role, unit_id: int | None = None) -> list[User]:
    """Active users with the role (in the unit, if given)."""
    q = (sa.select(User).join(UserRole).where(User.active.is_(True), UserRole.role == role)
         .order_by(User.id))
    if unit_id is not None:
        q = q.where(User.unit_id == unit_id)
    return list(db.session.execute(q).unique().scalars())


HANDLERS = Waiting(Role.HANDLER, "receiving")
WAITS: dict[SheetState, Waiting] = {
    SheetState.ISSUED: HANDLERS,
    SheetState.RETURNED: HANDLERS,
    SheetState.RESPONDED: Waiting(Role.LEADER, "receiving_leader"),
    SheetState.APPROVED: Waiting(Role.QUALITY, "anywhere"),
}


def may_act(sheet: CorrectiveAction, user: User) -> bool:
    waiting = WAITS.get(sheet.state)
    return waiting is not None and waiting.admits(sheet, user)


def holders(sheet: CorrectiveAction) -> list[User]:
    """The people the sheet waits for now: told when it reaches them."""
    waiting = WAITS.get(sheet.state)
    return waiting.members(sheet) if waiting is not None else []


def waiting_clause(user: User):
    """SQL on CorrectiveAction: the sheets waiting for `user`."""
    parts = []
    for state in SheetState:
        waiting = WAITS.get(state)
        clause = waiting.clause(user) if waiting is not None else None
        if clause is not None:
            parts.append(sa.and_(CorrectiveAction.state == state, clause))
    return sa.or_(*parts) if parts else sa.false()

"""Who may see a case and who may act on it; enforced in queries, not only in templates."""
from __future__ import annotations

import sqlalchemy as sa

from portal.cases import audience
from portal.cases.models import Case
from portal.cases.states import Step
from portal.org.enums import Role, UnitKind
from portal.org.tree import unit_tree

ALL_SEEING = {Role.ADMIN, Role.DESK, Role.QUALITY}
FULL_PHONE_ROLES = {Role.DESK, Role.REP, Role.HANDLER, Role.ADMIN}


def _leader_sees_all(user) -> bool:
    return user.unit is not None and user.unit.kind == UnitKind.COMPANY


def visible_clause(user):
    """A WHERE clause for the cases `user` may see (None: everything)."""
    roles = user.roles
    if roles & ALL_SEEING or (Role.LEADER in roles and _leader_sees_all(user)):
        return None
    tree = unit_tree()
    own = tree.subtree(user.unit_id)
    clauses = []
    if Role.REP in roles:
        branch = user.branch_id()
        if branch is not None:
            clauses.append(Case.branch_id.in_(tree.subtree(branch)))
        clauses.append(Case.registered_by_id == user.id)
    if Role.HANDLER in roles:
        clauses.append(Case.responsible_unit_id.in_(own))
    if Role.LEADER in roles:
        clauses.append(Case.responsible_unit_id.in_(own))
        clauses.append(Case.branch_id.in_(own))
    return sa.or_(*clauses) if clauses else sa.false()


def can_view(case: Case, user) -> bool:
    roles = user.roles
    if roles & ALL_SEEING or (Role.LEADER in roles and _leader_sees_all(user)):
        return True
    tree = unit_tree()
    if Role.REP in roles:
        branch = user.branch_id()
        if case.registered_by_id == user.id or (branch and tree.contains(branch, case.branch_id)):
            return True
    if Role.HANDLER in roles and case.responsible_unit_id and tree.contains(user.unit_id, case.responsible_unit_id):
        return True
    if Role.LEADER in roles and (tree.contains(user.unit_id, case.responsible_unit_id)
                                 or tree.contains(user.unit_id, case.branch_id)):
        return True
    return False


def sees_full_phone(case: Case, user) -> bool:
    return bool(user.roles & FULL_PHONE_ROLES)


def in_step_scope(case: Case, user, step: Step) -> bool:
    """Does this step of this case wait for the user? (portal/cases/audience.py decides,
    for the inbox and the notifications too.)"""
    return audience.may_act(case, user, step)


def may_settle_on_spot(case: Case, user) -> bool:
    """The rep who registered the case, or a rep of its branch, may settle it at intake (现场处理)."""
    if not user.has_role(Role.REP):
        return False
    branch = user.branch_id()
    return case.registered_by_id == user.id or (
        branch is not None and case.branch_id is not None and unit_tree().contains(branch, case.branch_id))

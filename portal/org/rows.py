"""Users built from plain rows: the user, their unit and all their roles in one Core SELECT,
turned into persistent User objects as if the ORM had loaded them. Building them this way
costs a third of the ORM's joined eager load of the same; pages ask for people on every
request (the signed-in user, who holds a case's step)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from portal import dbreads
from portal.extensions import db
from portal.org.models import OrgUnit, User, UserRole

_USER_COLUMNS = tuple(User.__table__.c)
_UNIT_COLUMNS = tuple(OrgUnit.__table__.c)


def user_rows() -> sa.Select:
    """SELECT of users with their unit and their roles, a role per row (add where and order;
    rows of one user must come together)."""
    return (sa.select(*_USER_COLUMNS, *(c.label(f"unit__{c.key}") for c in _UNIT_COLUMNS), UserRole.role)
            .select_from(User)
            .join(OrgUnit, OrgUnit.id == User.unit_id)
            .outerjoin(UserRole, UserRole.user_id == User.id))


def users(statement, params=None) -> list[User]:
    """The users of a `user_rows()` statement, in its order."""
    out, group = [], []
    for row in dbreads.rows(statement, params):
        if group and row.id != group[0].id:
            out.append(persistent_user(group))
            group = []
        group.append(row)
    if group:
        out.append(persistent_user(group))
    return out


def persistent_user(rows) -> User:
    """The User of these rows (one user's), persistent in this request's session with its
    unit and roles loaded; the one the session holds already, if it does."""
    first = rows[0]
    known = db.session.identity_map.get(identity_key(User, first.id))
    if known is not None:
        return known
    uid = first.id
    user = User(**{c.key: first._mapping[c] for c in _USER_COLUMNS})
    make_transient_to_detached(user)
    unit = db.session.identity_map.get(identity_key(OrgUnit, first.unit_id))
    if unit is None:
        unit = OrgUnit(**{c.key: first._mapping[f"unit__{c.key}"] for c in _UNIT_COLUMNS})
        make_transient_to_detached(unit)
        db.session.add(unit)
    set_committed_value(user, "unit", unit)
    roles = []
    for row in rows:
        if row.role is not None:
            role = UserRole(user_id=uid, role=row.role)
            make_transient_to_detached(role)
            roles.append(role)
    set_committed_value(user, "role_rows", roles)
    db.session.add(user)
    return user

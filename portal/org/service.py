"""Service accounts: the User rows that stand for a system or for the customer when they act.

An integration's API token (portal/api) and the customer's progress page (portal/customer)
register cases, attach files and leave audit events like staff do; the records name a user,
so each of them has one. A service account can never log in (inactive, no password, no
role), is in no role's audience, and the admin's user list leaves it out.
"""
from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.org.models import OrgUnit, User

PREFIX = "svc:"  # usernames of service accounts; staff usernames cannot contain ':'
UNUSABLE_PASSWORD = "!"  # matches no password (portal/org/passwords.verify_password)


def is_service(user: User | None) -> bool:
    return user is not None and user.username.startswith(PREFIX)


def service_user(code: str, name: str) -> User:
    """The service account `svc:<code>` (created, in the caller's transaction, the first time).

    `name` is what the timeline and the audit show, e.g. 「接口：呼叫中心」 or 「顾客（进度页）」;
    an existing account keeps its row but takes the new name."""
    username = PREFIX + code
    user = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        root = db.session.execute(
            sa.select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1)).scalar_one()
        user = User(username=username, name=name[:64], password_hash=UNUSABLE_PASSWORD,
                    unit_id=root, active=False)
        db.session.add(user)
        db.session.flush()
    elif user.name != name[:64]:
        user.name = name[:64]
    return user

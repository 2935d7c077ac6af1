"""The case's progress link: made in the intake transaction, found again by its token.

128 bits from `secrets` (22 URL-safe characters) cannot be guessed; looking one up costs a
unique-index probe whether it exists or not, and a wrong, revoked or expired token all come
out as None, so the page cannot tell them apart either."""
from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from flask import current_app

from portal.cases.models import Case
from portal.cases.states import State
from portal.clock import as_utc, utcnow
from portal.customer.models import CaseLink
from portal.extensions import db

TOKEN_BYTES = 16  # 128 bits → 22 characters
TOKEN_LENGTH = 22


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def create_link(case: Case, actor=None) -> CaseLink:
    """A fresh link for the case (in the caller's transaction)."""
    link = CaseLink(case_id=case.id, token=new_token(), created_by_id=getattr(actor, "id", None))
    db.session.add(link)
    return link


def current_link_query(case_id, *columns) -> sa.Select:
    """SELECT of the case's link in force (the newest not revoked): the link, or `columns` of
    it (the case page reads the token with the case row: portal/cases/panels.HAS_WITH_CASE)."""
    return (sa.select(*(columns or (CaseLink,)))
            .where(CaseLink.case_id == case_id, CaseLink.revoked_at.is_(None))
            .order_by(CaseLink.id.desc()).limit(1))


def current_link(case_id: int) -> CaseLink | None:
    """The case's link in force (the newest not revoked)."""
    return db.session.execute(current_link_query(case_id)).scalar_one_or_none()


def ensure_link(case: Case, actor=None) -> CaseLink:
    """The case's link, made now if it has none (cases from before the progress page)."""
    return current_link(case.id) or create_link(case, actor)


def expires_at(case: Case):
    """When the link stops working: CUSTOMER_LINK_DAYS after closing (never while open)."""
    if case.closed_at is None or case.state not in (State.CLOSED, State.REJECTED):
        return None
    return as_utc(case.closed_at) + timedelta(days=current_app.config["CUSTOMER_LINK_DAYS"])


def usable(link: CaseLink | None, now=None) -> bool:
    if link is None or link.revoked_at is not None:
        return False
    return not expired(link.case, now)


def expired(case: Case, now=None) -> bool:
    """The case's links have stopped working (CUSTOMER_LINK_DAYS after closing)."""
    until = expires_at(case)
    return until is not None and (now or utcnow()) >= until


def find(token: str) -> CaseLink | None:
    """The link of this token if it still works, else None (wrong, revoked, expired alike)."""
    if not token or len(token) != TOKEN_LENGTH:
        token = "-" * TOKEN_LENGTH  # same query, same cost, for a token of the wrong shape
    # One query whatever the outcome (the case comes with the link): an expired link costs
    # what an unknown one does.
    link = db.session.execute(sa.select(CaseLink).options(joinedload(CaseLink.case))
                              .where(CaseLink.token == token)).unique().scalar_one_or_none()
    return link if usable(link) else None


def absolute_url(link: CaseLink) -> str:
    """The link as the customer gets it (SMS, receipt): PORTAL_BASE_URL + /p/<token>."""
    return absolute_url_of(link.token)


def absolute_url_of(token: str) -> str:
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    return base + path_of(token)


def path_of(token: str) -> str:
    return f"/p/{token}"  # the route customer.page; short, for the SMS

"""Signed-in sessions kept on the server, and failed logins for throttling.

The session cookie is signed but lives in the browser, so only a row here can end it: a copy
of the cookie dies with its row (logout, password change, deactivation, idle timeout)."""
from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.models_base import created_column, utc_column


class UserSession(db.Model):
    """One signed-in browser. The cookie carries `id`; no row, no session."""
    __tablename__ = "user_session"
    id = sa.Column(sa.String(64), primary_key=True)  # random, secrets.token_urlsafe
    user_id = sa.Column(sa.Integer, sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    created_at = created_column()
    # Last use, to the minute (written at most once a minute): idle rows are ended and purged.
    seen_at = utc_column(nullable=False, index=True)


class LoginFailure(db.Model):
    """One failed login, under the account key and again under the address key; counted over
    a sliding window and deleted once older than it."""
    __tablename__ = "login_failure"
    __table_args__ = (sa.Index("ix_login_failure_key_at", "key", "at"),)
    id = sa.Column(sa.Integer, primary_key=True)
    key = sa.Column(sa.String(160), nullable=False)  # "user:<name>" or "ip:<address>"
    at = utc_column(nullable=False, index=True)

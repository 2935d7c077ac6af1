"""Signed-in sessions: one server-side row per browser (portal/auth/models.py), the logged-in
user loaded with it in one query, and idle sessions ended."""
from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import (current_app, flash, g, has_request_context, make_response, redirect, request,
                   session, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from portal import clock, dbreads
from portal.auth.models import UserSession
from portal.extensions import db
from portal.org.models import User
from portal.org.rows import persistent_user, user_rows

SID = "sid"  # the cookie key holding this browser's UserSession.id
TOUCH_SECONDS = 60  # the cookie and the row record use at most once a minute


def _idle_limit() -> timedelta:
    return timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def start(user: User) -> None:
    """Sign this browser in as `user`. Nothing from before the login survives in the cookie,
    the CSRF token included (a token planted or seen before login is useless after it), and
    the browser gets a new server-side session. The caller commits."""
    now = clock.utcnow()
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF caches the token of this request in g
    sid = secrets.token_urlsafe(32)
    # Rows idle past the limit can never be used again: purge them while we are writing anyway.
    db.session.execute(sa.delete(UserSession).where(UserSession.seen_at < now - _idle_limit()))
    db.session.add(UserSession(id=sid, user_id=user.id, created_at=now, seen_at=now))
    login_user(user)
    session[SID] = sid
    session["seen"] = int(now.timestamp())
    session.permanent = True


def end() -> None:
    """Sign this browser out. Its row goes, so a copy of the cookie is signed out as well.
    The caller commits."""
    sid = session.get(SID)
    if sid:
        db.session.execute(sa.delete(UserSession).where(UserSession.id == sid))
    logout_user()
    session.clear()


# The session row, the user, their unit and their roles in one round trip, as plain rows
# (portal/org/rows.py), on every request of every page.
_LOAD_USER = (
    user_rows()
    .join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.id == sa.bindparam("sid"), User.id == sa.bindparam("uid"),
           UserSession.seen_at >= sa.bindparam("stale"), User.active.is_(True))
)


def load_user(ident: str):
    sid = session.get(SID)
    if not sid or not ident.isdigit():
        return None  # also every cookie from before server-side sessions ("id:epoch")
    stale = clock.utcnow() - _idle_limit() - timedelta(seconds=TOUCH_SECONDS)
    rows = dbreads.rows(_LOAD_USER, {"sid": sid, "uid": int(ident), "stale": stale})
    return persistent_user(rows) if rows else None


def unauthorized():
    if request.headers.get("HX-Request"):
        resp = make_response("", 401)
        resp.headers["HX-Redirect"] = url_for("auth.login", next=request.full_path)
        return resp
    flash(_("请先登录。"), "info")
    return redirect(url_for("auth.login", next=request.full_path))


def enforce_idle_timeout():
    if request.endpoint in (None, "static") or not current_user.is_authenticated:
        return None
    now = clock.utcnow()  # the portal's clock, so tests and demos can move it
    stamp = int(now.timestamp())
    last = session.get("seen", stamp)
    if stamp - last > current_app.config["SESSION_IDLE_MINUTES"] * 60:
        end()
        db.session.commit()
        flash(_("您长时间未操作，已自动退出，请重新登录。"), "info")
        return unauthorized()
    # Only touch the cookie and the row once a minute, so most responses re-set nothing.
    if stamp - last > TOUCH_SECONDS or "seen" not in session:
        session["seen"] = stamp
        # Its own short transaction: committing the request's session here would expire
        # the user just loaded and cost a second query on the next attribute.
        with db.engine.begin() as conn:
            conn.execute(sa.update(UserSession).where(UserSession.id == session.get(SID))
                         .values(seen_at=now))
    return None


def end_other_sessions(user_id: int) -> None:
    """Every session of the user ends except this browser's (when it is theirs): after a
    password change or a deactivation. The caller commits."""
    keep = session.get(SID) if has_request_context() else None
    query = sa.delete(UserSession).where(UserSession.user_id == user_id)
    if keep:
        query = query.where(UserSession.id != keep)
    db.session.execute(query)

"""Loading the logged-in user (one query) and ending idle sessions."""
from __future__ import annotations


import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from portal import clock
from portal.extensions import db
from portal.org.models import User


def load_user(ident: str):
    try:
        user_id, epoch = (int(x) for x in ident.split(":"))
    except ValueError:
        return None
    # One round trip per request: the unit and the roles come with the user.
    user = db.session.execute(sa.select(User).options(joinedload(User.role_rows))
                              .where(User.id == user_id)).unique().scalar_one_or_none()
    # A password change bumps the epoch, which ends every other session of the user.
    if user is None or user.session_epoch != epoch or not user.active:
        return None
    return user


def unauthorized():
    if request.headers.get("HX-Request"):
        from flask import make_response
        resp = make_response("", 401)
        resp.headers["HX-Redirect"] = url_for("auth.login", next=request.full_path)
        return resp
    flash(_("请先登录。"), "info")
    return redirect(url_for("auth.login", next=request.full_path))


def enforce_idle_timeout():
    if request.endpoint in (None, "static") or not current_user.is_authenticated:
        return None
    now = int(clock.utcnow().timestamp())  # the portal's clock, so tests and demos can move it
    last = session.get("seen", now)
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    if now - last > idle:
        logout_user()
        session.clear()
        flash(_("您长时间未操作，已自动退出，请重新登录。"), "info")
        return unauthorized()
    # Only touch the cookie once a minute, so most responses don't re-set it.
    if now - last > 60 or "seen" not in session:
        session["seen"] = now
    return None

"""Server-side sessions: logout really ends the session (a copied cookie too), the CSRF token
of the anonymous visit is not carried into the signed-in session, idle rows are purged."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal import clock
from portal.auth.models import UserSession
from portal.extensions import db
from tests.conftest import csrf_from, do_login, user


def copy_of(client, app):
    """A second browser holding a copy of `client`'s session cookie (stolen or synced)."""
    name = app.config["SESSION_COOKIE_NAME"]
    other = app.test_client()
    other.set_cookie(name, client.get_cookie(name).value)
    return other


def signed_in(client) -> bool:
    resp = client.get("/work")
    assert resp.status_code in (200, 302)
    return resp.status_code == 200


def test_logout_ends_a_copied_cookie_too(app, as_user):
    client = as_user("desk")
    copy = copy_of(client, app)
    assert signed_in(copy)

    resp = client.post("/auth/logout", data={"csrf_token": csrf_from(client, "/work")})
    assert resp.status_code == 302

    replay = copy.get("/work")
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/auth/login")
    assert copy.get(f"/cases/").status_code == 302


def test_logout_in_one_browser_keeps_the_users_other_browsers(app, as_user):
    phone, desktop = as_user("rep_cd"), as_user("rep_cd")
    phone.post("/auth/logout", data={"csrf_token": csrf_from(phone, "/work")})
    assert not signed_in(phone)
    assert signed_in(desktop)


def test_csrf_token_from_before_login_is_refused_after_it(app):
    client = app.test_client()
    before = csrf_from(client, "/auth/login")
    assert do_login(client, "desk").status_code == 302
    after = csrf_from(client, "/work")
    assert after != before

    # A token seen (or planted) before login cannot post as the signed-in user ...
    resp = client.post("/auth/logout", data={"csrf_token": before})
    assert resp.status_code == 400 and signed_in(client)
    # ... the one the signed-in pages carry can.
    assert client.post("/auth/logout", data={"csrf_token": after}).status_code == 302
    assert not signed_in(client)


def test_each_login_gets_a_new_server_session(app):
    client = app.test_client()
    do_login(client, "desk")
    first = copy_of(client, app)
    client.post("/auth/logout", data={"csrf_token": csrf_from(client, "/work")})
    do_login(client, "desk")
    assert signed_in(client)
    assert not signed_in(first)  # the cookie of the earlier login does not come back to life


def test_sessions_idle_past_the_limit_are_purged_at_the_next_login(app, as_user):
    as_user("rep_cd")
    as_user("rep_zz")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 2
    clock.travel(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 5))
    as_user("desk")
    rows = db.session.execute(sa.select(UserSession.user_id)).scalars().all()
    assert rows == [user("desk").id]

"""Signing in and out: passwords, throttling, password change, idle sessions, CSRF, `next`."""
from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.signing.models import AuditEvent
from tests.conftest import csrf_from, user

PASSWORD = "demo1234"


def post_login(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    token = csrf_from(client, "/auth/login")
    url = "/auth/login" + (f"?next={quote(next_url, safe='')}" if next_url is not None else "")
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


def is_logged_in(client) -> bool:
    resp = client.get("/work")
    if resp.status_code == 200:
        return True
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/auth/login")
    return False


def lock_message_times() -> set[str]:
    """The try-again time the page may show: 15 minutes from now, to the minute (either side
    of a minute boundary)."""
    now = clock.utcnow()
    return {clock.fmt(now + timedelta(minutes=15, seconds=s)) for s in (-5, 0, 5)}


# ---------------------------------------------------------------- password

def test_right_password_signs_in_and_shows_my_work(app):
    client = app.test_client()
    resp = post_login(client, "rep_cd")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    page = client.get("/work")
    assert page.status_code == 200 and "刘洋" in page.get_data(as_text=True)


@pytest.mark.parametrize("username, password", [("rep_cd", "demo12345"), ("nobody", PASSWORD),
                                                ("rep_cd", "")])
def test_wrong_password_or_unknown_user_gets_the_same_answer(app, username, password):
    client = app.test_client()
    resp = post_login(client, username, password)
    html = resp.get_data(as_text=True)
    if password:
        assert resp.status_code == 401 and "用户名或密码不正确。" in html
    else:
        assert resp.status_code == 200 and "请输入密码" in html
    assert not is_logged_in(client)


def test_deactivated_user_cannot_sign_in_and_their_session_ends(app):
    client = app.test_client()
    assert post_login(client, "rep_zz").status_code == 302
    user("rep_zz").active = False
    db.session.commit()
    assert not is_logged_in(client)
    assert post_login(app.test_client(), "rep_zz").status_code == 401


# ---------------------------------------------------------------- throttling

def test_five_failures_lock_the_account_for_fifteen_minutes(app):
    client = app.test_client()
    for _ in range(4):
        assert post_login(client, "leader_prod1", "guess").status_code == 401
    resp = post_login(client, "leader_prod1", "guess")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 429
    until = re.search(r"登录失败次数过多，请于 (\d{4}-\d\d-\d\d \d\d:\d\d) 后再试。", html)
    assert until and until.group(1) in lock_message_times()

    # The right password is refused too while locked, with the same time.
    resp = post_login(client, "leader_prod1")
    assert resp.status_code == 429 and f"请于 {until.group(1)} 后再试" in resp.get_data(as_text=True)
    assert not is_logged_in(client)

    # Another account from the same address is not locked by this one.
    assert post_login(app.test_client(), "leader_prod2").status_code == 302

    clock.travel(timedelta(minutes=16))
    assert post_login(client, "leader_prod1").status_code == 302
    assert is_logged_in(client)


def test_success_before_the_fifth_failure_starts_the_count_again(app):
    client = app.test_client()
    for _ in range(4):
        post_login(client, "desk", "guess")
    assert post_login(client, "desk").status_code == 302
    other = app.test_client()
    for _ in range(4):
        assert post_login(other, "desk", "guess").status_code == 401


# ---------------------------------------------------------------- logout

def test_logout_ends_the_session(app, as_user):
    client = as_user("desk")
    token = csrf_from(client, "/work")
    resp = client.post("/auth/logout", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/auth/login"
    assert "您已退出登录。" in client.get("/auth/login").get_data(as_text=True)
    assert not is_logged_in(client)


def test_logout_needs_a_post_with_token(app, as_user):
    client = as_user("desk")
    assert client.get("/auth/logout").status_code == 405
    # Without the CSRF token: a link or form on another site cannot log you out.
    assert client.post("/auth/logout").status_code == 400
    assert is_logged_in(client)


# ---------------------------------------------------------------- change password

def change_password(client, current: str, new: str, confirm: str | None = None):
    token = csrf_from(client, "/auth/password")
    return client.post("/auth/password", data={"current": current, "new": new,
                                               "confirm": new if confirm is None else confirm,
                                               "csrf_token": token})


@pytest.mark.parametrize("current, new, confirm, message", [
    ("demo12345", "newpass2026", None, "当前密码不正确"),
    (PASSWORD, "short", None, "新密码至少 8 位"),
    (PASSWORD, "newpass2026", "newpass2027", "两次输入的新密码不一致"),
])
def test_change_password_refuses_bad_input(app, as_user, current, new, confirm, message):
    client = as_user("leader_qa")
    resp = change_password(client, current, new, confirm)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert post_login(app.test_client(), "leader_qa").status_code == 302  # old password still works


def test_change_password_ends_the_users_other_sessions(app, as_user):
    here, elsewhere = as_user("leader_qa"), as_user("leader_qa")
    assert is_logged_in(elsewhere)

    resp = change_password(here, PASSWORD, "newpass2026")

    assert resp.status_code == 302
    assert is_logged_in(here)           # this browser stays signed in
    assert not is_logged_in(elsewhere)  # the phone left logged in is signed out
    assert post_login(app.test_client(), "leader_qa").status_code == 401
    assert post_login(app.test_client(), "leader_qa", "newpass2026").status_code == 302
    event = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "password_changed")).scalar_one()
    assert event.actor_id == user("leader_qa").id


# ---------------------------------------------------------------- idle timeout

def idle_for(client, seconds: int) -> None:
    """The session remembers when it was last used (wall-clock seconds); pretend that was
    `seconds` ago."""
    with client.session_transaction() as session:
        assert "seen" in session
        session["seen"] = int(time.time()) - seconds


def test_idle_session_is_ended_with_a_message(app, as_user):
    client = as_user("handler_prod1")
    assert is_logged_in(client)  # the first request after login records the time
    idle_for(client, app.config["SESSION_IDLE_MINUTES"] * 60 + 5)

    resp = client.get("/work")

    assert resp.status_code == 302 and resp.headers["Location"].startswith("/auth/login?next=")
    assert "您长时间未操作，已自动退出，请重新登录。" in client.get("/auth/login").get_data(as_text=True)
    assert not is_logged_in(client)


def test_session_used_within_the_idle_limit_stays(app, as_user):
    client = as_user("handler_prod1")
    assert is_logged_in(client)
    idle_for(client, app.config["SESSION_IDLE_MINUTES"] * 60 - 30)
    assert is_logged_in(client)
    idle_for(client, app.config["SESSION_IDLE_MINUTES"] * 60 - 30)  # use renews the clock
    assert is_logged_in(client)


# ---------------------------------------------------------------- CSRF and redirects

def test_login_without_csrf_token_is_refused(app):
    client = app.test_client()
    client.get("/auth/login")
    resp = client.post("/auth/login", data={"username": "desk", "password": PASSWORD})
    assert resp.status_code == 400
    assert "页面已过期或缺少安全令牌" in resp.get_data(as_text=True)
    assert not is_logged_in(client)


def test_login_with_a_token_of_another_session_is_refused(app):
    token = csrf_from(app.test_client(), "/auth/login")
    client = app.test_client()
    client.get("/auth/login")
    resp = client.post("/auth/login", data={"username": "desk", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 400 and not is_logged_in(client)


def test_next_inside_the_portal_is_followed(app):
    resp = post_login(app.test_client(), "desk", next_url="/cases/?state=open")
    assert resp.headers["Location"] == "/cases/?state=open"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "\\\\evil.example",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_next_never_leads_off_site(app, target):
    resp = post_login(app.test_client(), "desk", next_url=target)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\r\nSet-Cookie: x=1"])
def test_next_with_control_characters_goes_home(app, target):
    resp = post_login(app.test_client(), "desk", next_url=target)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_nul_byte_in_username_is_a_failed_login_not_a_500(app, request):
    resp = post_login(app.test_client(), "de\x00sk", "x")
    assert resp.status_code in (400, 401)

"""Login throttling: accounts lock over a sliding window; an address (behind the company
proxy: everyone) only slows down, far above the account limit; timing does not reveal
which usernames exist."""
from __future__ import annotations

import statistics
import time
from datetime import timedelta

import sqlalchemy as sa

from portal import clock
from portal.auth.models import LoginFailure
from portal.extensions import db
from portal.org.passwords import hash_password
from tests.conftest import csrf_from, user

PASSWORD = "demo1234"


class Browser:
    """One browser at one address, posting the login form."""

    def __init__(self, app, address="10.1.1.1"):
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = address
        self.token = csrf_from(self.client, "/auth/login")

    def login(self, username, password=PASSWORD):
        return self.client.post("/auth/login", data={"username": username, "password": password,
                                                     "csrf_token": self.token})


def test_twenty_failures_under_other_names_do_not_lock_the_address(app):
    proxy = Browser(app)  # the whole company behind one proxy address
    for n in range(20):
        assert proxy.login(f"typo{n}", "wrong").status_code == 401
    assert proxy.login("rep_cd").status_code == 302


def test_account_failures_older_than_the_window_are_forgotten(app):
    browser = Browser(app)
    for _ in range(4):
        assert browser.login("desk", "guess").status_code == 401
    clock.travel(timedelta(minutes=app.config["LOGIN_WINDOW_MINUTES"], seconds=30))
    for _ in range(4):
        assert browser.login("desk", "guess").status_code == 401
    resp = browser.login("desk", "guess")  # the fifth within the window
    assert resp.status_code == 429 and "登录失败次数过多" in resp.get_data(as_text=True)


def test_account_lock_ends_when_the_oldest_failure_leaves_the_window(app):
    browser = Browser(app)
    browser.login("quality", "guess")
    clock.travel(timedelta(minutes=10))
    for _ in range(4):
        browser.login("quality", "guess")
    assert browser.login("quality").status_code == 429
    clock.travel(timedelta(minutes=5, seconds=30))  # the first failure is now 15.5 minutes old
    assert browser.login("quality").status_code == 302


def test_many_failures_from_one_address_slow_it_down_and_never_lock_it(app):
    free = app.config["LOGIN_ADDRESS_FREE_FAILURES"]
    assert free >= 10 * app.config["LOGIN_MAX_FAILURES"]
    attacker = Browser(app)
    for n in range(free - 1):
        assert attacker.login(f"guess{n}", "wrong").status_code == 401
    resp = attacker.login("guess-last", "wrong")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert "此网络地址登录失败次数过多，请 1 秒后再试。" in resp.get_data(as_text=True)

    # A colleague behind the same address waits a second, not fifteen minutes.
    colleague = Browser(app)
    assert colleague.login("rep_cd").status_code == 429
    clock.travel(timedelta(seconds=1.5))
    assert colleague.login("rep_cd").status_code == 302

    # Each further failure doubles the pause, up to the maximum.
    pauses = []
    for n in range(8):
        clock.travel(timedelta(seconds=app.config["LOGIN_ADDRESS_MAX_PAUSE_SECONDS"]))
        pauses.append(int(attacker.login(f"more{n}", "wrong").headers["Retry-After"]))
    assert pauses == [2, 4, 8, 16, 32, 60, 60, 60]

    # Another address is not slowed at all.
    assert Browser(app, "10.9.9.9").login("rep_zz").status_code == 302

    # Once the failures leave the window the address is free again.
    clock.travel(timedelta(minutes=app.config["LOGIN_WINDOW_MINUTES"], seconds=1))
    assert attacker.login("nobody", "wrong").status_code == 401


def test_failures_older_than_the_window_are_deleted(app):
    browser = Browser(app)
    for n in range(3):
        browser.login(f"old{n}", "wrong")
    clock.travel(timedelta(minutes=app.config["LOGIN_WINDOW_MINUTES"], seconds=1))
    browser.login("new", "wrong")
    keys = sorted(db.session.execute(sa.select(LoginFailure.key)).scalars())
    assert keys == ["ip:10.1.1.1", "user:new"]


def use_production_hashes(app, monkeypatch, *usernames):
    """Argon2id hashes, not the cheap test ones: the gap to hide is the hash verification."""
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "argon2id")
    for name in usernames:
        user(name).password_hash = hash_password(PASSWORD, "argon2id")
    db.session.commit()


def timed_failure(browser, username, password="wrong") -> float:
    start = time.perf_counter()
    assert browser.login(username, password).status_code == 401
    return time.perf_counter() - start


def test_unknown_username_answers_as_slowly_as_a_wrong_password(app, monkeypatch):
    known = ["desk", "quality", "handler_prod1", "leader_prod1"]
    use_production_hashes(app, monkeypatch, *known)
    browser = Browser(app)
    browser.login("warm-up", "wrong")  # the first use pays for making the dummy hash

    known_times, unknown_times = [], []
    for round_ in range(3):  # three failures per account: below its lock
        for n, name in enumerate(known):
            known_times.append(timed_failure(browser, name))
            unknown_times.append(timed_failure(browser, f"nosuchuser{round_}{n}"))
    unknown, wrong = statistics.median(unknown_times), statistics.median(known_times)
    assert 0.7 < unknown / wrong < 1.4, f"unknown {unknown * 1000:.1f} ms, wrong password {wrong * 1000:.1f} ms"


def test_deactivated_user_answers_as_slowly_as_a_wrong_password(app, monkeypatch):
    use_production_hashes(app, monkeypatch, "rep_bj", "rep_zz")
    user("rep_bj").active = False
    db.session.commit()
    browser = Browser(app)
    inactive, wrong = [], []
    for _ in range(4):
        inactive.append(timed_failure(browser, "rep_bj", PASSWORD))  # the right password, refused
        wrong.append(timed_failure(browser, "rep_zz"))
    assert 0.7 < statistics.median(inactive) / statistics.median(wrong) < 1.4

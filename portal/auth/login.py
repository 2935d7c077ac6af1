"""One login attempt: throttling, the password check, and the new server-side session.

The answer takes as long for a username that does not exist (or is deactivated) as for a
wrong password of a real one, so timing does not tell which usernames exist."""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from portal.auth import session as sessions, throttle
from portal.clock import fmt, utcnow
from portal.extensions import db
from portal.org.models import User
from portal.org.passwords import hash_password, verify_password

_dummy_hashes: dict[str, str] = {}


@dataclass(frozen=True)
class Outcome:
    user: User | None = None
    message: str | None = None
    status: int = 200
    retry_after: int | None = None  # seconds, for the Retry-After header


def attempt(username: str, password: str, ip: str | None) -> Outcome:
    now = utcnow()
    wait = throttle.wait_for(username, ip, now)
    if wait:
        return _refused(wait, now)
    user = db.session.execute(sa.select(User).where(
        sa.func.lower(User.username) == username.strip().lower())).unique().scalar_one_or_none()
    # Always pay for one hash verification, with or without a user behind the name.
    ok = user.check_password(password) if user is not None else _verify_dummy(password)
    if ok and user.active:
        throttle.clear_account(username)
        user.upgrade_password_hash(password)
        sessions.start(user)
        db.session.commit()
        return Outcome(user=user)
    throttle.register_failure(username, ip, now)
    db.session.commit()
    wait = throttle.wait_for(username, ip, now)
    return _refused(wait, now) if wait else Outcome(message=_("用户名或密码不正确。"), status=401)


def _refused(wait: throttle.Wait, now) -> Outcome:
    seconds = max(1, math.ceil((wait.until - now).total_seconds()))
    if wait.account:
        message = _("登录失败次数过多，请于 %(time)s 后再试。", time=fmt(wait.until))
    else:
        message = _("此网络地址登录失败次数过多，请 %(seconds)s 秒后再试。", seconds=seconds)
    return Outcome(message=message, status=429, retry_after=seconds)


def _verify_dummy(password: str) -> bool:
    """Verify against a hash of a random password made with the method real hashes use."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "argon2id")
    stored = _dummy_hashes.get(method)
    if stored is None:
        stored = _dummy_hashes.setdefault(method, hash_password(secrets.token_hex(16), method))
    verify_password(stored, password)
    return False

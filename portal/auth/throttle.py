"""Login throttling over a sliding window, stored in the database (works across workers).

An account locks after a few failures: that is what stops password guessing. An address only
slows down, and only far above that: behind the company's proxy every user shares one
address, so a lock there would lock everyone out. Failures older than the window are
forgotten and deleted."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.auth.models import LoginFailure
from portal.clock import as_utc, utcnow
from portal.extensions import db


@dataclass(frozen=True)
class Wait:
    until: datetime
    account: bool  # True: this account is locked; False: this address is slowed down


def _account_key(username: str) -> str:
    return f"user:{(username or '').strip().lower()[:120]}"


def _address_key(ip: str) -> str:
    return f"ip:{ip}"


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])


def wait_for(username: str, ip: str | None, now: datetime | None = None) -> Wait | None:
    """How long the caller must wait before the next attempt, or None to go ahead."""
    cfg = current_app.config
    now = now or utcnow()
    since = now - _window()
    waits = []

    # Account: locked while the window holds LOGIN_MAX_FAILURES failures, i.e. until the
    # oldest of the latest ones leaves it.
    limit = cfg["LOGIN_MAX_FAILURES"]
    latest = db.session.execute(
        sa.select(LoginFailure.at).where(LoginFailure.key == _account_key(username),
                                         LoginFailure.at >= since)
        .order_by(LoginFailure.at.desc()).limit(limit)).scalars().all()
    if len(latest) >= limit:
        waits.append(Wait(as_utc(latest[-1]) + _window(), account=True))

    # Address: free up to LOGIN_ADDRESS_FREE_FAILURES in the window, then each further failure
    # doubles the pause after the last one (1 s, 2 s, 4 s … up to the maximum).
    if ip:
        count, last = db.session.execute(
            sa.select(sa.func.count(), sa.func.max(LoginFailure.at))
            .where(LoginFailure.key == _address_key(ip), LoginFailure.at >= since)).one()
        excess = count - cfg["LOGIN_ADDRESS_FREE_FAILURES"]
        if excess >= 0:
            pause = min(2 ** min(excess, 20), cfg["LOGIN_ADDRESS_MAX_PAUSE_SECONDS"])
            waits.append(Wait(as_utc(last) + timedelta(seconds=pause), account=False))

    waits = [w for w in waits if w.until > now]
    return max(waits, key=lambda w: w.until) if waits else None


def register_failure(username: str, ip: str | None, now: datetime | None = None) -> None:
    """Count a failure against the account and the address. The caller commits."""
    now = now or utcnow()
    db.session.add(LoginFailure(key=_account_key(username), at=now))
    if ip:
        db.session.add(LoginFailure(key=_address_key(ip), at=now))
    # Nothing outside the window counts any more; with the index on `at` this deletes the
    # few rows that have just aged out, so the table stays as small as the window.
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.at < now - _window()))


def clear_account(username: str) -> None:
    """After a successful login the account's count starts again (the address's does not:
    signing in to one's own account must not buy an attacker more guesses). The caller commits."""
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.key == _account_key(username)))

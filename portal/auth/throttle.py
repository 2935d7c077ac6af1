"""Login throttling per account and per address, stored in the database (works across workers)."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app

from portal.clock import as_utc, utcnow
from portal.extensions import db
from portal.org.models import LoginThrottle


def _keys(username: str, ip: str | None) -> list[str]:
    keys = [f"user:{(username or '').strip().lower()[:120]}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def locked_until(username: str, ip: str | None):
    """When the caller may try again, or None if not locked."""
    now = utcnow()
    latest = None
    for key in _keys(username, ip):
        row = db.session.get(LoginThrottle, key)
        if row and row.locked_until and as_utc(row.locked_until) > now:
            latest = max(latest or now, as_utc(row.locked_until))
    return latest


def register_failure(username: str, ip: str | None) -> None:
    cfg = current_app.config
    now = utcnow()
    for key in _keys(username, ip):
        limit = cfg["LOGIN_MAX_FAILURES"] * (4 if key.startswith("ip:") else 1)
        row = db.session.get(LoginThrottle, key) or LoginThrottle(key=key, failures=0)
        if row.locked_until and as_utc(row.locked_until) <= now:
            row.failures, row.locked_until = 0, None
        row.failures += 1
        row.updated_at = now
        if row.failures >= limit:
            row.locked_until = now + timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"])
        db.session.add(row)
    db.session.commit()


def clear(username: str) -> None:
    row = db.session.get(LoginThrottle, _keys(username, None)[0])
    if row:
        db.session.delete(row)
        db.session.commit()

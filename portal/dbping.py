"""Check a pooled PostgreSQL connection before use only when it has been idle a while.

SQLAlchemy's pool_pre_ping sends an empty query before every checkout: one more round trip on
every request of every page, for connections that were in use milliseconds ago. A connection
that has worked within IDLE_SECONDS is taken as alive; one idle longer (the night, a database
restart, a firewall that drops quiet connections) is pinged first and, if dead, replaced
before the request uses it, as pool_pre_ping would. A database restart while connections are
busy is noticed on their next statement instead: that request fails, and SQLAlchemy then
discards every connection of the pool, so the next ones start clean.
"""
from __future__ import annotations

import time

from sqlalchemy import event, exc

IDLE_SECONDS = 10.0


def install(engine) -> None:
    event.listen(engine, "checkout", _checkout)
    event.listen(engine, "checkin", _checkin)


def _checkin(dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _checkout(dbapi_connection, record, proxy) -> None:
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < IDLE_SECONDS:
        return  # just opened, or in use a moment ago
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(";")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as error:  # noqa: BLE001 - any failure means: do not use this one
        # The pool closes this connection and checks out another (SQLAlchemy retries).
        raise exc.DisconnectionError(f"idle connection dead: {error}") from error

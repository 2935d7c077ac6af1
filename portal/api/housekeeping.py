"""Nightly: the API's Idempotency-Key claims expire and its call log is kept for a while.

A claim answers a retry of the same create; integrations retry within minutes, so after
IDEMPOTENCY_HOURS it is let go (a create that crashed between its claim and its case leaves
the key usable again then). The case itself still holds the key (Case.intake_key, unique):
the same key after that still finds the same case, never a second one. Calls are logged for
API_CALL_LOG_DAYS, then deleted."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from portal.api.models import ApiCall, ApiIdempotency
from portal.clock import utcnow
from portal.extensions import db


def purge(now=None) -> tuple[int, int]:
    """Delete expired claims and old call-log rows; returns how many of each."""
    now = now or utcnow()
    config = current_app.config
    claims = db.session.execute(
        sa.delete(ApiIdempotency).where(
            ApiIdempotency.created_at < now - timedelta(hours=int(config["API_IDEMPOTENCY_HOURS"])))).rowcount
    calls = db.session.execute(
        sa.delete(ApiCall).where(ApiCall.at < now - timedelta(days=int(config["API_CALL_LOG_DAYS"])))).rowcount
    db.session.commit()
    return claims, calls

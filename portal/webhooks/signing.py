"""Signing a delivery and checking a signature (what a receiver does; the docs show the same
few lines standalone).

    X-Portal-Timestamp: <unix seconds>
    X-Portal-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

`body` is the exact bytes POSTed (UTF-8 JSON). A receiver recomputes the HMAC over the raw
body it read, compares in constant time, and refuses a timestamp more than `tolerance`
seconds away from its clock (a replayed old delivery). During a secret rotation the header
may carry several `v1=` values separated by commas; any one matching is enough.
"""
from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"
# The headers of every delivery (POST, Content-Type: application/json; charset=utf-8).
HEADER_EVENT = "X-Portal-Event"  # the event code (portal/webhooks/events.py), or "ping"
HEADER_DELIVERY = "X-Portal-Delivery"  # the delivery's id, the same on every retry (= body "id")
HEADER_TIMESTAMP = "X-Portal-Timestamp"  # unix seconds when this attempt was signed
HEADER_SIGNATURE = "X-Portal-Signature"  # "v1=<hex>"
TOLERANCE_SECONDS = 300


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """The X-Portal-Signature header value: "v1=<hex>"."""
    message = _bytes(str(int(timestamp))) + b"." + _bytes(body)
    return f"{SCHEME}=" + hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, timestamp: int | str | None, body: str | bytes, header: str | None,
           tolerance: int = TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """True if `header` (X-Portal-Signature) signs this body and timestamp with `secret` and the
    timestamp is within `tolerance` seconds of now."""
    if not header or timestamp in (None, ""):
        return False
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    expected = sign(secret, ts, body)
    return any(hmac.compare_digest(expected, part.strip())
               for part in header.split(",") if part.strip().startswith(f"{SCHEME}="))

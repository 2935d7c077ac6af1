"""Token guessing slowed down per address: unknown links counted in Redis over a fixed window
(shared by every worker); over the limit, the address is refused every link until the
window ends, good ones included, so a guess that hits looks like one that misses.

Redis down: each process counts on its own (a guesser spread over workers gets a few times
the limit, still nothing next to 2^128)."""
from __future__ import annotations

import time

from flask import current_app

from portal.queues import redis

_local: dict[str, int] = {}  # key -> misses, when Redis does not answer


def _key(ip: str | None) -> str:
    window = current_app.config["CUSTOMER_LINK_WINDOW_MINUTES"] * 60
    return f"portal:customer-link-miss:{ip or '-'}:{int(time.time() // window)}"


def _window_seconds() -> int:
    return current_app.config["CUSTOMER_LINK_WINDOW_MINUTES"] * 60


def blocked(ip: str | None) -> bool:
    key = _key(ip)
    try:
        count = int(redis().get(key) or 0)
    except Exception:  # noqa: BLE001 - Redis down or slow: this process's own count
        count = _local.get(key, 0)
    return count >= current_app.config["CUSTOMER_LINK_MAX_MISSES"]


def retry_after() -> int:
    window = _window_seconds()
    return int(window - time.time() % window) + 1


def missed(ip: str | None) -> None:
    key = _key(ip)
    try:
        pipe = redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, _window_seconds() + 5)
        pipe.execute()
    except Exception:  # noqa: BLE001
        if len(_local) > 10_000:
            _local.clear()
        _local[key] = _local.get(key, 0) + 1

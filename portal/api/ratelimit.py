"""Requests per minute per token: a fixed one-minute window counted in Redis (shared by every
gunicorn worker and host). If Redis does not answer, each process counts for itself (the
limit then holds per process, never a 500) until Redis is back."""
from __future__ import annotations

import threading
import time

from flask import current_app

_local: dict[tuple[str, int], int] = {}
_lock = threading.Lock()
_redis_down_until = 0.0


def hit(token_key: str, limit: int, now: float | None = None) -> tuple[bool, int, int]:
    """Count one request: (allowed, remaining, seconds until the window resets)."""
    global _redis_down_until
    now = time.time() if now is None else now
    window = int(now // 60)
    reset = 60 - int(now % 60)
    count = None
    if time.monotonic() >= _redis_down_until:
        from portal.queues import redis
        key = f"api:rl:{token_key}:{window}"
        try:
            pipe = redis().pipeline()
            pipe.incr(key)
            pipe.expire(key, 120)
            count = int(pipe.execute()[0])
        except Exception:  # noqa: BLE001 - Redis down or slow: count here
            _redis_down_until = time.monotonic() + current_app.config["REDIS_RETRY_SECONDS"]
            current_app.logger.warning("API rate limit: Redis unavailable, counting in process")
    if count is None:
        with _lock:
            for k in [k for k in _local if k[1] < window]:
                del _local[k]
            count = _local[(token_key, window)] = _local.get((token_key, window), 0) + 1
    return count <= limit, max(0, limit - count), reset


def reset_local() -> None:
    global _redis_down_until
    with _lock:
        _local.clear()
    _redis_down_until = 0.0

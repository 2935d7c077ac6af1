"""Reference data the pages read on every request, kept in the process for a minute.

The cause tree's options, the ladder's level names and the list's filter options change a
few times a year and are read by every case page. A change made in this process clears
them at once (`clear()` after its commit); other gunicorn workers see it within TTL_SECONDS,
and what a stale option would allow is refused by the operation itself (a deactivated
category by usable_category). Keyed by the page's language where the values are translated.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")
TTL_SECONDS = 60
_values: dict[tuple, tuple[float, object]] = {}


def get(key: tuple, make: Callable[[], T], ttl: float = TTL_SECONDS) -> T:
    """The value kept under `key`, or `make()` kept for `ttl` seconds."""
    hit = _values.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < ttl:
        return hit[1]  # type: ignore[return-value]
    value = make()
    _values[key] = (now, value)
    return value


def clear() -> None:
    _values.clear()

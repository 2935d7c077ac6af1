"""Redis connection and RQ queues; jobs are enqueued by dotted name with ids only.

Enqueueing happens after commit, inside a request, and is never essential: the minute sweep
delivers what was not handed over, and thumbnails and PDFs are made on demand. So the web's
connection fails fast (short timeouts, no retries) and, once Redis has failed, is left alone
for a few seconds, so a hung Redis costs one request a fraction of a second instead of every
request several seconds. The RQ worker and `rq cron` make their own connections (from `--url`)
with the long timeouts that blocking dequeues need.
"""
from __future__ import annotations

import logging
import time

from flask import current_app
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from rq import Queue

log = logging.getLogger(__name__)

_connections: dict[str, Redis] = {}
# url -> monotonic time until which enqueueing is skipped after Redis failed (per process).
_failed_until: dict[str, float] = {}


def redis() -> Redis:
    config = current_app.config
    url = config["REDIS_URL"]
    if url not in _connections:
        _connections[url] = Redis.from_url(
            url,
            socket_connect_timeout=config["REDIS_CONNECT_TIMEOUT"],
            socket_timeout=config["REDIS_SOCKET_TIMEOUT"],
            # redis-py's default retries with backoff turn one timeout into seconds.
            retry=Retry(NoBackoff(), 0))
    return _connections[url]


def recently_failed() -> bool:
    """True while this process skips Redis because it failed moments ago (a hung Redis would
    otherwise cost every request its socket timeout)."""
    return time.monotonic() < _failed_until.get(current_app.config["REDIS_URL"], 0.0)


def note_failure(exc: Exception) -> None:
    """Skip Redis for REDIS_RETRY_SECONDS after a connection error or timeout."""
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        _failed_until[current_app.config["REDIS_URL"]] = (
            time.monotonic() + current_app.config["REDIS_RETRY_SECONDS"])


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis())


def enqueue(queue_name: str, func: str, *args, at=None, **options) -> bool:
    """Hand a job to the workers if Redis answers promptly; False if it was not handed over
    (the caller's fallback, the sweep or on-demand work, then takes care of it). With `at`
    (an aware datetime) the job waits in RQ's scheduled registry until then (the worker runs
    `--with-scheduler`)."""
    if recently_failed():
        log.warning("Redis failed moments ago; not enqueuing %s%s", func, args)
        return False
    try:
        if at is None:
            queue(queue_name).enqueue(func, *args, **options)
        else:
            queue(queue_name).enqueue_at(at, func, *args, **options)
        return True
    except (RedisConnectionError, RedisTimeoutError) as exc:
        note_failure(exc)
        log.warning("could not enqueue %s%s (Redis skipped for %gs): %s", func, args,
                    current_app.config["REDIS_RETRY_SECONDS"], exc)
    except Exception as exc:  # noqa: BLE001 - never fail the request that already committed
        log.warning("could not enqueue %s%s: %s", func, args, exc)
    return False


def enqueue_at(at, queue_name: str, func: str, *args, **options) -> bool:
    """enqueue(), run at `at` (an aware datetime) rather than now."""
    return enqueue(queue_name, func, *args, at=at, **options)


def enqueue_many(queue_name: str, jobs: list[dict]) -> bool:
    """Several jobs in one round trip to Redis (one pipeline): each a dict with `func`, `args`
    (a tuple), `at` (an aware datetime, or None for now) and RQ's options (job_id, result_ttl,
    …). All or none: False if Redis did not take them (the callers' fallbacks are enqueue's)."""
    if not jobs:
        return True
    if recently_failed():
        log.warning("Redis failed moments ago; not enqueuing %d jobs (%s, …)", len(jobs), jobs[0]["func"])
        return False
    try:
        q = queue(queue_name)
        with redis().pipeline() as pipe:
            for job in jobs:
                options = {k: v for k, v in job.items() if k not in ("func", "args", "at")}
                if job.get("at") is None:
                    q.enqueue_call(job["func"], args=tuple(job.get("args", ())), pipeline=pipe, **options)
                else:
                    q.enqueue_at(job["at"], job["func"], *job.get("args", ()), pipeline=pipe, **options)
            pipe.execute()
        return True
    except (RedisConnectionError, RedisTimeoutError) as exc:
        note_failure(exc)
        log.warning("could not enqueue %d jobs (%s, …; Redis skipped for %gs): %s", len(jobs), jobs[0]["func"],
                    current_app.config["REDIS_RETRY_SECONDS"], exc)
    except Exception as exc:  # noqa: BLE001 - never fail the request that already committed
        log.warning("could not enqueue %d jobs (%s, …): %s", len(jobs), jobs[0]["func"], exc)
    return False

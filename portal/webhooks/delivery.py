"""POSTing a webhook outbox row to its endpoint, signed; used by portal/notify/delivery.py's
_Senders for the channel "webhook" (claiming, recording each attempt and the retries are the
outbox's, so a delivery goes out at least once and never twice at the same time).

One kept-alive connection per receiver (scheme, host, port) for the whole batch; short
timeouts (WEBHOOK_TIMEOUT_SECONDS); redirects are not followed. A 2xx answer is delivered;
anything else, or no answer, raises WebhookError and the outbox retries the row later
(RETRY_AFTER below). The secret is the endpoint's at the time of the attempt, so after a
rotation every retry is signed with the new one.

Each attempt's answer is kept as "HTTP <status> · <ms> ms · <the first bytes of the body>"
(parse_response reads it back for the admin page).
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app

from portal.clock import as_utc
from portal.extensions import db
from portal.webhooks import signing
from portal.webhooks.models import WebhookEndpoint

# Wait before attempt n+1 after attempt n failed (8 attempts over about a day and a half,
# the outbox's MAX_ATTEMPTS), then the delivery is dead (an admin may retry it by hand).
RETRY_AFTER = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5),
               timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6), timedelta(hours=24))
EXCERPT_BYTES = 300
USER_AGENT = "ComplaintPortal-Webhooks/1"
# A reused keep-alive connection the receiver closed meanwhile fails at once: try a fresh one.
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                     http.client.CannotSendRequest)


class WebhookError(Exception):
    """The receiver did not accept the delivery (the message is what the attempt shows)."""


def response_text(status: int | None, ms: float, excerpt: str) -> str:
    head = f"HTTP {status}" if status is not None else "no answer"
    return f"{head} · {ms:.0f} ms · {excerpt}"[:1000]


_RESPONSE = re.compile(r"^(?:WebhookError: )?(?:HTTP (?P<status>\d{3})|no answer) · (?P<ms>\d+) ms · (?P<rest>.*)$", re.S)


def parse_response(text: str | None) -> dict:
    """{"status": int|None, "ms": int|None, "excerpt": str} from an attempt's recorded answer."""
    found = _RESPONSE.match(text or "")
    if not found:
        return {"status": None, "ms": None, "excerpt": text or ""}
    return {"status": int(found["status"]) if found["status"] else None, "ms": int(found["ms"]),
            "excerpt": found["rest"]}


def headers_for(secret: str, body: bytes, event_type: str, delivery_id: str, timestamp: int) -> dict:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        signing.HEADER_EVENT: event_type,
        signing.HEADER_DELIVERY: delivery_id,
        signing.HEADER_TIMESTAMP: str(timestamp),
        signing.HEADER_SIGNATURE: signing.sign(secret, timestamp, body),
    }


class WebhookSender:
    """The open connections and endpoint settings of one delivery batch."""

    def __init__(self):
        self._conns: dict[tuple, http.client.HTTPConnection] = {}
        self._endpoints: dict[int, WebhookEndpoint | None] = {}
        self.timeout = float(current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 5))

    def _endpoint(self, endpoint_id: int):
        if endpoint_id not in self._endpoints:
            endpoint = db.session.get(WebhookEndpoint, endpoint_id)
            self._endpoints[endpoint_id] = None if endpoint is None else (
                endpoint.url, endpoint.secret, endpoint.active)
            db.session.commit()
        return self._endpoints[endpoint_id]

    def send(self, row) -> str:
        endpoint = self._endpoint(int(row.address))
        # A test ping goes to a stopped endpoint too (to try it before switching it on).
        if endpoint is None or (not endpoint[2] and row.subject != "ping"):
            raise LookupError(f"webhook endpoint {row.address} is not configured or not active")
        url, secret, _active = endpoint
        body = row.body.encode("utf-8")
        head = json.loads(row.body)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        where = (parts.scheme, parts.hostname, parts.port)
        started = time.perf_counter()
        for first in (True, False):
            conn, was_open = self._connection(where)
            # Signed at each attempt: the timestamp is the attempt's, the secret the current one.
            headers = headers_for(secret, body, head["type"], head["id"], int(time.time()))
            try:
                conn.request("POST", path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
            except _STALE_CONNECTION as exc:
                self._drop(where)
                if was_open and first:
                    continue  # the receiver had closed the idle connection: once more, fresh
                raise WebhookError(response_text(None, _ms(started), f"{type(exc).__name__}: {exc}")) from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop(where)
                kind = "timeout" if isinstance(exc, socket.timeout) else type(exc).__name__
                raise WebhookError(response_text(None, _ms(started), f"{kind}: {exc}")) from exc
            if answer.will_close:
                self._drop(where)
            excerpt = data[:EXCERPT_BYTES].decode("utf-8", "replace")
            text = response_text(answer.status, _ms(started), excerpt)
            if 200 <= answer.status < 300:
                return text
            raise WebhookError(text)
        raise AssertionError("unreachable")

    def _connection(self, where: tuple):
        conn = self._conns.get(where)
        if conn is not None:
            return conn, True
        scheme, host, port = where
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        self._conns[where] = conn
        return conn, False

    def _drop(self, where: tuple) -> None:
        conn = self._conns.pop(where, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for where in list(self._conns):
            self._drop(where)


# -- Draining: a burst of changes is delivered by a few jobs, not one job per change -----------

# While this key exists, drain jobs are waiting; a change after they started sets it again.
DRAIN_MARK = "portal:webhooks:drain"
# A waiting drain that never ran (a worker died, Redis lost the job) stops blocking new ones.
DRAIN_MARK_SECONDS = 30
# Drain jobs started per burst: one per notify worker, so that two workers share a backlog.
DRAIN_JOBS = 2
DRAIN_CHUNK = 200  # rows looked up at a time (claimed 50 at a time by the outbox)
DRAIN_BUDGET_SECONDS = 40  # then the job ends; what is left is kicked again or swept


def kick() -> None:
    """After commit, for due webhook rows: make sure drain jobs are waiting (one Redis round
    trip when they are). Each job forks a work-horse and opens a database connection, which
    costs more than the POSTs it makes, so the workers take whatever is due together instead of
    a job per change. If Redis does not answer, the minute sweep delivers them."""
    from portal.queues import enqueue_many, note_failure, recently_failed, redis
    if recently_failed():
        return  # the minute sweep delivers them
    try:
        if not redis().set(DRAIN_MARK, "1", nx=True, ex=DRAIN_MARK_SECONDS):
            return  # drains are waiting: they will find these rows
    except Exception as exc:  # noqa: BLE001 - never fail the request that already committed
        note_failure(exc)
        current_app.logger.warning("webhook drain not kicked (the sweep delivers): %s", exc)
        return
    enqueue_many("notify", [{"func": "jobs.deliver.drain_webhooks", "args": (), "result_ttl": 0,
                             "failure_ttl": 86400} for _i in range(DRAIN_JOBS)])


def drain() -> int:
    """The drain job: deliver due webhook rows, chunk after chunk, until none is left (or the
    budget is spent). Drains running at once share the rows: each row is claimed before it is
    sent. Returns how many were delivered."""
    import sqlalchemy as sa
    from portal.clock import utcnow
    from portal.notify.delivery import _claimable, _Senders, deliver_messages
    from portal.notify.models import OutboxMessage
    from portal.queues import redis
    try:
        redis().delete(DRAIN_MARK)  # changes committed from now on kick a new drain
    except Exception:  # noqa: BLE001 - the mark expires on its own
        pass
    deadline = time.monotonic() + DRAIN_BUDGET_SECONDS
    sent = 0
    with _Senders() as senders:
        while time.monotonic() < deadline:
            ids = db.session.execute(
                sa.select(OutboxMessage.id)
                .where(OutboxMessage.channel == "webhook", _claimable(utcnow()))
                .order_by(OutboxMessage.id).limit(DRAIN_CHUNK)).scalars().all()
            db.session.commit()
            if not ids:
                break
            outcomes = deliver_messages(ids, senders)
            sent += sum(1 for o in outcomes.values() if o == "sent")
            if not outcomes:
                break  # another drain holds them all
    return sent


def retry_after(tries: int) -> timedelta:
    """The wait after a delivery's `tries`-th failed attempt: RETRY_AFTER's, the first one
    WEBHOOK_FIRST_RETRY_SECONDS when that is configured (unset, as by default: RETRY_AFTER[0])."""
    first = current_app.config.get("WEBHOOK_FIRST_RETRY_SECONDS")
    if tries == 1 and first is not None:
        return timedelta(seconds=float(first))
    return RETRY_AFTER[tries - 1]


def schedule_retry(message_id: int, at) -> None:
    """A failed delivery's next attempt as a job at its time (RQ's scheduler), so a 10 s wait
    is 10 s; if Redis is down the minute sweep takes it."""
    if current_app.config.get("OUTBOX_DIRECT_DISABLED"):
        return
    from portal.queues import enqueue_at
    # RQ keeps whole seconds (truncated): the next one, so the job never finds it not yet due.
    at = (as_utc(at) + timedelta(seconds=1)).replace(microsecond=0)
    enqueue_at(at, "notify", "jobs.deliver.deliver", message_id, job_id=f"deliver-{message_id}",
               result_ttl=0, failure_ttl=7 * 86400)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000

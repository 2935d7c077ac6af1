"""Writing to the outbox (inside the caller's transaction), cancelling and retrying rows, and
handing them to workers after commit: now, or at their send time (`enqueue_at`)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.clock import as_utc, utcnow
from portal.extensions import db
from portal.notify.models import CHANNELS, KINDS, OutboxMessage, UnitRobot

# Channels a worker delivers; in-app rows are read in the portal.
SENT_CHANNELS = ("email", "sms", "robot", "webhook")
# Rows handed to one delivery job (one work-horse, one database and one SMTP connection for
# all of them); a transition hands a few, a burst of reminders many.
JOB_BATCH = 100


def add_message(*, key: str, channel: str, recipient=None, address: str | None = None,
                subject: str, body: str, case_id: int | None = None, send_after=None,
                kind: str = "step", html: str | None = None,
                attachment: str | None = None, key_checked: bool = False) -> OutboxMessage | None:
    """Queue one message unless one with this key exists (a retry never sends twice).

    To a user (`recipient`: the address is their mail or phone unless `address` is given), to
    an address only (a customer's phone: recipient None), or to a group robot (channel
    "robot", address = the UnitRobot id). Returns None when there is nowhere to send it.
    `send_after` in the future makes a scheduled row (a reminder); `html` replaces the mail's
    generated HTML part; `attachment` (a path under PDF_CACHE_DIR) is attached to the mail.
    `key_checked`: the caller already found the key free (add_messages, one query for many).
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}")
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    if address is None and recipient is not None:
        address = {"email": recipient.email, "sms": recipient.phone}.get(channel)
    if channel == "inapp":
        if recipient is None:
            return None
        address = None
    elif not address:
        return None
    if not key_checked and db.session.execute(
            sa.select(OutboxMessage.id).where(OutboxMessage.key == key)).first():
        return None
    msg = OutboxMessage(key=key, kind=kind, channel=channel,
                        recipient_id=recipient.id if recipient is not None else None,
                        address=str(address) if address is not None else None,
                        subject=subject[:200], body=body, html=html, case_id=case_id, attachment=attachment,
                        send_after=send_after or utcnow(),
                        status="unread" if channel == "inapp" else "pending")
    db.session.add(msg)
    return msg


def add_messages(specs: list[dict]) -> list[OutboxMessage]:
    """add_message for each dict of its arguments, the keys looked up in one query; the
    rows written, in order (a key taken already, or twice in `specs`, or nowhere to send: none)."""
    keys = [spec["key"] for spec in specs]
    taken = set()
    for start in range(0, len(keys), 500):
        taken.update(db.session.execute(sa.select(OutboxMessage.key).where(
            OutboxMessage.key.in_(keys[start:start + 500]))).scalars())
    out = []
    for spec in specs:
        if spec["key"] in taken:
            continue
        taken.add(spec["key"])
        msg = add_message(**spec, key_checked=True)
        if msg is not None:
            out.append(msg)
    return out


def notify_users(users, *, key_prefix: str, subject: str, body: str, case_id: int | None,
                 channels=("email",), kind: str = "step", send_after=None,
                 sms_body: str | None = None) -> list[OutboxMessage]:
    """One row per user and channel, keyed `{key_prefix}:{user id}:{channel}`.

    `sms_body` is the short text for the SMS channel (portal.notify.templates keeps those
    within one 70-character segment); without it the SMS carries `body`."""
    return add_messages([dict(key=f"{key_prefix}:{user.id}:{channel}", channel=channel, recipient=user,
                              subject=subject, body=sms_body if channel == "sms" and sms_body else body,
                              case_id=case_id, kind=kind, send_after=send_after)
                         for user in users for channel in channels])


def robots_for_unit(unit_id: int | None) -> list[UnitRobot]:
    """The active group robots configured for this unit (not its parents')."""
    if unit_id is None:
        return []
    return db.session.execute(
        sa.select(UnitRobot).where(UnitRobot.unit_id == unit_id, UnitRobot.active.is_(True))
        .order_by(UnitRobot.id)).scalars().all()


def notify_robots(robots: Iterable[UnitRobot], *, key_prefix: str, subject: str, body: str,
                  case_id: int | None, kind: str = "step", send_after=None) -> list[OutboxMessage]:
    """One row per robot, keyed `{key_prefix}:robot:{robot id}`."""
    out = []
    for robot in robots:
        msg = add_message(key=f"{key_prefix}:robot:{robot.id}", channel="robot", address=str(robot.id),
                          subject=subject, body=body, case_id=case_id, kind=kind,
                          send_after=send_after)
        if msg is not None:
            out.append(msg)
    return out


def cancel_pending(case_id: int, kinds=("reminder", "escalation"), now: datetime | None = None) -> int:
    """The case's messages of these kinds that have not gone out become 'cancelled' (in the
    caller's transaction): waiting or failed rows, and in-app rows whose time has not come.
    A row a worker holds ('sending') is past recall. Returns how many were cancelled."""
    now = now or utcnow()
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.case_id == case_id, OutboxMessage.kind.in_(tuple(kinds)),
               sa.or_(OutboxMessage.status.in_(("pending", "failed")),
                      sa.and_(OutboxMessage.status == "unread", OutboxMessage.send_after > now)))
        .values(status="cancelled"),
        execution_options={"synchronize_session": False})
    return result.rowcount


def retry_message(message_id: int, now: datetime | None = None) -> bool:
    """A failed or dead message is sent again now, with a fresh set of attempts (in the
    caller's transaction; hand_to_workers([message_id]) after commit). False if it was not
    failed or dead (sent meanwhile, cancelled, unknown)."""
    now = now or utcnow()
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status.in_(("failed", "dead")),
               OutboxMessage.channel.in_(SENT_CHANNELS))
        .values(status="pending", send_after=now, retries_from=OutboxMessage.attempts),
        execution_options={"synchronize_session": False})
    return result.rowcount == 1


def hand_to_workers(message_ids: list[int]) -> None:
    """After commit: ask a worker to deliver the due rows now, and the later ones at their send
    time (RQ's scheduler, `rq worker --with-scheduler`). If Redis is down or a job is lost, the
    minute sweep delivers them; delivery claims each row first, so nothing goes out twice.

    A row whose send_after was moved (a pause ended) is handed over again the same way: its
    job (id `deliver-<id>`) is rescheduled for the new time; one that fires early finds the
    row not yet due and does nothing."""
    if not message_ids or current_app.config.get("OUTBOX_DIRECT_DISABLED"):
        return
    from portal.queues import enqueue_many
    rows = db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.send_after, OutboxMessage.channel)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.channel.in_(SENT_CHANNELS))
        .order_by(OutboxMessage.id)).all()
    now = utcnow()
    due = [r.id for r in rows if as_utc(r.send_after) <= now and r.channel != "webhook"]
    if any(r.channel == "webhook" and as_utc(r.send_after) <= now for r in rows):
        from portal.webhooks.delivery import kick
        kick()  # webhooks: drained together by a couple of jobs (portal/webhooks/delivery.py)
    later = [r for r in rows if as_utc(r.send_after) > now]
    jobs = []
    for start in range(0, len(due), JOB_BATCH):
        chunk = due[start:start + JOB_BATCH]
        jobs.append({"func": "jobs.deliver.deliver_batch", "args": (chunk,), "at": None,
                     "job_id": f"deliver-{chunk[0]}-{len(chunk)}", "result_ttl": 0, "failure_ttl": 7 * 86400})
    for row in later:
        # RQ keeps scheduled times in whole seconds (truncated): the next whole second, so the
        # job never arrives before the row is due (it would find nothing to claim).
        at = (as_utc(row.send_after) + timedelta(seconds=1)).replace(microsecond=0)
        jobs.append({"func": "jobs.deliver.deliver", "args": (row.id,), "at": at, "job_id": f"deliver-{row.id}",
                     "result_ttl": 0, "failure_ttl": 7 * 86400})
    # One round trip to Redis; if it is not answering, the sweep delivers all of them.
    enqueue_many("notify", jobs)

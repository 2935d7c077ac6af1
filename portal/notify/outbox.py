"""Writing to the outbox (inside the caller's transaction) and handing new rows to workers."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from portal.clock import utcnow
from portal.extensions import db
from portal.notify.models import OutboxMessage


def add_message(*, key: str, channel: str, recipient, subject: str, body: str,
                case_id: int | None = None, send_after=None) -> OutboxMessage | None:
    """Queue one message unless one with this key exists (a retry never sends twice)."""
    address = {"email": recipient.email, "sms": recipient.phone, "inapp": None}[channel]
    if channel != "inapp" and not address:
        return None
    exists = db.session.execute(
        sa.select(OutboxMessage.id).where(OutboxMessage.key == key)).first()
    if exists:
        return None
    msg = OutboxMessage(key=key, channel=channel, recipient_id=recipient.id, address=address,
                        subject=subject, body=body, case_id=case_id,
                        send_after=send_after or utcnow(),
                        status="unread" if channel == "inapp" else "pending")
    db.session.add(msg)
    return msg


def notify_users(users, *, key_prefix: str, subject: str, body: str, case_id: int | None,
                 channels=("email",)) -> list[OutboxMessage]:  # "my work" is the in-app view
    out = []
    for user in users:
        for channel in channels:
            msg = add_message(key=f"{key_prefix}:{user.id}:{channel}", channel=channel,
                              recipient=user, subject=subject, body=body, case_id=case_id)
            if msg is not None:
                out.append(msg)
    return out


def hand_to_workers(message_ids: list[int]) -> None:
    """After commit: ask a worker to deliver now. If Redis is down the sweep delivers later."""
    if not message_ids or current_app.config.get("OUTBOX_DIRECT_DISABLED"):
        return
    from portal.queues import enqueue
    for mid in message_ids:
        if not enqueue("notify", "jobs.deliver.deliver", mid, job_id=f"deliver-{mid}",
                       result_ttl=0, failure_ttl=7 * 86400):
            break  # delivery is at-least-once through the sweep

"""Deliver outbox messages; enqueued by portal.notify.outbox.hand_to_workers after commit."""
from jobs.context import app
from portal.notify.delivery import deliver_message, deliver_messages


def deliver(message_id: int) -> str:
    # A job may run twice (retry, re-enqueue, the sweep at the same moment): deliver_message
    # claims the row first, so the message still goes out once.
    with app().app_context():
        return deliver_message(message_id)


def deliver_batch(message_ids: list[int]) -> int:
    """Several rows over one SMTP connection; returns how many were sent."""
    with app().app_context():
        return sum(1 for outcome in deliver_messages(message_ids).values() if outcome == "sent")


def drain_webhooks() -> int:
    """Every due webhook delivery, until none is left (portal/webhooks/delivery.drain)."""
    from portal.webhooks.delivery import drain
    with app().app_context():
        return drain()

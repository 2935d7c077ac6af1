"""Deliver one outbox message; enqueued by portal.notify.outbox.hand_to_workers after commit."""
from jobs.context import app
from portal.notify.delivery import deliver_message


def deliver(message_id: int) -> str:
    # A job may run twice (retry, re-enqueue, the sweep at the same moment): deliver_message
    # claims the row first, so the message still goes out once.
    with app().app_context():
        return deliver_message(message_id)

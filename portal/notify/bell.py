"""The bell: a user's in-app messages (outbox rows of channel 'inapp', 'unread' until opened).

Nothing is delivered for them: the row is the message. Reading one is the reader's own
business, not a change to a case, so it leaves no audit event."""
from __future__ import annotations

import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.notify.models import OutboxMessage

UNREAD, READ = "unread", "read"


def _mine(user, now=None):
    """The user's in-app messages whose time has come: a reminder written ahead for later is
    not in the bell before its send time, and one cancelled (the step was done) never is."""
    return sa.and_(OutboxMessage.recipient_id == user.id, OutboxMessage.channel == "inapp",
                   OutboxMessage.status.in_((UNREAD, READ)),
                   OutboxMessage.send_after <= (now or utcnow()))


def unread_count(user) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(OutboxMessage)
        .where(_mine(user), OutboxMessage.status == UNREAD)).scalar_one()


def messages(user, page: int, page_size: int) -> tuple[list[OutboxMessage], bool]:
    """One page of the user's in-app messages, newest first; and whether an older page exists."""
    rows = db.session.execute(
        sa.select(OutboxMessage).where(_mine(user))
        .order_by(OutboxMessage.send_after.desc(), OutboxMessage.id.desc())
        .offset((page - 1) * page_size).limit(page_size + 1)).scalars().all()
    return rows[:page_size], len(rows) > page_size


def message_of(user, message_id: int) -> OutboxMessage | None:
    """The user's own in-app message (None for anyone else's: no hint that it exists)."""
    return db.session.execute(
        sa.select(OutboxMessage).where(_mine(user), OutboxMessage.id == message_id)).scalar_one_or_none()


def open_message(user, message_id: int) -> OutboxMessage | None:
    """Opening a message marks it read (once: the first reading time stays; a message the case
    overtook has none) and commits."""
    msg = message_of(user, message_id)
    if msg is None:
        return None
    if msg.status == UNREAD:
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == msg.id, OutboxMessage.status == UNREAD)
            .values(status=READ, sent_at=utcnow()),  # sent_at of an in-app row: when it was read
            execution_options={"synchronize_session": False})
        db.session.commit()
        db.session.refresh(msg)
    return msg


def mark_all_read(user) -> int:
    """全部标为已读: returns how many were unread."""
    n = db.session.execute(
        sa.update(OutboxMessage).where(_mine(user), OutboxMessage.status == UNREAD)
        .values(status=READ, sent_at=utcnow()),
        execution_options={"synchronize_session": False}).rowcount
    db.session.commit()
    return n


# What a step asks of people; once the case has left that step they need not act on it.
# Escalations stay unread: a leader should see that a case was escalated even if it moved on.
OVERTAKEN_KINDS = ("step", "reminder", "hurry")


def overtaken(case_id: int, now=None) -> int:
    """The case left its step (in the caller's transaction): the bell stops counting the step's
    messages nobody opened — a colleague did the step, or the case went elsewhere. They stay in
    the list, read; the ones written ahead for later are the outbox's to cancel."""
    return db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.case_id == case_id, OutboxMessage.channel == "inapp",
               OutboxMessage.status == UNREAD, OutboxMessage.kind.in_(OVERTAKEN_KINDS),
               OutboxMessage.send_after <= (now or utcnow()))
        .values(status=READ),
        execution_options={"synchronize_session": False}).rowcount

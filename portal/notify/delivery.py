"""Delivering the outbox: claim a row, hand it to SMTP or the SMS provider, record the answer.

Delivery is at least once and never twice at the same time: a worker first claims the row
(status 'sending', committed) and only then talks to the provider, so a second worker or a
repeated job finds nothing to claim. A worker killed mid-send leaves the row 'sending'; once
that is STALE_AFTER old the sweep claims it again (the mail may then arrive twice, with the
same Message-ID, which is the price of never losing one).
"""
from __future__ import annotations

import hashlib
import logging
import smtplib
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from flask import current_app

from portal.clock import SHANGHAI, utcnow
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.notify.sms import get_provider

log = logging.getLogger(__name__)

# In-app rows ('unread' / 'read') are read in the portal; nothing is sent for them.
SENT_CHANNELS = ("email", "sms")
# Wait before attempt n+1 after attempt n failed; the attempt after the last wait is the last.
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
               timedelta(hours=2), timedelta(hours=6), timedelta(hours=12), timedelta(hours=24))
MAX_ATTEMPTS = len(RETRY_AFTER) + 1  # 8; a row that fails them all is 'dead'
# Far longer than a send can take (SMTP and SMS calls time out after 10 s): a row 'sending'
# for this long belongs to a worker that died.
STALE_AFTER = timedelta(minutes=10)
SMTP_TIMEOUT_SECONDS = 10
# After this many failures in a row on one channel, the sweep leaves that channel's other rows
# to the next run instead of waiting for the same timeout on each of them.
SWEEP_CHANNEL_FAILURES = 3


def deliver_message(message_id: int) -> str:
    """Send one outbox row if it is due and no one else holds it.

    Returns 'sent', 'failed' (retried later), 'dead' (given up) or 'skipped' (not due, already
    sent, in-app, or being sent by another worker). Commits its own transactions, so call it
    with nothing pending in the session.
    """
    now = utcnow()
    claim = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _claimable(now))
        .values(status="sending", attempts=OutboxMessage.attempts + 1, last_attempt_at=now)
        .returning(OutboxMessage.channel, OutboxMessage.address, OutboxMessage.subject,
                   OutboxMessage.body, OutboxMessage.key, OutboxMessage.attempts),
        execution_options={"synchronize_session": False},
    ).one_or_none()
    # Committed before the provider hears of it: from here on no other worker can claim it.
    db.session.commit()
    if claim is None:
        return "skipped"
    try:
        if claim.channel == "email":
            answer = send_email(claim.address, claim.subject, claim.body,
                                message_id=_mail_message_id(message_id, claim.key))
        else:
            answer = get_provider(current_app.config).send(claim.address, claim.body)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong is recorded and retried
        return _record_failure(message_id, claim.attempts, exc)
    _record(message_id, claim.attempts, status="sent", sent_at=utcnow(), provider_response=answer)
    log.info("outbox %s sent by %s: %s", message_id, claim.channel, answer)
    return "sent"


def deliver_due(limit: int = 200) -> int:
    """The sweep: deliver every row that is due, and every row a dead worker left 'sending'.
    Returns how many were sent."""
    now = utcnow()
    _give_up_lost_last_attempts(now)
    due = db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.channel)
        .where(_claimable(now))
        .order_by(OutboxMessage.send_after, OutboxMessage.id)
        .limit(limit)).all()
    db.session.commit()
    sent = 0
    failures = Counter()  # consecutive, per channel
    for message_id, channel in due:
        if failures[channel] >= SWEEP_CHANNEL_FAILURES:
            continue
        outcome = deliver_message(message_id)
        if outcome == "sent":
            sent += 1
            failures[channel] = 0
        elif outcome in ("failed", "dead"):
            failures[channel] += 1
    if due:
        log.info("sweep: %d of %d due outbox messages sent", sent, len(due))
    return sent


def send_email(to: str, subject: str, body: str, *, message_id: str) -> str:
    """Send one plain-text UTF-8 mail; returns the server's reply to DATA (its queue id)."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        # The demo and development setups have no mail server: the outbox row is the record.
        return "outbox-only: MAIL_SERVER not configured"
    msg = EmailMessage()
    msg["From"] = config["MAIL_SENDER"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow().astimezone(SHANGHAI))
    msg["Message-ID"] = message_id
    msg.set_content(body)
    smtp = _RecordingSMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=SMTP_TIMEOUT_SECONDS)
    try:
        smtp.send_message(msg)
        return smtp.data_reply
    finally:
        # Once DATA is accepted the mail is out: trouble saying QUIT must not count as a
        # failure, or the retry would send it again.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


class _RecordingSMTP(smtplib.SMTP):
    """smtplib drops the server's answer to DATA ("250 2.0.0 Ok: queued as …"); keep it."""

    data_reply = ""

    def data(self, msg):
        code, reply = super().data(msg)
        self.data_reply = f"{code} {reply.decode('utf-8', 'replace')}"
        return code, reply


def _claimable(now):
    """Rows a worker may take now: due and waiting, or left 'sending' by a worker that died."""
    return sa.and_(
        OutboxMessage.channel.in_(SENT_CHANNELS),
        OutboxMessage.attempts < MAX_ATTEMPTS,
        sa.or_(
            sa.and_(OutboxMessage.status.in_(("pending", "failed")), OutboxMessage.send_after <= now),
            sa.and_(OutboxMessage.status == "sending", OutboxMessage.last_attempt_at < now - STALE_AFTER),
        ),
    )


def _record(message_id: int, attempt: int, **values) -> None:
    # Only the attempt holding the claim writes the outcome; a stale one taken over by the
    # sweep no longer does.
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "sending",
               OutboxMessage.attempts == attempt)
        .values(**values),
        execution_options={"synchronize_session": False})
    db.session.commit()


def _record_failure(message_id: int, attempt: int, exc: Exception) -> str:
    error = f"{type(exc).__name__}: {exc}"[:1000]
    if attempt >= MAX_ATTEMPTS:
        _record(message_id, attempt, status="dead", provider_response=error)
        log.error("outbox %s dead after %d attempts: %s", message_id, attempt, error)
        return "dead"
    _record(message_id, attempt, status="failed", provider_response=error,
            send_after=utcnow() + RETRY_AFTER[attempt - 1])
    log.warning("outbox %s attempt %d failed: %s", message_id, attempt, error)
    return "failed"


def _give_up_lost_last_attempts(now) -> None:
    """A worker died during the last allowed attempt: no one will claim the row again, so
    say so instead of leaving it 'sending' for ever."""
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.attempts >= MAX_ATTEMPTS,
               OutboxMessage.last_attempt_at < now - STALE_AFTER)
        .values(status="dead", provider_response="worker lost during the last attempt"),
        execution_options={"synchronize_session": False})
    db.session.commit()


def _mail_message_id(message_id: int, key: str) -> str:
    # The same for every attempt, so a mail sent twice after a crash is recognisably one
    # message; the key's hash keeps ids apart between installations sharing a sender domain.
    domain = parseaddr(current_app.config["MAIL_SENDER"])[1].rpartition("@")[2] or "localhost"
    return f"<outbox-{message_id}.{hashlib.sha256(key.encode()).hexdigest()[:12]}@{domain}>"

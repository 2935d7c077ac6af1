"""Delivering the outbox: claim rows, hand them to SMTP, the SMS provider or a group robot,
record each answer.

Delivery is at least once and never twice at the same time: a worker first claims the rows
(status 'sending', committed) and only then talks to the provider, so a second worker or a
repeated job finds nothing to claim. Each outcome is committed as soon as the provider has
answered, with an OutboxAttempt row, so a worker killed mid-batch leaves only the message it
was sending in doubt. That row stays 'sending'; once STALE_AFTER old the sweep records the
attempt as lost and sends it again (the mail may then arrive twice, with the same Message-ID,
which is the price of never losing one).

A batch shares one SMTP connection: connecting is most of the cost of a small mail.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import logging
import mimetypes
import smtplib
import time
import uuid
from collections import Counter
from datetime import timedelta
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from portal.i18n import force_locale

from portal.clock import SHANGHAI, utcnow
from portal.extensions import db
from portal.notify.models import OutboxAttempt, OutboxMessage, UnitRobot
from portal.notify.outbox import SENT_CHANNELS
from portal.notify.robots import robot_text, send_robot
from portal.notify.sms import get_provider
from portal.webhooks import delivery as webhooks

log = logging.getLogger(__name__)

# Wait before attempt n+1 after attempt n failed; the attempt after the last wait is the last.
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
               timedelta(hours=2), timedelta(hours=6), timedelta(hours=12), timedelta(hours=24))
MAX_ATTEMPTS = len(RETRY_AFTER) + 1  # 8 (since the last manual retry); then the row is 'dead'
# Far longer than a send can take (SMTP, SMS and robot calls time out after 10 s): a row
# 'sending' for this long belongs to a worker that died.
STALE_AFTER = timedelta(minutes=10)
SMTP_TIMEOUT_SECONDS = 10
# After this many failures in a row on one channel, a batch leaves that channel's other rows
# to the next run instead of waiting for the same timeout on each of them.
SWEEP_CHANNEL_FAILURES = 3
# Rows claimed at once: all wait while the first ones are sent, so not too many.
CLAIM_CHUNK = 50
# The sweep takes this many due rows at a time, and goes on for at most this long per run
# (it runs every minute; a run still going when the next is due makes that one wait).
SWEEP_BATCH = 500
SWEEP_BUDGET_SECONDS = 45

_case = sa.table("case", sa.column("id", sa.Integer), sa.column("number", sa.String))
_claimed_columns = (OutboxMessage.id, OutboxMessage.channel, OutboxMessage.address,
                    OutboxMessage.subject, OutboxMessage.body, OutboxMessage.html,
                    OutboxMessage.key, OutboxMessage.case_id, OutboxMessage.attempts,
                    OutboxMessage.retries_from, OutboxMessage.attachment)


def deliver_message(message_id: int) -> str:
    """Send one outbox row if it is due and no one else holds it.

    Returns 'sent', 'failed' (retried later), 'dead' (given up) or 'skipped' (not due, already
    sent, cancelled, in-app, or being sent by another worker). Commits its own transactions,
    so call it with nothing pending in the session.
    """
    return deliver_messages([message_id]).get(message_id, "skipped")


def deliver_messages(message_ids: list[int], senders: "_Senders | None" = None) -> dict[int, str]:
    """Send these rows (those due and free), sharing one connection per channel; returns each
    claimed id's outcome. Same contract as deliver_message."""
    outcomes: dict[int, str] = {}
    recorder = _Recorder()
    try:
        with force_locale("zh_CN"), (senders or _Senders()) as senders:
            for start in range(0, len(message_ids), CLAIM_CHUNK):
                chunk = message_ids[start:start + CLAIM_CHUNK]
                outcomes.update(_deliver_claimed(_claim(OutboxMessage.id.in_(chunk)), senders, recorder))
    finally:
        recorder.close()
    return outcomes


def deliver_due(limit: int = SWEEP_BATCH) -> int:
    """The sweep: deliver every row that is due (up to `limit`), after taking back those a
    dead worker left 'sending'. Returns how many were sent."""
    return _sweep_once(limit, _Senders())[1]


def deliver_backlog(budget_seconds: float = SWEEP_BUDGET_SECONDS, limit: int = SWEEP_BATCH) -> int:
    """The minute sweep: batch after batch while rows are due, within the time budget (a
    backlog after Redis or a worker was down goes out in this run, not 500 a minute), and
    stopping early once a channel is down. Returns how many were sent."""
    deadline = time.monotonic() + budget_seconds
    sent = 0
    while True:
        senders = _Senders()
        due, batch_sent = _sweep_once(limit, senders)
        sent += batch_sent
        if due < limit or senders.down or batch_sent == 0 or time.monotonic() > deadline:
            return sent


def _sweep_once(limit: int, senders: "_Senders") -> tuple[int, int]:
    now = utcnow()
    _recover_lost(now)
    due = db.session.execute(
        sa.select(OutboxMessage.id).where(_claimable(now))
        .order_by(OutboxMessage.send_after, OutboxMessage.id).limit(limit)).scalars().all()
    db.session.commit()
    outcomes = deliver_messages(due, senders)
    sent = sum(1 for o in outcomes.values() if o == "sent")
    if due:
        log.info("sweep: %d of %d due outbox messages sent", sent, len(due))
    return len(due), sent


# -- Claiming and recording ----------------------------------------------------------------------

def _claimable(now):
    """Rows a worker may take now: due and waiting (or waiting for a retry), attempts left."""
    return sa.and_(
        OutboxMessage.channel.in_(SENT_CHANNELS),
        OutboxMessage.status.in_(("pending", "failed")),
        OutboxMessage.send_after <= now,
        OutboxMessage.attempts - OutboxMessage.retries_from < MAX_ATTEMPTS,
    )


def _claim(which) -> list:
    now = utcnow()
    claimed = db.session.execute(
        sa.update(OutboxMessage)
        .where(which, _claimable(now))
        .values(status="sending", attempts=OutboxMessage.attempts + 1, last_attempt_at=now)
        .returning(*_claimed_columns),
        execution_options={"synchronize_session": False},
    ).all()
    # Committed before any provider hears of them: from here on no other worker can claim them.
    db.session.commit()
    return sorted(claimed, key=lambda row: row.id)


def _deliver_claimed(claimed: list, senders: "_Senders", recorder: "_Recorder") -> dict[int, str]:
    outcomes = {}
    failures = senders.failures
    numbers = _case_numbers({row.case_id for row in claimed if row.case_id})
    db.session.commit()  # no transaction left open while the providers are talked to
    for row in claimed:
        lane = _lane(row)
        if failures[lane] >= SWEEP_CHANNEL_FAILURES:
            _release(row)  # not tried: the channel is down, the next run tries again
            continue
        try:
            answer = senders.send(row, numbers.get(row.case_id))
        except Exception as exc:  # noqa: BLE001 - whatever went wrong is recorded and retried
            outcomes[row.id] = _record_failure(recorder, row, exc)
            failures[lane] += 1
            continue
        recorder.record(row, "sent", answer, sent_at=utcnow())
        failures[lane] = 0
        outcomes[row.id] = "sent"
        log.info("outbox %s sent by %s: %s", row.id, row.channel, answer)
    return outcomes


class _Recorder:
    """Writes outcomes the moment the provider has answered, each in its own committed
    statement, on a connection of its own (held for the batch).

    On PostgreSQL the row's update and its attempt are one statement (a data-modifying WITH)
    in autocommit, with synchronous_commit off for this connection: the commit is visible to
    every other worker at once, so a worker killed right after is no risk; only a crash of the
    database server itself could forget the last fraction of a second of outcomes (those
    messages would then be sent again, with the same Message-ID). SQLite: two statements in a
    transaction."""

    def __init__(self):
        self.conn = None
        self.postgres = db.engine.dialect.name == "postgresql"

    def _connection(self):
        if self.conn is None:
            self.conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.postgres:
                self.conn.exec_driver_sql("SET synchronous_commit TO off")
        return self.conn

    def close(self):
        if self.conn is not None:
            conn, self.conn = self.conn, None
            try:
                if self.postgres:
                    conn.exec_driver_sql("RESET synchronous_commit")
            finally:
                conn.close()

    def record(self, row, outcome: str, response: str, *, sent_at=None, send_after=None) -> bool:
        """Only the attempt holding the claim writes the outcome; a stale one taken over by
        the sweep no longer does."""
        params = {"id": row.id, "attempt": row.attempts, "at": utcnow(), "outcome": outcome,
                  "response": response, "sent_at": sent_at, "send_after": send_after}
        conn = self._connection()
        if self.postgres:
            return conn.execute(_RECORD_PG, params).rowcount == 1
        with conn.begin():
            if conn.execute(_RECORD_UPDATE, params).rowcount != 1:
                return False
            conn.execute(_RECORD_ATTEMPT, params)
        return True


# Written once: built per message, the statements cost more CPU than the database did.
_RECORD_UPDATE_SQL = """UPDATE outbox_message
   SET status = :outcome, provider_response = :response,
       sent_at = COALESCE(:sent_at, sent_at), send_after = COALESCE(:send_after, send_after)
 WHERE id = :id AND status = 'sending' AND attempts = :attempt"""
_RECORD_UPDATE = sa.text(_RECORD_UPDATE_SQL).bindparams(
    sa.bindparam("sent_at", type_=sa.DateTime(timezone=True)),
    sa.bindparam("send_after", type_=sa.DateTime(timezone=True)))
_RECORD_ATTEMPT = sa.text(
    "INSERT INTO outbox_attempt (message_id, attempt, at, outcome, response) "
    "VALUES (:id, :attempt, :at, :outcome, :response)").bindparams(
    sa.bindparam("at", type_=sa.DateTime(timezone=True)))
_RECORD_PG = sa.text(
    f"WITH done AS ({_RECORD_UPDATE_SQL} RETURNING id) "
    "INSERT INTO outbox_attempt (message_id, attempt, at, outcome, response) "
    "SELECT id, :attempt, :at, :outcome, :response FROM done").bindparams(
    sa.bindparam("sent_at", type_=sa.DateTime(timezone=True)),
    sa.bindparam("send_after", type_=sa.DateTime(timezone=True)),
    sa.bindparam("at", type_=sa.DateTime(timezone=True)))


def _record_failure(recorder: "_Recorder", row, exc: Exception) -> str:
    error = f"{type(exc).__name__}: {exc}"[:1000]
    tries = row.attempts - row.retries_from
    if tries >= MAX_ATTEMPTS:
        recorder.record(row, "dead", error)
        log.error("outbox %s dead after %d attempts: %s", row.id, tries, error)
        return "dead"
    retry_at = utcnow() + (webhooks.retry_after(tries) if row.channel == "webhook" else RETRY_AFTER[tries - 1])
    recorder.record(row, "failed", error, send_after=retry_at)
    if row.channel == "webhook":  # in seconds, not at the minute sweep's next run (issue 14)
        webhooks.schedule_retry(row.id, retry_at)
    log.warning("outbox %s attempt %d failed: %s", row.id, tries, error)
    return "failed"


def _lane(row) -> str:
    """What fails together: a channel, or one webhook receiver (another may be up)."""
    return f"webhook:{row.address}" if row.channel == "webhook" else row.channel


def _release(row) -> None:
    """Give back a claimed row that was not tried, as if it had not been claimed."""
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == row.id, OutboxMessage.status == "sending",
               OutboxMessage.attempts == row.attempts)
        .values(status="pending" if row.attempts - 1 == row.retries_from else "failed",
                attempts=row.attempts - 1),
        execution_options={"synchronize_session": False})
    db.session.commit()


def _recover_lost(now) -> None:
    """Rows a worker left 'sending' STALE_AFTER ago: it died. Record the attempt as lost; the
    row is tried again (now), or is dead if that was its last attempt."""
    lost = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.last_attempt_at < now - STALE_AFTER)
        .values(status=sa.case((OutboxMessage.attempts - OutboxMessage.retries_from >= MAX_ATTEMPTS, "dead"),
                               else_="failed"),
                provider_response="worker lost during the attempt")
        .returning(OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.status),
        execution_options={"synchronize_session": False}).all()
    for row in lost:
        db.session.execute(sa.insert(OutboxAttempt).values(
            message_id=row.id, attempt=row.attempts, at=now, outcome="lost",
            response="worker lost during the attempt"))
        if row.status == "dead":
            log.error("outbox %s dead: worker lost during the last attempt", row.id)
    db.session.commit()


def _case_numbers(case_ids: set[int]) -> dict[int, str]:
    if not case_ids:
        return {}
    return dict(db.session.execute(
        sa.select(_case.c.id, _case.c.number).where(_case.c.id.in_(case_ids))).all())


def warm() -> None:
    """Compile the mail templates and load the Chinese catalogue in the worker's parent, so
    each forked work-horse starts with them (no database: connections must not cross a fork)."""
    with force_locale("zh_CN"):
        build_email("warm@localhost", "预热", "预热", message_id="<warm@localhost>", link="http://localhost/")


def case_link(number: str | None) -> str | None:
    """The absolute address of a case's page, for mail and robots (PORTAL_BASE_URL)."""
    base = (current_app.config.get("PORTAL_BASE_URL") or "").rstrip("/")
    return f"{base}/cases/{number}" if base and number else None


# -- Channels ------------------------------------------------------------------------------------

class _Senders:
    """The open connections of one batch: one SMTP session, the SMS provider, robot settings."""

    def __init__(self):
        self._smtp = None
        self._sms = None
        self._robots: dict[int, UnitRobot | None] = {}
        self._webhooks = None
        self.failures = Counter()  # consecutive, per channel (per receiver for webhooks)

    @property
    def down(self) -> set[str]:
        """Channels this batch gave up on after SWEEP_CHANNEL_FAILURES failures in a row."""
        return {channel for channel, n in self.failures.items() if n >= SWEEP_CHANNEL_FAILURES}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._close_smtp()
        if self._webhooks is not None:
            self._webhooks.close()

    def send(self, row, case_number: str | None) -> str:
        link = case_link(case_number)
        if row.channel == "email":
            return self._send_email(row, link)
        if row.channel == "sms":
            if self._sms is None:
                self._sms = get_provider(current_app.config)
            return self._sms.send(row.address, row.body)
        if row.channel == "robot":
            robot = self._robot(int(row.address))
            if robot is None or not robot.active:
                raise LookupError(f"robot {row.address} is not configured or not active")
            return send_robot(robot.vendor, robot.url, robot.secret,
                              robot_text(row.subject, row.body, link))
        if row.channel == "webhook":
            if self._webhooks is None:
                self._webhooks = webhooks.WebhookSender()
            return self._webhooks.send(row)
        raise LookupError(f"channel {row.channel} is not sent")

    def _robot(self, robot_id: int) -> UnitRobot | None:
        if robot_id not in self._robots:
            self._robots[robot_id] = db.session.get(UnitRobot, robot_id)
            db.session.commit()
        return self._robots[robot_id]

    def _send_email(self, row, link: str | None) -> str:
        config = current_app.config
        if not config.get("MAIL_SERVER"):
            # The demo and development setups have no mail server: the outbox row is the record.
            return "outbox-only: MAIL_SERVER not configured"
        raw = build_email(row.address, row.subject, row.body, html=row.html, link=link,
                          message_id=_mail_message_id(row.id, row.key),
                          attachment=Path(config["PDF_CACHE_DIR"]) / row.attachment if row.attachment else None)
        if self._smtp is None:
            self._smtp = _RecordingSMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]),
                                        timeout=SMTP_TIMEOUT_SECONDS)
        try:
            self._smtp.sendmail(parseaddr(config["MAIL_SENDER"])[1], [row.address], raw)
        except Exception:
            # The session's state is unknown now: the next mail opens a fresh one.
            self._close_smtp()
            raise
        return self._smtp.data_reply

    def _close_smtp(self):
        if self._smtp is None:
            return
        smtp, self._smtp = self._smtp, None
        # Once DATA is accepted the mail is out: trouble saying QUIT must not count as a
        # failure, or the retry would send it again.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def build_email(to: str, subject: str, body: str, *, message_id: str, html: str | None = None,
                link: str | None = None, attachment: Path | None = None) -> bytes:
    """A Chinese mail with a plain-text part and an HTML part, both with the case's link, as
    the bytes SMTP sends, and the `attachment` file if any (a missing file raises: the
    delivery is retried). Built by hand: the email package's header policy cost more than
    the rest of the delivery of a small mail."""
    config = current_app.config
    env = current_app.jinja_env
    context = {"subject": subject, "body": body, "link": link,
               "company_name": config.get("COMPANY_NAME", "")}
    # Straight from the Jinja environment: the page context processors (user, bell) do not
    # belong in a mail and cost queries. In Chinese: deliver_messages forces the locale once
    # for the batch (per mail it cost more than the rendering).
    text = env.get_template("notify/mail.txt").render(context)
    html = html or env.get_template("notify/mail.html").render(context)
    boundary = f"=_outbox_{uuid.uuid4().hex}"
    head = [
        f"From: {_sender_header(config['MAIL_SENDER'])}",
        f"To: {to}",
        f"Subject: {Header(subject, 'utf-8').encode(linesep=CRLF)}",
        f"Date: {format_datetime(utcnow().astimezone(SHANGHAI))}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    if attachment is not None:
        mixed = f"=_outbox_mixed_{uuid.uuid4().hex}"
        head += [f'Content-Type: multipart/mixed; boundary="{mixed}"', "", f"--{mixed}"]
    head += [
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=\"utf-8\"",
        "Content-Transfer-Encoding: base64",
        "",
        _base64_lines(text),
        f"--{boundary}",
        "Content-Type: text/html; charset=\"utf-8\"",
        "Content-Transfer-Encoding: base64",
        "",
        _base64_lines(html),
        f"--{boundary}--",
        "",
    ]
    if attachment is not None:
        encoded = base64.b64encode(attachment.read_bytes()).decode("ascii")
        kind = mimetypes.guess_type(attachment.name)[0] or "application/octet-stream"
        head += [
            f"--{mixed}",
            f'Content-Type: {kind}; name="{attachment.name}"',
            "Content-Transfer-Encoding: base64",
            f'Content-Disposition: attachment; filename="{attachment.name}"',
            "",
            CRLF.join(encoded[i:i + 76] for i in range(0, len(encoded), 76)),
            f"--{mixed}--",
            "",
        ]
    return "\r\n".join(head).encode("ascii")


CRLF = "\r\n"  # SMTP's line ending, inside the encoded parts as well (canonical text)


def _base64_lines(text: str) -> str:
    text = CRLF.join(text.splitlines())
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return "\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))


@functools.lru_cache(maxsize=8)
def _sender_header(sender: str) -> str:
    name, address = parseaddr(sender)
    return formataddr((name, address), charset="utf-8") if name else address


class _RecordingSMTP(smtplib.SMTP):
    """smtplib drops the server's answer to DATA ("250 2.0.0 Ok: queued as …"); keep it."""

    data_reply = ""

    def data(self, msg):
        code, reply = super().data(msg)
        self.data_reply = f"{code} {reply.decode('utf-8', 'replace')}"
        return code, reply


def _mail_message_id(message_id: int, key: str) -> str:
    # The same for every attempt, so a mail sent twice after a crash is recognisably one
    # message; the key's hash keeps ids apart between installations sharing a sender domain.
    domain = parseaddr(current_app.config["MAIL_SENDER"])[1].rpartition("@")[2] or "localhost"
    return f"<outbox-{message_id}.{hashlib.sha256(key.encode()).hexdigest()[:12]}@{domain}>"

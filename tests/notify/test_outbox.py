"""The outbox as the rest of the portal uses it: messages to a customer's phone only, mail
with HTML and a link to the case, reminders cancelled when the step is left, a dead message
retried by an admin, every attempt kept with the provider's answer."""
import json
import uuid
from datetime import timedelta

import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.notify.delivery import MAX_ATTEMPTS, RETRY_AFTER, deliver_due, deliver_message
from portal.notify.models import OutboxAttempt, OutboxMessage
from portal.notify.outbox import add_message, cancel_pending, notify_users, retry_message
from portal.notify.templates import sms_text
from tests.conftest import make_case, user


def row(message_id: int) -> OutboxMessage:
    return db.session.get(OutboxMessage, message_id, populate_existing=True)


def attempts(message_id: int) -> list[tuple]:
    return [tuple(a) for a in db.session.execute(
        sa.select(OutboxAttempt.attempt, OutboxAttempt.outcome).where(OutboxAttempt.message_id == message_id)
        .order_by(OutboxAttempt.attempt, OutboxAttempt.id)).all()]


def test_customer_sms_goes_to_the_phone_alone_through_the_gateway(app, http_sink, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "http")
    monkeypatch.setitem(app.config, "SMS_HTTP_URL", http_sink.url)
    case = make_case()
    text = sms_text("customer_ack", number=case.number, reply_by="03-02 17:00",
                    link="http://127.0.0.1:5000/p/" + "x" * 22)
    msg = add_message(key=f"case:{case.id}:customer:ack", channel="sms", address="13912345678",
                      subject="受理通知", body=text, case_id=case.id, kind="customer")
    db.session.commit()

    assert deliver_message(msg.id) == "sent"

    [(_, _, body)] = http_sink.requests
    assert json.loads(body) == {"phone": "13912345678", "text": text}
    sent = row(msg.id)
    assert (sent.recipient_id, sent.kind, sent.status) == (None, "customer", "sent")
    assert attempts(msg.id) == [(1, "sent")]


def test_a_message_with_nowhere_to_go_is_not_written(app):
    assert add_message(key="k:1", channel="sms", subject="s", body="b") is None
    assert add_message(key="k:2", channel="inapp", address="x", subject="s", body="b") is None


def test_mail_has_a_text_and_an_html_part_both_linking_to_the_case(app, smtp_sink, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_BASE_URL", "https://kesu.example.com/")
    case = make_case()
    [msg] = notify_users([user("leader_qa")], key_prefix=f"case:{case.id}:test", case_id=case.id,
                         subject=f"【客诉】{case.number} 待您审批",
                         body=f"投诉 {case.number}（原味酸奶）等待您审批。\n办理时限：2026-03-02 09:41。")
    db.session.commit()

    assert deliver_message(msg.id) == "sent"

    [mail] = smtp_sink.mails_for(msg.id)
    link = f"https://kesu.example.com/cases/{case.number}"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # canonical CRLF inside
    html = mail.get_body(("html",)).get_content()
    assert f"等待您审批。\n办理时限：2026-03-02 09:41。" in text and f"查看投诉：{link}" in text
    assert f'<a href="{link}"' in html and "查看投诉" in html
    assert "<p style=\"margin:0 0 8px;\">办理时限：2026-03-02 09:41。</p>" in html


def test_leaving_the_step_cancels_its_reminders_and_escalations_not_yet_sent(app, smtp_sink):
    case = make_case()
    leader = user("leader_qa")
    now = clock.utcnow()

    def message(kind, minutes, channel="email"):
        return add_message(key=f"t:{uuid.uuid4().hex}", channel=channel, recipient=leader,
                           subject=f"{kind} {minutes}", body="…", case_id=case.id, kind=kind,
                           send_after=now + timedelta(minutes=minutes))

    step, reminder_50, reminder_80, escalation, in_app = (
        message("step", 0), message("reminder", 0), message("reminder", 30),
        message("escalation", 60, "sms"), message("reminder", 30, "inapp"))
    db.session.commit()
    deliver_due()  # the step notice and the first reminder are out
    assert (row(step.id).status, row(reminder_50.id).status) == ("sent", "sent")

    # (the case's own step reminders, if any, are cancelled too)
    assert cancel_pending(case.id) >= 3
    db.session.commit()
    clock.travel(timedelta(hours=2))
    deliver_due()

    assert [row(m.id).status for m in (step, reminder_50, reminder_80, escalation, in_app)] == [
        "sent", "sent", "cancelled", "cancelled", "cancelled"]
    subjects = [m["Subject"] for m in smtp_sink.messages]
    assert subjects.count("step 0") == subjects.count("reminder 0") == 1
    assert "reminder 30" not in subjects


def test_admin_retry_sends_a_dead_message_with_a_fresh_set_of_attempts(app, smtp_sink):
    smtp_sink.stop()
    msg = add_message(key="t:retry", channel="email", recipient=user("leader_qa"),
                      subject="审批提醒", body="请审批")
    db.session.commit()
    for _ in range(MAX_ATTEMPTS):
        deliver_message(msg.id)
        clock.travel(RETRY_AFTER[-1])
    assert row(msg.id).status == "dead"
    assert retry_message(msg.id + 1000) is False

    assert retry_message(msg.id) is True
    db.session.commit()
    assert deliver_message(msg.id) == "failed"  # still down: back to the first back-off, not dead
    assert abs(clock.as_utc(row(msg.id).send_after) - clock.utcnow() - RETRY_AFTER[0]) < timedelta(seconds=5)

    smtp_sink.start()
    clock.travel(RETRY_AFTER[0] + timedelta(seconds=1))
    assert deliver_due() >= 1

    assert row(msg.id).status == "sent"
    assert len(smtp_sink.mails_for(msg.id)) == 1
    log = attempts(msg.id)
    assert [a[1] for a in log] == ["failed"] * (MAX_ATTEMPTS - 1) + ["dead", "failed", "sent"]
    assert [a[0] for a in log] == list(range(1, MAX_ATTEMPTS + 3))
    assert retry_message(msg.id) is False  # a sent message is not sent again


def test_the_minute_sweep_clears_a_backlog_in_one_run_and_stops_when_mail_is_down(app, smtp_sink):
    from portal.notify.delivery import SWEEP_CHANNEL_FAILURES, deliver_backlog
    leader = user("leader_qa")
    msgs = [add_message(key=f"t:backlog:{i}", channel="email", recipient=leader, subject=f"积压 {i}",
                        body="Redis 恢复后补发") for i in range(3)]
    db.session.commit()
    ids = [m.id for m in msgs]
    smtp_sink.stop()

    assert deliver_backlog(limit=2) == 0  # the mail server is down: one batch, no spinning
    assert sorted(row(i).attempts for i in ids) == [0, 1, 1]

    smtp_sink.start()
    msgs = [add_message(key=f"t:backlog:more:{i}", channel="email", recipient=leader, subject=f"积压 {i}",
                        body="Redis 恢复后补发") for i in range(7)]
    db.session.commit()
    more = [m.id for m in msgs]
    clock.travel(RETRY_AFTER[0] + timedelta(seconds=1))
    assert deliver_backlog(limit=2) >= 10  # five batches of two in one run

    assert {row(i).status for i in ids + more} == {"sent"}
    assert all(len(smtp_sink.mails_for(i)) == 1 for i in ids + more)
    assert SWEEP_CHANNEL_FAILURES == 3

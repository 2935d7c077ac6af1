"""The outbox: every message is written here in the transaction that caused it; each attempt to
send one is kept beside it; group robots are configured per unit."""
import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.extensions import db
from portal.models_base import created_column, utc_column

# What a message is about; reminders and escalations are cancelled when the step is left.
KINDS = ("step", "reminder", "escalation", "hurry", "customer", "cluster",  # cluster: portal/clusters
         "summary",  # summary: portal/reports/summary
         "webhook")  # webhook: portal/webhooks (an event for an integration's endpoint)
# Where it goes: a user's mail or phone, an address only (a customer's phone), a unit's group
# robot (address = UnitRobot.id), the portal's own bell (never sent), or an integration's
# webhook endpoint (address = WebhookEndpoint.id, body = the signed JSON; portal/webhooks).
CHANNELS = ("email", "sms", "robot", "inapp", "webhook")
ROBOT_VENDORS = ("wecom", "dingtalk", "feishu")  # 企业微信, 钉钉, 飞书


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    id = sa.Column(sa.Integer, primary_key=True)
    # (case, rule, level, recipient, channel): a retried transaction or job cannot send twice.
    key = sa.Column(sa.String(200), unique=True, nullable=False)
    kind = sa.Column(sa.String(16), nullable=False, default="step", server_default="step")
    channel = sa.Column(sa.String(10), nullable=False)  # email | sms | robot | inapp
    # None for a message to an address only (the customer's phone) or to a robot.
    recipient_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), index=True)
    address = sa.Column(sa.String(128))
    subject = sa.Column(sa.String(200), nullable=False)
    body = sa.Column(sa.Text, nullable=False)  # plain text: the SMS, the robot text, the mail's text part
    html = sa.Column(sa.Text)  # the mail's HTML part, if any
    # A file the mail carries (a summary PDF), relative to PDF_CACHE_DIR: read when sent.
    attachment = sa.Column(sa.String(300))
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), index=True)
    created_at = created_column()
    send_after = sa.Column(sa.DateTime(timezone=True), nullable=False)
    # pending|sending|sent|failed|dead|cancelled (sent channels); unread|read (in-app)
    status = sa.Column(sa.String(10), nullable=False, default="pending")
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    # `attempts` when an admin last retried it by hand: the back-off counts from there.
    retries_from = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    last_attempt_at = sa.Column(sa.DateTime(timezone=True))
    provider_response = sa.Column(sa.Text)
    sent_at = sa.Column(sa.DateTime(timezone=True))

    recipient = relationship("User")
    attempt_log = relationship("OutboxAttempt", order_by="OutboxAttempt.attempt",
                               back_populates="message", lazy="selectin", viewonly=True)
    __table_args__ = (sa.Index("ix_outbox_status_send_after", "status", "send_after"),)


class OutboxAttempt(db.Model):
    """One try at sending a message and what the provider answered (shown on the outbox page)."""
    __tablename__ = "outbox_attempt"
    id = sa.Column(sa.Integer, primary_key=True)
    message_id = sa.Column(sa.Integer, sa.ForeignKey("outbox_message.id", ondelete="CASCADE"),
                           nullable=False, index=True)
    attempt = sa.Column(sa.Integer, nullable=False)  # 1, 2, … as OutboxMessage.attempts counts
    at = utc_column(nullable=False)
    outcome = sa.Column(sa.String(10), nullable=False)  # sent | failed | dead | lost
    response = sa.Column(sa.Text)

    message = relationship("OutboxMessage", back_populates="attempt_log")


class UnitRobot(db.Model):
    """A group chat robot (企业微信 / 钉钉 / 飞书 webhook) that hears a unit's messages."""
    __tablename__ = "unit_robot"
    id = sa.Column(sa.Integer, primary_key=True)
    unit_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"), nullable=False, index=True)
    vendor = sa.Column(sa.String(16), nullable=False)  # wecom | dingtalk | feishu
    name = sa.Column(sa.String(100), nullable=False)
    url = sa.Column(sa.String(500), nullable=False)
    secret = sa.Column(sa.String(200))  # 钉钉 / 飞书 signing secret ("加签"); 企业微信 has its key in the URL
    active = sa.Column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    created_at = created_column()

    unit = relationship("OrgUnit")

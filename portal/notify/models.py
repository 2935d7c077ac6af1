"""The outbox: every message is written here in the transaction that caused it."""
import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.extensions import db
from portal.models_base import created_column


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    id = sa.Column(sa.Integer, primary_key=True)
    # (case, rule, level, recipient, channel): a retried transaction or job cannot send twice.
    key = sa.Column(sa.String(200), unique=True, nullable=False)
    channel = sa.Column(sa.String(10), nullable=False)  # email | sms | inapp
    recipient_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), index=True)
    address = sa.Column(sa.String(128))
    subject = sa.Column(sa.String(200), nullable=False)
    body = sa.Column(sa.Text, nullable=False)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), index=True)
    created_at = created_column()
    send_after = sa.Column(sa.DateTime(timezone=True), nullable=False)
    status = sa.Column(sa.String(10), nullable=False, default="pending")  # pending|sending|sent|failed|dead|unread|read
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    last_attempt_at = sa.Column(sa.DateTime(timezone=True))
    provider_response = sa.Column(sa.Text)
    sent_at = sa.Column(sa.DateTime(timezone=True))

    recipient = relationship("User")
    __table_args__ = (sa.Index("ix_outbox_status_send_after", "status", "send_after"),)

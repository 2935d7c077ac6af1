"""A receiver an admin registered: where to POST, with which secret, for which events.

Its deliveries are outbox rows (portal/notify/models.OutboxMessage, channel "webhook",
address = the endpoint's id, body = the signed JSON), with their attempts beside them."""
import sqlalchemy as sa

from portal.extensions import db
from portal.models_base import created_column, utc_column


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoint"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(100), nullable=False)
    url = sa.Column(sa.String(500), nullable=False)
    # Shown to the admin (the receiver needs it); a rotation replaces it at once.
    secret = sa.Column(sa.String(80), nullable=False)
    events = sa.Column(sa.JSON, nullable=False)  # list of portal.webhooks.events.EVENTS codes
    active = sa.Column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    created_at = created_column()
    secret_rotated_at = utc_column()

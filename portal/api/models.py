"""Integration tokens, the log of their calls, and the Idempotency-Key claims of creates."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.extensions import db
from portal.models_base import created_column, utc_column


class ApiToken(db.Model):
    """One integration's key to /api/v1/. Only the SHA-256 of the secret is kept; the whole
    token (kp_<prefix>_<secret>) is shown once, when it is issued."""
    __tablename__ = "api_token"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(60), nullable=False)  # the integration, e.g. 呼叫中心
    prefix = sa.Column(sa.String(8), nullable=False, unique=True)  # shown in lists and logs
    secret_sha256 = sa.Column(sa.String(64), nullable=False)
    # The service account (svc:api:<id>) that the cases, files and audit events name.
    service_user_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    channels = sa.Column(sa.JSON, nullable=False, default=list)  # Channel values it may create for
    branch_ids = sa.Column(sa.JSON, nullable=False, default=list)  # branch units it may create for
    hq = sa.Column(sa.Boolean, nullable=False, default=False)  # …and 总部直接受理 (no branch)
    read_only = sa.Column(sa.Boolean, nullable=False, default=False)
    rate_per_minute = sa.Column(sa.Integer, nullable=False, default=120)
    note = sa.Column(sa.String(200))
    created_at = created_column()
    created_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    revoked_at = utc_column()
    last_used_at = utc_column()

    service_user = relationship("User", foreign_keys=[service_user_id])

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiCall(db.Model):
    """Every call made with a token (or trying to): who, what, the answer and how long it took."""
    __tablename__ = "api_call"
    id = sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    token_id = sa.Column(sa.Integer, sa.ForeignKey("api_token.id"))  # NULL: no or unknown token
    at = created_column()
    method = sa.Column(sa.String(8), nullable=False)
    path = sa.Column(sa.String(200), nullable=False)
    status = sa.Column(sa.SmallInteger, nullable=False)
    code = sa.Column(sa.String(40))  # the error code, when it failed
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"))
    ms = sa.Column(sa.Integer, nullable=False)
    ip = sa.Column(sa.String(45))
    idempotency_key = sa.Column(sa.String(100))

    __table_args__ = (sa.Index("ix_api_call_token_at", "token_id", "at"),)


class ApiIdempotency(db.Model):
    """A create's Idempotency-Key, claimed before the case is registered: the same key with a
    different body is refused; the case itself is found by its intake_key (unique)."""
    __tablename__ = "api_idempotency"
    id = sa.Column(sa.Integer, primary_key=True)
    token_id = sa.Column(sa.Integer, sa.ForeignKey("api_token.id"), nullable=False)
    key_sha256 = sa.Column(sa.String(64), nullable=False)
    request_sha256 = sa.Column(sa.String(64), nullable=False)
    response = sa.Column(sa.JSON)  # the first 201 body, replayed as it was
    created_at = created_column()

    __table_args__ = (sa.UniqueConstraint("token_id", "key_sha256", name="uq_api_idempotency_token_key"),)

"""Audit events (append-only, hash-chained) and signature records."""
import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.extensions import db
from portal.models_base import enum_type
from portal.org.enums import Role
from portal.signing.enums import SignatureMeaning


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    id = sa.Column(sa.Integer, primary_key=True)
    seq = sa.Column(sa.BigInteger, unique=True, nullable=False)  # gap-free; a missing row shows
    at = sa.Column(sa.DateTime(timezone=True), nullable=False)
    actor_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    actor_name = sa.Column(sa.String(64))
    ip = sa.Column(sa.String(64))
    object_type = sa.Column(sa.String(30), nullable=False)
    object_id = sa.Column(sa.Integer)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), index=True)
    action = sa.Column(sa.String(40), nullable=False)
    before = sa.Column(sa.JSON)
    after = sa.Column(sa.JSON)
    note = sa.Column(sa.Text)
    prev_hash = sa.Column(sa.String(64), nullable=False)
    hash = sa.Column(sa.String(64), nullable=False)

    actor = relationship("User")


class Signature(db.Model):
    """An electronic signature: who, as what, meaning, when, over which content."""
    __tablename__ = "signature"
    id = sa.Column(sa.Integer, primary_key=True)
    object_type = sa.Column(sa.String(30), nullable=False)
    object_id = sa.Column(sa.Integer, nullable=False)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), index=True)
    signer_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    printed_name = sa.Column(sa.String(64), nullable=False)
    role = sa.Column(enum_type(Role), nullable=False)
    unit_name = sa.Column(sa.String(100))
    meaning = sa.Column(enum_type(SignatureMeaning), nullable=False)
    signed_at = sa.Column(sa.DateTime(timezone=True), nullable=False)
    content = sa.Column(sa.JSON, nullable=False)  # the frozen snapshot that was signed
    content_hash = sa.Column(sa.String(64), nullable=False)
    comment = sa.Column(sa.Text)
    image_attachment_id = sa.Column(sa.Integer)  # the handwritten signature it was signed with
    seal_attachment_id = sa.Column(sa.Integer)  # and the personal seal (人名章)

    signer = relationship("User")

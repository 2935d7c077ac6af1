"""The customer's side of a case: the progress link they were given, how they rated the
result, and the appeals (申诉) they made against it."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.extensions import db
from portal.models_base import created_column


class CaseLink(db.Model):
    """The unguessable link of a case's progress page (/p/<token>).

    Stored as it is (not hashed) so the desk can print the receipt again; anyone holding it
    sees only what the customer sees. A regenerated link revokes the old one."""
    __tablename__ = "case_link"
    id = sa.Column(sa.Integer, primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), nullable=False, index=True)
    token = sa.Column(sa.String(43), nullable=False, unique=True)
    created_at = created_column()
    created_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    revoked_at = sa.Column(sa.DateTime(timezone=True))

    case = relationship("Case")


class CustomerRating(db.Model):
    """The customer's own rating of a result on the five dimensions (PROCEDURES.md §10), 1–5."""
    __tablename__ = "customer_rating"
    id = sa.Column(sa.Integer, primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), nullable=False, index=True)
    score_quality = sa.Column(sa.SmallInteger, nullable=False)
    score_speed = sa.Column(sa.SmallInteger, nullable=False)
    score_attitude = sa.Column(sa.SmallInteger, nullable=False)
    score_info = sa.Column(sa.SmallInteger, nullable=False)
    score_safety = sa.Column(sa.SmallInteger, nullable=False)
    comment = sa.Column(sa.Text)
    created_at = created_column()

    @property
    def scores(self) -> dict[str, int]:
        from portal.cases.enums import SATISFACTION_DIMENSIONS
        return {name: getattr(self, field) for field, name in SATISFACTION_DIMENSIONS}


class CustomerAppeal(db.Model):
    """申诉: the customer does not accept an outcome; the case went back to the desk."""
    __tablename__ = "customer_appeal"
    id = sa.Column(sa.Integer, primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), nullable=False, index=True)
    reason = sa.Column(sa.Text, nullable=False)
    state_from = sa.Column(sa.String(32), nullable=False)  # the State value appealed against
    created_at = created_column()

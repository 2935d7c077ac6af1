"""The corrective-action sheet, its number counter, and its links to cases and photos."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.capa.states import Layout, SheetState
from portal.clock import utcnow
from portal.extensions import db
from portal.models_base import created_column, enum_type


class SheetCounter(db.Model):
    """One row per year, incremented in the issuing transaction (as case_counter): no gaps."""
    __tablename__ = "corrective_action_counter"
    year = sa.Column(sa.Integer, primary_key=True)
    last = sa.Column(sa.Integer, nullable=False, default=0)


sheet_case = sa.Table(
    "corrective_action_case", db.metadata,
    sa.Column("sheet_id", sa.Integer, sa.ForeignKey("corrective_action.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("case.id"), primary_key=True, index=True),
)

sheet_attachment = sa.Table(
    "corrective_action_attachment", db.metadata,
    sa.Column("sheet_id", sa.Integer, sa.ForeignKey("corrective_action.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("attachment_id", sa.Integer, sa.ForeignKey("attachment.id"), primary_key=True),
)


class CorrectiveAction(db.Model):
    """纠正预防单 (PROCEDURES.md §8); the 8D layout fills the extra D1/D3/D4/D8 fields."""
    __tablename__ = "corrective_action"
    id = sa.Column(sa.Integer, primary_key=True)
    number = sa.Column(sa.String(16), unique=True, nullable=False)  # CA2026-0001
    version = sa.Column(sa.Integer, nullable=False)
    state = sa.Column(enum_type(SheetState), nullable=False, default=SheetState.ISSUED)
    layout = sa.Column(enum_type(Layout, length=16), nullable=False, default=Layout.STANDARD)

    # Issue (签发)
    issuing_unit_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"), nullable=False)
    issued_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    issued_at = sa.Column(sa.DateTime(timezone=True), nullable=False)
    receiving_unit_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"), nullable=False)
    batch_no = sa.Column(sa.String(40))
    batch_id = sa.Column(sa.Integer, sa.ForeignKey("batch.id"))
    cluster_id = sa.Column(sa.Integer)  # the batch cluster it answers (portal/clusters), if any
    product_id = sa.Column(sa.Integer, sa.ForeignKey("product.id"))
    product_name = sa.Column(sa.String(100))
    production_date = sa.Column(sa.Date)
    nonconformity = sa.Column(sa.Text, nullable=False)  # 不合格描述
    # The issue form's own random key: the same form sent twice issues one sheet.
    issue_key = sa.Column(sa.String(64))
    # When the step the sheet waits for is due (response, approval, verification).
    due_at = sa.Column(sa.DateTime(timezone=True))

    # Response (部门回复)
    investigation = sa.Column(sa.Text)  # that day's production
    whys = sa.Column(sa.JSON)  # up to five strings, each answering "why?" to the one before
    correction = sa.Column(sa.Text)  # 纠正措施
    prevention = sa.Column(sa.Text)  # 预防措施
    owner_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    due_date = sa.Column(sa.Date)  # the owner's date for the measures
    responded_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    responded_at = sa.Column(sa.DateTime(timezone=True))
    approved_at = sa.Column(sa.DateTime(timezone=True))

    # Verification of effect (效果验证)
    effective = sa.Column(sa.Boolean)
    verification_evidence = sa.Column(sa.Text)
    verified_on = sa.Column(sa.Date)
    verified_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    verified_at = sa.Column(sa.DateTime(timezone=True))
    return_reason = sa.Column(sa.Text)
    return_count = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    closed_at = sa.Column(sa.DateTime(timezone=True))

    # 8D only: D1 team [{name, role}], D3 containment [{location, suspect_qty, action}],
    # D4 root causes of occurrence and of escape, D8 closure and recognition.
    team = sa.Column(sa.JSON)
    containment = sa.Column(sa.JSON)
    root_cause_occurrence = sa.Column(sa.Text)
    root_cause_escape = sa.Column(sa.Text)
    closure_note = sa.Column(sa.Text)

    created_at = created_column()
    updated_at = sa.Column(sa.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.Index("ix_corrective_action_state_due", "state", "due_at"),
        sa.Index("ix_corrective_action_receiving", "receiving_unit_id", "issued_at"),
        sa.Index("ix_corrective_action_batch_no", "batch_no"),
        sa.Index("ix_corrective_action_issue_key", "issue_key", unique=True),
    )

    issuing_unit = relationship("OrgUnit", foreign_keys=[issuing_unit_id])
    receiving_unit = relationship("OrgUnit", foreign_keys=[receiving_unit_id])
    issued_by = relationship("User", foreign_keys=[issued_by_id])
    owner = relationship("User", foreign_keys=[owner_id])
    responded_by = relationship("User", foreign_keys=[responded_by_id])
    verified_by = relationship("User", foreign_keys=[verified_by_id])
    batch = relationship("Batch")
    product = relationship("Product")
    cases = relationship("Case", secondary=sheet_case, order_by="Case.number")
    attachments = relationship("Attachment", secondary=sheet_attachment, order_by="Attachment.id")

    def __repr__(self) -> str:
        return f"<CorrectiveAction {self.number}>"

    @property
    def photos(self):
        return [a for a in self.attachments if a.is_photo]

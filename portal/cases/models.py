"""The complaint record, its evidence, its number counter, categories and compensation rules."""
from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import relationship, validates

from portal.cases.enums import (Channel, CustomerType, Kind, Klass, Responsibility, SettlementForm,
                                Validity)
from portal.cases.states import State, Step
from portal.clock import as_utc, utcnow
from portal.extensions import db
from portal.labels import LabeledEnum, N_
from portal.models_base import created_column, enum_type


class Category(db.Model):
    """Cause category tree (product quality → foreign object, …)."""
    __tablename__ = "category"
    id = sa.Column(sa.Integer, primary_key=True)
    parent_id = sa.Column(sa.Integer, sa.ForeignKey("category.id"))
    code = sa.Column(sa.String(40), unique=True, nullable=False)
    name = sa.Column(sa.String(60), nullable=False)
    sort = sa.Column(sa.Integer, nullable=False, default=0)
    active = sa.Column(sa.Boolean, nullable=False, default=True)

    parent = relationship("Category", remote_side=[id], backref="children")

    @property
    def full_name(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent else self.name

    @property
    def root(self) -> "Category":
        return self.parent.root if self.parent else self


class CaseCounter(db.Model):
    """One row per year; incremented inside the intake transaction so numbers have no gaps."""
    __tablename__ = "case_counter"
    year = sa.Column(sa.Integer, primary_key=True)
    last = sa.Column(sa.Integer, nullable=False, default=0)


class Case(db.Model):
    __tablename__ = "case"
    id = sa.Column(sa.Integer, primary_key=True)
    number = sa.Column(sa.String(16), unique=True, nullable=False)
    version = sa.Column(sa.Integer, nullable=False)

    # Receipt
    received_at = sa.Column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    channel = sa.Column(enum_type(Channel), nullable=False)
    kind = sa.Column(enum_type(Kind), nullable=False, default=Kind.COMPLAINT)
    registered_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    branch_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"))
    # The intake form's own random key (drawn with the form): Back and send again carries the
    # same key, and the unique index turns even two simultaneous sends into one case.
    intake_key = sa.Column(sa.String(64))

    # Customer
    customer_name = sa.Column(sa.String(60), nullable=False)
    customer_phone = sa.Column(sa.String(32), nullable=False)  # as given: 0371-55551234, +86 138…
    # Set with customer_phone (below): its digits, and those reversed, so "the last four
    # digits" is a prefix of the reversed column and goes through an index.
    customer_phone_digits = sa.Column(sa.String(32))
    customer_phone_rev = sa.Column(sa.String(32))
    customer_address = sa.Column(sa.String(200))
    region = sa.Column(sa.String(60))
    customer_type = sa.Column(enum_type(CustomerType), nullable=False, default=CustomerType.CONSUMER)

    # Product
    product_id = sa.Column(sa.Integer, sa.ForeignKey("product.id"))
    product_name = sa.Column(sa.String(100), nullable=False)  # as complained about, kept if the catalogue changes
    product_spec = sa.Column(sa.String(100))
    batch_no = sa.Column(sa.String(40))
    batch_id = sa.Column(sa.Integer, sa.ForeignKey("batch.id"))
    production_date = sa.Column(sa.Date)
    quantity = sa.Column(sa.Integer)
    purchase_place = sa.Column(sa.String(200))
    purchase_date = sa.Column(sa.Date)

    # What happened
    description = sa.Column(sa.Text, nullable=False)
    demand = sa.Column(sa.Text)  # 诉求
    urgent = sa.Column(sa.Boolean, nullable=False, default=False)
    threatens_media = sa.Column(sa.Boolean, nullable=False, default=False)

    # Verification and classification
    klass = sa.Column(enum_type(Klass))
    category_id = sa.Column(sa.Integer, sa.ForeignKey("category.id"))
    validity = sa.Column(enum_type(Validity), nullable=False, default=Validity.PENDING)
    validity_reason = sa.Column(sa.Text)  # what the customer is told when not valid
    info_request = sa.Column(sa.Text)
    info_reply = sa.Column(sa.Text)

    # Workflow position
    state = sa.Column(enum_type(State), nullable=False, default=State.NEW)
    step = sa.Column(enum_type(Step))
    step_unit_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"))
    step_user_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    step_started_at = sa.Column(sa.DateTime(timezone=True))
    due_at = sa.Column(sa.DateTime(timezone=True))
    # The rung of the escalation ladder the case has reached (portal/escalation; 0: none).
    ladder_level = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    # How many times the customer did not accept the result at the callback (回访不满意).
    callback_rejections = sa.Column(sa.Integer, nullable=False, default=0)

    # Responsibility and investigation
    suggested_unit_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"))
    responsible_unit_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"))
    responsible_user_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    acknowledged_at = sa.Column(sa.DateTime(timezone=True))
    findings = sa.Column(sa.Text)
    root_cause = sa.Column(sa.Text)
    responsibility = sa.Column(enum_type(Responsibility))
    responsibility_note = sa.Column(sa.String(200))

    # Solution and compensation
    solution_form = sa.Column(enum_type(SettlementForm))
    solution_text = sa.Column(sa.Text)
    comp_product_qty = sa.Column(sa.Integer)
    comp_multiple = sa.Column(sa.Numeric(6, 2))  # 1:N
    comp_cash = sa.Column(sa.Numeric(10, 2))
    needs_approval = sa.Column(sa.Boolean, nullable=False, default=False)
    # [{"code": …, "params": {…}}] (compensation.REASONS); rendered in the reader's language.
    # Rows written before the codes hold Chinese sentences, shown as they are.
    approval_reasons = sa.Column(sa.JSON)
    # The rep settled it within their own authority at intake (现场处理): the desk calls back.
    settled_on_spot = sa.Column(sa.Boolean, nullable=False, default=False, server_default=sa.false())
    proposed_at = sa.Column(sa.DateTime(timezone=True))
    decision_comment = sa.Column(sa.Text)  # 批示

    implementation_text = sa.Column(sa.Text)
    implemented_at = sa.Column(sa.DateTime(timezone=True))

    # Callback (回访)
    callback_reached = sa.Column(sa.Boolean)
    callback_satisfied = sa.Column(sa.Boolean)
    score_quality = sa.Column(sa.SmallInteger)
    score_speed = sa.Column(sa.SmallInteger)
    score_attitude = sa.Column(sa.SmallInteger)
    score_info = sa.Column(sa.SmallInteger)
    score_safety = sa.Column(sa.SmallInteger)
    callback_comment = sa.Column(sa.Text)
    callback_at = sa.Column(sa.DateTime(timezone=True))
    callback_count = sa.Column(sa.Integer, nullable=False, default=0)

    closed_at = sa.Column(sa.DateTime(timezone=True))
    reopen_count = sa.Column(sa.Integer, nullable=False, default=0)
    created_at = created_column()
    updated_at = sa.Column(sa.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.Index("ix_case_received", "received_at", "id"),
        sa.Index("ix_case_intake_key", "intake_key", unique=True),
        sa.Index("ix_case_branch_received", "branch_id", "received_at"),
        sa.Index("ix_case_responsible_received", "responsible_unit_id", "received_at"),
        sa.Index("ix_case_state_received", "state", "received_at"),
        sa.Index("ix_case_step_due", "step", "step_unit_id", "due_at"),
        sa.Index("ix_case_step_user", "step_user_id", "due_at"),
        sa.Index("ix_case_batch_no", "batch_no"),
        sa.Index("ix_case_phone_rev", "customer_phone_rev"),
        sa.Index("ix_case_registered_by", "registered_by_id"),
        sa.Index("ix_case_category", "category_id"),
        sa.Index("ix_case_closed", "closed_at"),  # the dashboard's "closed this month"
    )

    registered_by = relationship("User", foreign_keys=[registered_by_id], lazy="joined")
    branch = relationship("OrgUnit", foreign_keys=[branch_id], lazy="joined")
    category = relationship("Category")
    product = relationship("Product")
    batch = relationship("Batch")
    responsible_unit = relationship("OrgUnit", foreign_keys=[responsible_unit_id])
    responsible_user = relationship("User", foreign_keys=[responsible_user_id])
    suggested_unit = relationship("OrgUnit", foreign_keys=[suggested_unit_id])
    step_unit = relationship("OrgUnit", foreign_keys=[step_unit_id])
    step_user = relationship("User", foreign_keys=[step_user_id])
    attachments = relationship("Attachment", back_populates="case", order_by="Attachment.id")

    def __repr__(self) -> str:
        return f"<Case {self.number}>"

    @validates("customer_phone")
    def _phone_digits(self, _key, value):
        self.customer_phone_digits = phone_digits(value)
        self.customer_phone_rev = self.customer_phone_digits[::-1] or None
        return value

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and as_utc(self.due_at) < utcnow()

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.customer_phone)

    @property
    def photos(self):
        return [a for a in self.attachments if a.is_photo]

    @property
    def documents(self):
        return [a for a in self.attachments if not a.is_photo]

    @property
    def compensation_summary(self) -> str:
        parts = []
        if self.comp_product_qty:
            parts.append(_("产品 %(n)s 件", n=self.comp_product_qty))
        if self.comp_multiple:
            parts.append(f"1:{self.comp_multiple.normalize():f}")
        if self.comp_cash:
            parts.append(_("现金 %(amount)s 元", amount=f"{self.comp_cash:.2f}"))
        # TRANSLATORS: "，" separates the parts of the compensation (products, ratio, cash).
        return _("，").join(parts)

    @property
    def satisfaction_scores(self) -> dict[str, int | None]:
        from portal.cases.enums import SATISFACTION_DIMENSIONS
        return {name: getattr(self, field) for field, name in SATISFACTION_DIMENSIONS}


def phone_digits(phone: str | None) -> str:
    """The digits of a phone number as a customer or rep types it, without China's country
    code: "0371-5555 1234" → "037155551234", "+86 138 1234 5678" → "13812345678"."""
    text = unicodedata.normalize("NFKC", phone or "").strip()  # full-width ０-９ from phone keyboards
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    if text.startswith("+86"):
        return digits[2:]
    if text.startswith("0086"):
        return digits[4:]
    return digits


def mask_phone(phone: str | None) -> str:
    """138****5678: lists never show a customer's whole number."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) <= 7:
        return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


class Attachment(db.Model):
    """A photo or document: the original kept byte for byte, with its SHA-256 and original name."""
    __tablename__ = "attachment"
    id = sa.Column(sa.Integer, primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), index=True)  # NULL while staged
    token = sa.Column(sa.String(32), unique=True, nullable=False)
    purpose = sa.Column(sa.String(20), nullable=False, default="evidence")  # evidence | implementation
    uploaded_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    original_name = sa.Column(sa.String(255), nullable=False)
    stored_name = sa.Column(sa.String(80), nullable=False)
    content_type = sa.Column(sa.String(60), nullable=False)
    size = sa.Column(sa.Integer, nullable=False)
    sha256 = sa.Column(sa.String(64), nullable=False, index=True)
    width = sa.Column(sa.Integer)
    height = sa.Column(sa.Integer)
    created_at = created_column()

    case = relationship("Case", back_populates="attachments")
    uploaded_by = relationship("User")

    @property
    def is_photo(self) -> bool:
        return self.content_type.startswith("image/")


class Approver(LabeledEnum):
    """Whose leader decides a proposal beyond the proposer's authority (PROCEDURES.md §7)."""
    DEPARTMENT = "department", N_("责任部门领导")
    COMPANY = "company", N_("公司领导")


class CompensationRule(db.Model):
    """What a proposer may grant without a leader (PROCEDURES.md §7); admin-editable."""
    __tablename__ = "compensation_rule"
    id = sa.Column(sa.Integer, primary_key=True)
    klass = sa.Column(enum_type(Klass), nullable=False)
    category_id = sa.Column(sa.Integer, sa.ForeignKey("category.id"))  # NULL: any cause
    max_multiple = sa.Column(sa.Numeric(6, 2))  # company product worth up to N × the product
    max_cash = sa.Column(sa.Numeric(10, 2))
    always_needs_approval = sa.Column(sa.Boolean, nullable=False, default=False)
    approver = sa.Column(enum_type(Approver), nullable=False, default=Approver.DEPARTMENT,
                         server_default=Approver.DEPARTMENT.value)
    note = sa.Column(sa.String(200))

    category = relationship("Category")

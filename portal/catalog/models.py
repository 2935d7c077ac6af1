"""An import of products or batches from a spreadsheet, run by a worker: its progress and
outcome, read by the page that polls it."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.extensions import db
from portal.labels import LabeledEnum, N_
from portal.models_base import created_column, enum_type, utc_column


class ImportKind(LabeledEnum):
    PRODUCTS = "products", N_("产品")
    BATCHES = "batches", N_("批号")


class ImportStatus(LabeledEnum):
    QUEUED = "queued", N_("排队中")
    CHECKING = "checking", N_("正在检查")
    WRITING = "writing", N_("正在写入")
    DONE = "done", N_("已导入")
    REFUSED = "refused", N_("有错误，未导入")
    FAILED = "failed", N_("导入失败")

    @property
    def finished(self) -> bool:
        return self in (ImportStatus.DONE, ImportStatus.REFUSED, ImportStatus.FAILED)


class ImportJob(db.Model):
    __tablename__ = "import_job"
    id = sa.Column(sa.Integer, primary_key=True)
    kind = sa.Column(enum_type(ImportKind, length=16), nullable=False)
    status = sa.Column(enum_type(ImportStatus, length=16), nullable=False, default=ImportStatus.QUEUED)
    filename = sa.Column(sa.String(120), nullable=False)  # as uploaded, for people
    stored_name = sa.Column(sa.String(80), nullable=False)  # under UPLOAD_DIR/imports
    sha256 = sa.Column(sa.String(64), nullable=False)
    total_rows = sa.Column(sa.Integer)  # data rows, once known
    done_rows = sa.Column(sa.Integer, nullable=False, default=0)  # rows checked so far
    created_rows = sa.Column(sa.Integer, nullable=False, default=0)
    updated_rows = sa.Column(sa.Integer, nullable=False, default=0)
    # [[row number, message], ...], the first ERROR_LIMIT of error_count; `message` is a
    # problem of the whole file (no header, wrong type) or of the run.
    errors = sa.Column(sa.JSON)
    error_count = sa.Column(sa.Integer, nullable=False, default=0)
    message = sa.Column(sa.Text)
    created_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    created_at = created_column()
    finished_at = utc_column()

    created_by = relationship("User")

    __table_args__ = (sa.Index("ix_import_job_created", "created_at"),)

"""A batch cluster, the cases in it, and the one rule that says when cases form one."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.labels import LabeledEnum, N_
from portal.models_base import created_column, enum_type


class ClusterState(LabeledEnum):
    OPEN = "open", N_("待处理")
    CLOSED = "closed", N_("已关闭")


class ClusterTrigger(LabeledEnum):
    """Which half of the rule the batch met when the cluster opened."""
    CASES = "cases", N_("投诉起数达到预警值")
    BRANCHES = "branches", N_("多个分公司投诉")


class ClusterRule(db.Model):
    """The cluster rule (one row; without it the defaults below apply): `min_cases` cases on a
    batch within `window_days`, or cases from `min_branches` branches in the same window."""
    __tablename__ = "cluster_rule"
    DEFAULTS = {"min_cases": 3, "window_days": 30, "min_branches": 2}

    id = sa.Column(sa.Integer, primary_key=True)
    version = sa.Column(sa.Integer, nullable=False)
    min_cases = sa.Column(sa.Integer, nullable=False, default=3)
    window_days = sa.Column(sa.Integer, nullable=False, default=30)
    min_branches = sa.Column(sa.Integer)  # None: the branch half of the rule is off
    updated_at = sa.Column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    updated_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))

    updated_by = relationship("User")
    __mapper_args__ = {"version_id_col": version}


class BatchCluster(db.Model):
    __tablename__ = "batch_cluster"
    id = sa.Column(sa.Integer, primary_key=True)
    version = sa.Column(sa.Integer, nullable=False)
    batch_no = sa.Column(sa.String(40), nullable=False, index=True)
    batch_id = sa.Column(sa.Integer, sa.ForeignKey("batch.id"))
    # The batch number while the cluster is open, NULL once closed: the unique index allows
    # one open cluster per batch (NULLs never collide), so a batch alerts quality once.
    open_batch_no = sa.Column(sa.String(40), unique=True)
    state = sa.Column(enum_type(ClusterState, length=16), nullable=False, default=ClusterState.OPEN)
    trigger = sa.Column(enum_type(ClusterTrigger, length=16), nullable=False)
    # The rule as it stood when the cluster opened (the rule may change later).
    rule = sa.Column(sa.JSON, nullable=False)
    opened_at = sa.Column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    opened_by_case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"))
    # Quality's decision on the suggested class 严重: None until decided.
    serious = sa.Column(sa.Boolean)
    decided_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    decided_at = sa.Column(sa.DateTime(timezone=True))
    decision_note = sa.Column(sa.Text)
    closed_at = sa.Column(sa.DateTime(timezone=True))
    closed_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"))
    close_note = sa.Column(sa.Text)
    created_at = created_column()

    batch = relationship("Batch")
    opened_by_case = relationship("Case")
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    closed_by = relationship("User", foreign_keys=[closed_by_id])
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (sa.Index("ix_batch_cluster_state_opened", "state", "opened_at"),)

    @property
    def is_open(self) -> bool:
        return self.state == ClusterState.OPEN


class BatchClusterCase(db.Model):
    """A case in a cluster: those that formed it, and every later case on the batch while open."""
    __tablename__ = "batch_cluster_case"
    cluster_id = sa.Column(sa.Integer, sa.ForeignKey("batch_cluster.id", ondelete="CASCADE"),
                           primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), primary_key=True, index=True)
    joined_at = sa.Column(sa.DateTime(timezone=True), nullable=False, default=utcnow)

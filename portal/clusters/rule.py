"""The cluster rule in force: the stored row, or the defaults while nobody has edited it."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from portal.clusters.models import ClusterRule
from portal.extensions import db


@dataclass(frozen=True)
class Rule:
    min_cases: int
    window_days: int
    min_branches: int | None
    version: int | None = None  # None: the defaults, no row yet

    def as_dict(self) -> dict:
        return {"min_cases": self.min_cases, "window_days": self.window_days,
                "min_branches": self.min_branches}


def rule_row() -> ClusterRule | None:
    return db.session.execute(sa.select(ClusterRule).order_by(ClusterRule.id).limit(1)).scalar()


def current_rule() -> Rule:
    row = rule_row()
    if row is None:
        return Rule(**ClusterRule.DEFAULTS)
    return Rule(row.min_cases, row.window_days, row.min_branches, row.version)

"""Noticing a batch cluster as a case is registered, and the one alert it raises to quality."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from portal.cases.models import Case
from portal.cases.states import State
from portal.clock import utcnow
from portal.clusters.models import BatchCluster, BatchClusterCase, ClusterState, ClusterTrigger
from portal.clusters.rule import current_rule
from portal.extensions import db
from portal.notify.outbox import notify_users
from portal.org.enums import Role
from portal.org.models import OrgUnit, User, UserRole
from portal.signing import audit

ALERT_CHANNELS = ("email", "inapp")


def open_cluster(batch_no: str) -> BatchCluster | None:
    return db.session.execute(
        sa.select(BatchCluster).where(BatchCluster.open_batch_no == batch_no)).scalar_one_or_none()


def note_case(case: Case) -> list:
    """Put a newly registered case in its batch's cluster, opening one (and alerting quality)
    when the batch now meets the rule. Returns the outbox rows to hand to workers.

    Called inside the intake's transaction after its audit event: that event holds the audit
    lock (PostgreSQL) or the write lock (SQLite) until commit, so two intakes on one batch are
    counted one after the other and only the first to meet the rule opens the cluster."""
    if not case.batch_no:
        return []
    cluster = open_cluster(case.batch_no)
    if cluster is not None:
        db.session.add(BatchClusterCase(cluster_id=cluster.id, case_id=case.id))
        return []
    rule = current_rule()
    now = utcnow()
    rows = db.session.execute(
        sa.select(Case.id, Case.number, Case.branch_id)
        .where(Case.batch_no == case.batch_no, Case.state != State.REJECTED,
               Case.received_at >= now - timedelta(days=rule.window_days))
        .order_by(Case.received_at, Case.id)).all()
    branches = {r.branch_id for r in rows if r.branch_id is not None}
    if len(rows) >= rule.min_cases:
        trigger = ClusterTrigger.CASES
    elif rule.min_branches and len(branches) >= rule.min_branches:
        trigger = ClusterTrigger.BRANCHES
    else:
        return []
    cluster = BatchCluster(batch_no=case.batch_no, batch_id=case.batch_id, open_batch_no=case.batch_no,
                           state=ClusterState.OPEN, trigger=trigger, rule=rule.as_dict(),
                           opened_at=now, opened_by_case_id=case.id)
    db.session.add(cluster)
    db.session.flush()
    db.session.add_all(BatchClusterCase(cluster_id=cluster.id, case_id=r.id, joined_at=now) for r in rows)
    numbers = [r.number for r in rows]
    branch_names = _unit_names(branches)
    audit.record("cluster_opened", actor=None, object_type="batch_cluster", object_id=cluster.id,
                 after={"batch_no": case.batch_no, "trigger": trigger, "rule": rule.as_dict(),
                        "cases": numbers, "branches": branch_names})
    return _alert(cluster, case, numbers, branch_names)


def _unit_names(ids) -> list[str]:
    if not ids:
        return []
    return list(db.session.execute(
        sa.select(OrgUnit.name).where(OrgUnit.id.in_(ids)).order_by(OrgUnit.name)).scalars())


def quality_staff() -> list[User]:
    return list(db.session.execute(
        sa.select(User).join(UserRole).where(User.active.is_(True), UserRole.role == Role.QUALITY)
        .order_by(User.id)).unique().scalars())


def _alert(cluster: BatchCluster, case: Case, numbers: list[str], branches: list[str]) -> list:
    """One mail and one bell message per quality user, keyed by the cluster: never twice."""
    rule = cluster.rule
    base = (current_app.config.get("PORTAL_BASE_URL") or "").rstrip("/")
    # In Chinese whatever language the person who registered the case reads (as step messages).
    subject = f"【批号预警】批号 {cluster.batch_no} {rule['window_days']} 天内 {len(numbers)} 起投诉"
    where = f"，来自{'、'.join(branches)}" if branches else ""
    body = (f"批号 {cluster.batch_no}（{case.product_name}）{rule['window_days']} 天内已有 "
            f"{len(numbers)} 起投诉{where}：{'、'.join(numbers)}。"
            f"建议按「严重」类别处理，请品保确认，并为该批号开纠正预防单。"
            f"批号聚集：{base}/clusters/{cluster.id}")
    return notify_users(quality_staff(), key_prefix=f"cluster:{cluster.id}:opened", subject=subject,
                        body=body, case_id=case.id, channels=ALERT_CHANNELS, kind="cluster")

"""Clusters as a viewer may see them: scoped by the cases in them, as the case lists are.

Quality, the desk and admins see every cluster; anyone else sees a cluster only through its
cases they may see (a rep: their branch's), and only those cases and their count."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app

from portal.cases import access
from portal.cases.models import Case
from portal.clusters.models import BatchCluster, BatchClusterCase, ClusterState
from portal.extensions import db
from portal.org.models import OrgUnit


def _visible_members(viewer):
    """The (cluster_id, case_id) rows of cases `viewer` may see."""
    q = sa.select(BatchClusterCase.cluster_id, BatchClusterCase.case_id).join(
        Case, Case.id == BatchClusterCase.case_id)
    if (clause := access.visible_clause(viewer)) is not None:
        q = q.where(clause)
    return q.subquery()


def clusters(viewer, *, state: ClusterState | None = ClusterState.OPEN, limit: int = 200):
    """Clusters with at least one case the viewer may see, newest first; each row with the
    number of those cases, their branches and their quantities."""
    members = _visible_members(viewer)
    q = (sa.select(BatchCluster, sa.func.count(members.c.case_id).label("cases"),
                   sa.func.count(sa.distinct(Case.branch_id)).label("branches"),
                   sa.func.coalesce(sa.func.sum(Case.quantity), 0).label("quantity"),
                   sa.func.max(Case.received_at).label("latest"))
         .join(members, members.c.cluster_id == BatchCluster.id)
         .join(Case, Case.id == members.c.case_id)
         .group_by(BatchCluster.id)
         .order_by(BatchCluster.opened_at.desc(), BatchCluster.id.desc()).limit(limit))
    if state is not None:
        q = q.where(BatchCluster.state == state)
    return db.session.execute(q).all()


def visible_cluster_or_404(cluster_id: int, viewer) -> BatchCluster:
    members = _visible_members(viewer)
    cluster = db.session.execute(
        sa.select(BatchCluster).where(BatchCluster.id == cluster_id,
                                      BatchCluster.id.in_(sa.select(members.c.cluster_id)))).scalar()
    if cluster is None:
        abort(404)
    return cluster


def cluster_cases(cluster: BatchCluster, viewer):
    """The cluster's cases the viewer may see, oldest first, with their branch's name."""
    q = (sa.select(Case.number, Case.received_at, Case.quantity, Case.state, Case.klass,
                   Case.customer_name, Case.region, Case.production_date, OrgUnit.name.label("branch_name"))
         .join(BatchClusterCase, BatchClusterCase.case_id == Case.id)
         .outerjoin(OrgUnit, OrgUnit.id == Case.branch_id)
         .where(BatchClusterCase.cluster_id == cluster.id)
         .order_by(Case.received_at, Case.id))
    if (clause := access.visible_clause(viewer)) is not None:
        q = q.where(clause)
    return db.session.execute(q).all()


def cluster_of_case(case: Case, viewer) -> tuple[BatchCluster, int] | None:
    """The newest cluster the case is in, with how many of its cases the viewer may see
    (the case page's notice and its suggested class)."""
    members = _visible_members(viewer)
    row = db.session.execute(
        sa.select(BatchCluster, sa.select(sa.func.count()).where(members.c.cluster_id == BatchCluster.id)
                  .scalar_subquery())
        .join(BatchClusterCase, BatchClusterCase.cluster_id == BatchCluster.id)
        .where(BatchClusterCase.case_id == case.id)
        .order_by(BatchCluster.opened_at.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None


def sheets_for(cluster: BatchCluster, viewer) -> list:
    """The corrective-action sheets issued for the batch (portal/capa), once that exists."""
    if "capa.new" not in current_app.view_functions:
        return []
    from portal.capa.queries import sheets_for_batch
    return sheets_for_batch(cluster.batch_no, viewer)


def capa_link_available() -> bool:
    return "capa.new" in current_app.view_functions

"""Changes to clusters and their rule: each checks, writes, audits and commits as one.

Only the opening of a cluster is not here: it belongs to the intake's own transaction
(portal/clusters/detection.py)."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from portal.clock import utcnow
from portal.clusters.models import BatchCluster, ClusterRule, ClusterState
from portal.clusters.rule import rule_row
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.extensions import db
from portal.org.enums import Role
from portal.signing import audit

MAX_CASES, MAX_DAYS, MAX_BRANCHES = 1000, 366, 100


def _commit(action: str, actor, obj, object_type: str, before: dict, after: dict,
            note: str | None = None, conflict: str = "") -> None:
    """A concurrent change (the version moved under us) becomes a Conflict, nothing kept."""
    try:
        db.session.flush()
        audit.record(action, actor=actor, object_type=object_type, object_id=obj.id,
                     before=before, after=after, note=note)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(conflict) from None


def _check_version(obj, version, message: str) -> None:
    """`version` as the page had it ("" for a rule drawn from the defaults, before any save)."""
    if version is not None and str(version).strip() != str(obj.version):
        raise Conflict(message)


def _whole(value, field: str, label: str, low: int, high: int, errors: dict, *, optional=False):
    if value in (None, ""):
        if not optional:
            errors[field] = _("请填写%(field)s", field=label)
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        errors[field] = _("%(field)s应为 %(low)s 到 %(high)s 之间的整数", field=label, low=low, high=high)
    return number


def save_rule(actor, version, *, min_cases, window_days, min_branches) -> ClusterRule:
    """Quality or an admin sets the rule; clusters already open keep the rule they met."""
    if not actor.has_role(Role.QUALITY, Role.ADMIN):
        raise PermissionDenied(_("只有品保和系统管理员可以修改批号聚集规则。"))
    errors: dict[str, str] = {}
    values = {"min_cases": _whole(min_cases, "min_cases", _("投诉起数"), 2, MAX_CASES, errors),
              "window_days": _whole(window_days, "window_days", _("统计天数"), 1, MAX_DAYS, errors),
              "min_branches": _whole(min_branches, "min_branches", _("分公司数"), 2, MAX_BRANCHES, errors,
                                     optional=True)}
    if errors:
        raise ValidationError(next(iter(errors.values())) if len(errors) == 1 else _("请修改标出的项目。"),
                              errors)
    row = rule_row()
    conflict = _("批号聚集规则已被他人修改，请查看最新规则后再保存。")
    if row is None:
        if version not in (None, ""):
            raise Conflict(conflict)
        row = ClusterRule()
        db.session.add(row)
        before, after = {}, values
    else:
        _check_version(row, version, conflict)
        keys = [k for k in values if getattr(row, k) != values[k]]
        if not keys:
            return row
        before, after = {k: getattr(row, k) for k in keys}, {k: values[k] for k in keys}
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_by_id = actor.id
    _commit("cluster_rule_saved", actor, row, "cluster_rule", before, after, conflict=conflict)
    return row


def _check_quality(cluster: BatchCluster, actor, version) -> None:
    if not actor.has_role(Role.QUALITY):
        raise PermissionDenied(_("只有品保可以处理批号聚集。"))
    _check_version(cluster, version, _("批号 %(no)s 的聚集已被他人处理，请查看最新内容。", no=cluster.batch_no))


def decide_class(cluster: BatchCluster, actor, version, *, serious: bool | None, note: str | None) -> BatchCluster:
    """Quality decides on the suggested class 严重 (PROCEDURES §6: batch-wide complaints).
    The decision is the cluster's; each case keeps the class the desk gave it."""
    _check_quality(cluster, actor, version)
    if serious is None:
        raise ValidationError(_("请选择是否按严重处理。"), {"serious": _("请选择")})
    note = (note or "").strip() or None
    if not serious and not note:
        raise ValidationError(_("不按严重处理时请写明理由。"), {"note": _("请写明理由")})
    before = {"serious": cluster.serious, "decision_note": cluster.decision_note}
    cluster.serious, cluster.decision_note = serious, note
    cluster.decided_by_id, cluster.decided_at = actor.id, utcnow()
    _commit("cluster_class_decided", actor, cluster, "batch_cluster", before,
            {"serious": serious, "decision_note": note}, note=note,
            conflict=_("批号 %(no)s 的聚集已被他人处理，请查看最新内容。", no=cluster.batch_no))
    return cluster


def close_cluster(cluster: BatchCluster, actor, version, *, note: str | None) -> BatchCluster:
    """Quality closes a cluster it has dealt with; a later case on the batch may open a new one."""
    _check_quality(cluster, actor, version)
    if not cluster.is_open:
        raise Conflict(_("批号 %(no)s 的聚集已关闭。", no=cluster.batch_no))
    note = (note or "").strip()
    if not note:
        raise ValidationError(_("请写明关闭理由。"), {"note": _("请写明关闭理由")})
    cluster.state, cluster.open_batch_no = ClusterState.CLOSED, None
    cluster.closed_at, cluster.closed_by_id, cluster.close_note = utcnow(), actor.id, note
    _commit("cluster_closed", actor, cluster, "batch_cluster", {"state": "open"},
            {"state": "closed"}, note=note,
            conflict=_("批号 %(no)s 的聚集已被他人处理，请查看最新内容。", no=cluster.batch_no))
    return cluster

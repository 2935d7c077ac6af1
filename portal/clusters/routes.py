"""Cluster pages: the list of open clusters, one cluster, quality's decisions, the rule.
Thin: queries scope what is shown, operations make the changes."""
from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.clusters import CloseForm, DecisionForm, RuleForm
from portal.auth.decorators import roles_required
from portal.clusters import bp, operations, queries
from portal.clusters.models import ClusterState
from portal.clusters.rule import current_rule
from portal.errors import Conflict, DomainError
from portal.extensions import db
from portal.htmx import page_or_partial, redirect_to
from portal.org.enums import Role

RULE_EDITORS = (Role.QUALITY, Role.ADMIN)


def _actor():
    return current_user._get_current_object()


@bp.route("/")
@login_required
def index():
    state = ClusterState.get(request.args.get("state")) or ClusterState.OPEN
    return render_template("clusters/index.html", rows=queries.clusters(current_user, state=state),
                           state=state, States=ClusterState, rule=current_rule(),
                           may_edit_rule=current_user.has_role(*RULE_EDITORS))


def _forms(cluster, decision=None, close=None) -> dict:
    decision = decision or DecisionForm(prefix="decide", formdata=None)
    close = close or CloseForm(prefix="close", formdata=None)
    for form in (decision, close):
        form.version.data = cluster.version
    return {"decision_form": decision, "close_form": close}


def _detail(cluster, status=200, message=None, **forms):
    return page_or_partial(
        "clusters/detail.html", "clusters/_main.html", status, cluster=cluster,
        cases=queries.cluster_cases(cluster, current_user), sheets=queries.sheets_for(cluster, current_user),
        capa=queries.capa_link_available(), is_quality=current_user.has_role(Role.QUALITY),
        message=message, **_forms(cluster, **forms))


@bp.route("/<int:cluster_id>")
@login_required
def detail(cluster_id: int):
    return _detail(queries.visible_cluster_or_404(cluster_id, current_user))


def _act(cluster_id: int, form_class, prefix: str, run, done: str):
    """Quality's two actions on a cluster: the form's own errors, a broken rule or a stale
    page come back in the page (400/409), nothing kept; success goes back to the cluster."""
    cluster = queries.visible_cluster_or_404(cluster_id, current_user)
    form = form_class(prefix=prefix)
    message, status = None, 400
    if form.validate():
        try:
            run(cluster, form)
        except DomainError as exc:
            db.session.rollback()
            if exc.status == 403:
                abort(403, description=exc.message)
            message, status = exc.message, exc.status
            for name, text in exc.field_errors.items():
                if name in form:
                    form[name].errors = list(form[name].errors) + [text]
            cluster = queries.visible_cluster_or_404(cluster_id, current_user)
            db.session.refresh(cluster)
            if isinstance(exc, Conflict):
                form = None  # the cluster as it is now, with the reason at the top
        else:
            flash(done, "success")
            return redirect_to(url_for("clusters.detail", cluster_id=cluster.id))
    else:
        message = form.first_error() or _("请检查填写内容。")
    key = "decision" if form_class is DecisionForm else "close"
    return _detail(cluster, status, message, **({key: form} if form is not None else {}))


@bp.route("/<int:cluster_id>/decide", methods=["POST"])
@login_required
def decide(cluster_id: int):
    return _act(cluster_id, DecisionForm, "decide", lambda c, f: operations.decide_class(
        c, _actor(), f.version.data, serious={"yes": True, "no": False}.get(f.serious.data),
        note=f.note.data), _("已记录类别决定。"))


@bp.route("/<int:cluster_id>/close", methods=["POST"])
@login_required
def close(cluster_id: int):
    return _act(cluster_id, CloseForm, "close", lambda c, f: operations.close_cluster(
        c, _actor(), f.version.data, note=f.note.data), _("已关闭该批号聚集。"))


@bp.route("/rule", methods=["GET", "POST"])
@login_required
@roles_required(*RULE_EDITORS)
def rule():
    current = current_rule()
    form = RuleForm(data={**current.as_dict(), "version": current.version or ""})
    message, status = None, 200
    if request.method == "POST":
        try:
            operations.save_rule(_actor(), form.version.data, min_cases=form.min_cases.data,
                                 window_days=form.window_days.data, min_branches=form.min_branches.data)
        except DomainError as exc:
            db.session.rollback()
            message, status = exc.message, exc.status
            for name, text in exc.field_errors.items():
                if name in form:
                    form[name].errors = list(form[name].errors) + [text]
            if isinstance(exc, Conflict):
                current = current_rule()
                form = RuleForm(formdata=None, data={**current.as_dict(), "version": current.version})
        else:
            flash(_("已保存批号聚集规则。"), "success")
            return redirect_to(url_for("clusters.index"))
    return render_template("clusters/rule.html", form=form, message=message), status

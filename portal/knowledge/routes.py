"""典型案例: the knowledge base (all staff) and marking a closed case typical (quality, leaders).
Thin: the operations do the work."""
from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.knowledge import TypicalForm
from portal.cases.routes import get_case
from portal.cases.states import State
from portal.errors import DomainError
from portal.extensions import db
from portal.htmx import page_or_partial, redirect_to
from portal.knowledge import operations, queries
from portal.submit import run_form

bp = Blueprint("reports_typical", __name__, url_prefix="/reports/typical")


@bp.app_template_global()
def typical_case_block(case):
    """For the case page: the case's typical entry and whether the reader may mark it (one
    query, for closed cases only)."""
    if case.state != State.CLOSED:
        return None
    return {"typical": queries.typical_of(case), "may_mark": operations.may_mark(current_user)}


@bp.route("/")
@login_required
def index():
    f = queries.KnowledgeFilters.from_args(request.args)
    entries, has_next = queries.list_entries(f)
    return page_or_partial("knowledge/index.html", "knowledge/_entries.html", entries=entries,
                           has_next=has_next, f=f)


@bp.route("/<number>", methods=["GET", "POST"])
@login_required
def mark(number: str):
    case = get_case(number)
    if not operations.may_mark(current_user):
        abort(403)
    typical = queries.typical_of(case)
    form = TypicalForm(formdata=request.form if request.method == "POST" else None, obj=typical)
    message, status = None, 200
    if request.method == "GET":
        form.version.data = typical.version if typical else ""
        form.tags.data = typical.tags if typical else ""
    else:
        message, status, conflict = run_form(form, lambda: operations.mark_typical(
            case, current_user._get_current_object(), form.lessons.data, form.tags.data,
            form.version.data or None))
        if conflict:
            # The form as it is now (someone else's lessons), with the reason at the top.
            typical = queries.typical_of(case)
            form = TypicalForm(formdata=None, obj=typical)
            form.version.data = typical.version if typical else ""
        elif status == 200:
            flash(_("投诉 %(number)s 已收入典型案例。", number=case.number), "success")
            return redirect_to(url_for("cases.detail", number=case.number))
    return render_template("knowledge/mark.html", case=case, typical=typical, form=form,
                           message=message), status


@bp.route("/<number>/unmark", methods=["POST"])
@login_required
def unmark(number: str):
    case = get_case(number)
    try:
        operations.unmark_typical(case, current_user._get_current_object(), request.form.get("version"))
    except DomainError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403, description=exc.message)
        flash(exc.message, "warning")
    else:
        flash(_("投诉 %(number)s 已移出典型案例。", number=case.number), "success")
    return redirect_to(url_for("cases.detail", number=case.number))

"""Sheet pages: list, new (from a case, several cases or a batch), detail, step panels, files.
Thin: the operations do the work."""
from __future__ import annotations

from flask import abort, current_app, flash, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.capa import IssueForm
from portal.auth.decorators import roles_required
from portal.batches.lookup import find_batch
from portal.capa import access, bp, operations, panels, queries
from portal.capa.models import CorrectiveAction
from portal.capa.states import SheetState
from portal.cases import evidence
from portal.cases.panels import department_choices
from portal.errors import DomainError
from portal.extensions import db
from portal.htmx import is_htmx, page_or_partial, redirect_to
from portal.org.enums import Role
from portal.submit import run_form


@bp.app_template_global()
def sheets_waiting() -> int:
    """For my work: how many sheets wait for the reader (no query for those no sheet waits for)."""
    if not current_user.has_role(Role.HANDLER, Role.LEADER, Role.QUALITY):
        return 0
    return queries.waiting_count(current_user)


@bp.route("/")
@login_required
def index():
    f = queries.SheetFilters.from_args(request.args)
    rows, has_next = queries.list_sheets(current_user, f, current_app.config["PAGE_SIZE"])
    states = [("", _("全部状态")), ("mine", _("待我处理")), ("open", _("未关闭"))] + SheetState.choices()
    return page_or_partial("capa/list.html", "capa/_rows.html", rows=rows, has_next=has_next, f=f,
                           state_choices=states)


def _prefill(form: IssueForm) -> None:
    """The new form starts from what it was opened from: a case, several, or a batch (cluster)."""
    cases, batch_no = queries.cases_to_answer(request.args.getlist("case"), request.args.get("batch_no"),
                                              current_user)
    batch = find_batch(batch_no)
    form.case_numbers.data = "\n".join(c.number for c in cases)
    form.batch_no.data = batch_no
    form.cluster.data = request.args.get("cluster", "")
    unit = next((c.responsible_unit_id or c.suggested_unit_id for c in cases
                 if c.responsible_unit_id or c.suggested_unit_id), None)
    form.receiving_unit_id.data = str(unit or (batch.production_unit_id if batch else "") or "")
    form.nonconformity.data = "\n".join(f"{c.number}：{c.description}" for c in cases)


@bp.route("/new", methods=["GET", "POST"])
@login_required
@roles_required(Role.QUALITY)
def new():
    form = IssueForm(formdata=request.form if request.method == "POST" else None)
    form.receiving_unit_id.choices = department_choices(mark_empty=True)
    message = None
    if request.method == "GET":
        _prefill(form)
        form.draw_key()
    elif not form.validate():
        message = form.first_error() or _("请检查填写内容。")
    else:
        try:
            sheet = operations.issue_sheet(current_user._get_current_object(), **form.arguments())
        except operations.AlreadyIssued as exc:
            # Back, then submit again: go to the sheet the first send issued.
            db.session.rollback()
            flash(exc.message, "warning")
            return redirect_to(url_for("capa.detail", number=exc.number))
        except DomainError as exc:
            db.session.rollback()
            for name, msg in exc.field_errors.items():
                if name in form:
                    form[name].errors = list(form[name].errors) + [msg]
            message = exc.message
        else:
            flash(_("纠正预防单 %(number)s 已签发给%(unit)s。", number=sheet.number,
                    unit=sheet.receiving_unit.name), "success")
            return redirect_to(url_for("capa.detail", number=sheet.number))
    status = 400 if message else 200
    return page_or_partial("capa/new.html", "capa/_issue_form.html", status=status, form=form,
                           message=message)


@bp.route("/<number>")
@login_required
def detail(number: str):
    sheet = access.visible_sheet_or_404(number, current_user)
    return render_template("capa/detail.html", **panels.detail_context(sheet))


@bp.route("/<number>/act/<action>", methods=["POST"])
@login_required
def act(number: str, action: str):
    """Every step posts here; the step's form and operation come from `panels`."""
    if action not in panels.STEPS:
        abort(404)
    sheet = access.visible_sheet_or_404(number, current_user)
    step = panels.STEPS[action]
    form = step.form_class(prefix=step.panel)
    panels.prepare_form(action, form, sheet)
    message, status, conflict = run_form(
        form, lambda: step.run(sheet, current_user._get_current_object(), form))
    if conflict:
        # Show the sheet as it is now, with the reason at the top.
        sheet = db.session.get(CorrectiveAction, sheet.id, populate_existing=True)
        form = None
    elif status == 200:
        flash(_("已%(action)s。", action=_(step.label)), "success")
        if not is_htmx():
            return redirect_to(url_for("capa.detail", number=sheet.number))
        db.session.expire_all()
        sheet = access.visible_sheet_or_404(number, current_user)
        resp = current_app.make_response(
            render_template("capa/_main.html", **panels.detail_context(sheet)))
        resp.headers["HX-Trigger"] = "work-changed"
        return resp
    if status == 403:
        abort(403, description=message)
    ctx = panels.detail_context(sheet, failed_action=action if form is not None else None,
                                failed_form=form, message=message)
    return render_template("capa/_main.html" if is_htmx() else "capa/detail.html", **ctx), status


@bp.route("/<number>/files/<int:attachment_id>/<variant>")
@login_required
def file(number: str, attachment_id: int, variant: str):
    sheet = access.visible_sheet_or_404(number, current_user)
    att = next((a for a in sheet.attachments if a.id == attachment_id), None)
    if att is None or variant not in ("original", "preview", "thumb"):
        abort(404)
    if variant == "original":
        return send_file(evidence.original_path(att.stored_name), mimetype=att.content_type,
                         download_name=att.original_name, as_attachment=not att.is_photo,
                         conditional=True)
    if not att.is_photo:
        abort(404)
    evidence.ensure_renditions(att.token, att.stored_name)
    path = evidence.preview_path(att.token) if variant == "preview" else evidence.thumb_path(att.token)
    return send_file(path, mimetype="image/jpeg", conditional=True)

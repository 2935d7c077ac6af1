"""The case list's export button: a streamed download, or for a big list a worker job with
its progress and a download when the file is ready. Thin: portal.reports.export does the work."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.auth.decorators import roles_required
from portal.cases.queries import CaseFilters
from portal.htmx import is_htmx, page_or_partial, redirect_to
from portal.i18n import locale_code
from portal.org.enums import Role
from portal.reports import export

bp = Blueprint("reports_export", __name__, url_prefix="/reports/export")

# Who may take cases away in a file: those who see reports (PLAN13), in their scope.
EXPORT_ROLES = (Role.LEADER, Role.QUALITY, Role.DESK, Role.ADMIN)
HTMX_STOP_POLLING = 286


@bp.route("/cases.<fmt>")
@login_required
@roles_required(*EXPORT_ROLES)
def cases(fmt: str):
    """The list's current filters, sort and scope; up to stream_max() rows streamed at once."""
    if fmt not in export.WRITERS:
        abort(404)
    f = CaseFilters.from_args(request.args)
    code = locale_code()
    rows = export.count_upto(current_user, f, export.stream_max() + 1)
    if rows <= export.stream_max():
        body = export.case_rows(current_user, f, code)
        export.record_export(current_user, f, fmt, rows)
        respond = export.csv_response if fmt == "csv" else export.xlsx_response
        return respond(export.export_filename(fmt, code), export.case_header(code), body)
    token = export.start_export(current_user, f, fmt, code)
    if token is None:
        return render_template("reports/export_job.html", job=None, token=None,
                               error=_("后台任务服务暂时不可用，无法导出这么多条记录。请缩小筛选范围后重试，或稍后再试。")), 503
    return redirect_to(url_for("reports_export.job", token=token))


def _own_job(token: str) -> dict:
    job = export.export_job(token)
    if job is None or job["user_id"] != current_user.id:
        abort(404)
    return job


@bp.route("/jobs/<token>")
@login_required
@roles_required(*EXPORT_ROLES)
def job(token: str):
    """The job's page; its progress block polls itself until the file is ready or the job failed."""
    job = _own_job(token)
    body, status = page_or_partial("reports/export_job.html", "reports/_export_progress.html",
                                   job=job, token=token, error=None)
    if is_htmx() and job["status"] in ("done", "failed"):
        status = HTMX_STOP_POLLING
    return body, status


@bp.route("/jobs/<token>/file")
@login_required
@roles_required(*EXPORT_ROLES)
def download(token: str):
    job = _own_job(token)
    path = export.export_path(token, job)
    if job["status"] != "done" or not path.exists():
        abort(404)
    return send_file(path, mimetype=export.WRITERS[job["format"]][1], as_attachment=True,
                     download_name=job["filename"], max_age=0)

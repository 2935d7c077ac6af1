"""The history (历史数据) and production volume pages: who reads reports sees them; quality and
system administrators import the old ledger and enter or import volumes."""
from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.reports_history import LedgerImportForm, VolumeForm, VolumeImportForm
from portal.admin.routes import _failed, _render_form, _status
from portal.auth.decorators import roles_required
from portal.batches.models import Product
from portal.catalog.rules import FieldError
from portal.errors import DomainError
from portal.extensions import db
from portal.htmx import redirect_to
from portal.reports import history, volumes
from portal.reports.routes import REPORT_ROLES

bp = Blueprint("reports_history", __name__, url_prefix="/reports/history")


def _editor() -> bool:
    return bool(current_user.roles & history.EDITORS)


def _template(header: list[str], name: str) -> Response:
    """A header row to fill in, UTF-8 with a BOM so Excel opens the Chinese right."""
    out = io.StringIO()
    csv.writer(out).writerow(header)
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def _refused(form, exc: DomainError):
    message = _failed(form, exc)
    return message, getattr(exc, "errors", None)


@bp.route("/", methods=["GET", "POST"])
@login_required
@roles_required(*REPORT_ROLES)
def ledger():
    form = LedgerImportForm()
    message, row_errors = None, None
    if request.method == "POST":
        _editor() or abort(403)
        if form.validate_on_submit():
            try:
                record = history.import_ledger(current_user, form.source.data, request.files.get(form.file.name))
            except DomainError as exc:
                message, row_errors = _refused(form, exc)
            else:
                flash(_("已导入 %(rows)s 行，合计 %(n)s 个月份×类别×分公司。", rows=f"{record.data_rows:,}",
                        n=f"{record.ledger_rows:,}"), "success")
                return redirect_to(url_for("reports_history.ledger"))
    first = history.first_case_month()
    return _render_form("reports/history.html", form, message, _status(), row_errors=row_errors,
                        imports=history.recent_imports(), months=history.ledger_months(), editor=_editor(),
                        first_month=first, sources=list(history.LedgerSource))


@bp.route("/template-<source>.csv")
@login_required
@roles_required(*REPORT_ROLES)
def ledger_template(source: str):
    source = history.LedgerSource.get(source) or abort(404)
    return _template(history.template_header(source), f"ledger-{source.value}.csv")


def _product_choices() -> list[tuple[str, str]]:
    products = db.session.execute(sa.select(Product).where(Product.active.is_(True)).order_by(Product.code))
    return [("", _("请选择"))] + [(str(p.id), f"{p.code} {p.display}") for p in products.scalars()]


@bp.route("/volumes", methods=["GET", "POST"])
@login_required
@roles_required(*REPORT_ROLES)
def volume_list():
    """Units per product and month: the entry form (filled from ?product=&month= to change a
    figure), the import, and the last twelve months with where each figure comes from."""
    form, upload = VolumeForm(), VolumeImportForm(prefix="upload")
    form.product_id.choices = _product_choices()
    message, row_errors = None, None
    if request.method == "GET" and request.args.get("product", "").isdigit():
        try:
            month = history.parse_month(request.args.get("month"), _("月份"))
        except FieldError:  # a hand-made link: an empty form
            month = None
        row = volumes.volume_at(int(request.args["product"]), month) if month else None
        form.product_id.data = request.args["product"]
        form.month.data = month.strftime("%Y-%m") if month else ""
        form.units.data, form.version.data = (str(row.units), str(row.version)) if row else ("", "")
    if request.method == "POST":
        _editor() or abort(403)
        if "upload-file" in request.files or request.form.get("upload-csrf_token"):
            if upload.validate_on_submit():
                try:
                    n = volumes.import_volumes(current_user, request.files.get(upload.file.name))
                except DomainError as exc:
                    message, row_errors = _refused(upload, exc)
                else:
                    flash(_("已导入 %(n)s 条产量。", n=f"{n:,}"), "success")
                    return redirect_to(url_for("reports_history.volume_list"))
        elif form.validate_on_submit():
            try:
                volumes.set_volume(current_user, form.product_id.data, form.month.data, form.units.data,
                                   form.version.data)
            except DomainError as exc:
                message = _failed(form, exc)
            else:
                flash(_("产量已保存。"), "success")
                return redirect_to(url_for("reports_history.volume_list"))
    return _render_form("reports/history_volumes.html", form, message, _status(), upload=upload,
                        row_errors=row_errors, rows=volumes.recent_units(), editor=_editor())


@bp.route("/volumes/template.csv")
@login_required
@roles_required(*REPORT_ROLES)
def volume_template():
    return _template([c.headers[0] for c in volumes.COLUMNS], "production-volumes.csv")

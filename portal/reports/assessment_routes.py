"""The department assessment pages (/reports/assessment): the month's table, its freezing and
signing, its PDF and export, and the penalty rules. Thin: portal.reports.assessment does the work."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.cases.models import Category
from portal.errors import DomainError
from portal.extensions import db
from portal.htmx import redirect_to
from portal.reports import assessment as asm
from portal.reports.routes import REPORT_ROLES
from portal.auth.decorators import roles_required

bp = Blueprint("reports_assessment", __name__, url_prefix="/reports/assessment")


def _month_or_404(text: str):
    return asm.parse_month(text) or abort(404)


def _page(month, message: str | None = None, status: int = 200):
    user = current_user._get_current_object()
    data = asm.table(month, user)
    may_freeze = (data["record"] is None and asm.is_quality_leader(user) and asm.month_over(month))
    return render_template("reports/assessment.html", month=month, data=data, message=message,
                           may_freeze=may_freeze, may_edit_rules=asm.may_edit_rules(user)), status


@bp.route("/")
@login_required
@roles_required(*REPORT_ROLES)
def index():
    month = asm.parse_month(request.args.get("month")) or asm.last_month()
    return _page(month)


@bp.route("/<month>/freeze", methods=["POST"])
@login_required
@roles_required(*REPORT_ROLES)
def freeze(month: str):
    first = _month_or_404(month)
    try:
        asm.freeze_month(current_user._get_current_object(), first, request.form.get("password", ""))
    except DomainError as exc:
        db.session.rollback()
        return _page(first, exc.message, exc.status)
    flash(_("%(month)s 的考核已冻结并签署。", month=month), "success")
    return redirect_to(url_for(".index", month=month))


@bp.route("/<month>/pdf")
@login_required
@roles_required(*REPORT_ROLES)
def pdf(month: str):
    first = _month_or_404(month)
    path = asm.month_pdf_path(first, current_user._get_current_object())
    return send_file(path, mimetype="application/pdf", conditional=True,
                     download_name=_("%(month)s-部门考核.pdf", month=month))


@bp.route("/<month>/export.<fmt>")
@login_required
@roles_required(*REPORT_ROLES)
def export(month: str, fmt: str):
    from portal.reports import export as writers
    first = _month_or_404(month)
    respond = {"csv": writers.csv_response, "xlsx": writers.xlsx_response}.get(fmt) or abort(404)
    data = asm.table(first, current_user._get_current_object())
    return respond(_("%(month)s-部门考核.%(ext)s", month=month, ext=fmt), asm.export_header(),
                   asm.export_rows(data))


# ---------------------------------------------------------------- penalty rules

def _rules_page(message: str | None = None, status: int = 200, errors: dict | None = None):
    if not asm.may_edit_rules(current_user):
        abort(403)
    rules = db.session.execute(sa.select(asm.PenaltyRule).order_by(asm.PenaltyRule.id)).scalars().all()
    categories = db.session.execute(sa.select(Category).where(Category.active.is_(True))
                                    .order_by(Category.parent_id.is_not(None), Category.sort)).scalars().all()
    return render_template("reports/assessment_rules.html", rules=rules, categories=categories,
                           targets=list(asm.Target), bases=list(asm.Basis), message=message,
                           errors=errors or {}, form=request.form if request.method == "POST" else {}), status


def _rule_form() -> dict:
    f = request.form
    return {"name": f.get("name"), "target": f.get("target"), "basis": f.get("basis"),
            "hours": f.get("hours"), "category_id": f.get("category_id"), "amount": f.get("amount")}


@bp.route("/rules")
@login_required
def rules():
    return _rules_page()


@bp.route("/rules", methods=["POST"])
@login_required
def rule_new():
    try:
        rule = asm.add_rule(current_user._get_current_object(), **_rule_form())
    except DomainError as exc:
        db.session.rollback()
        return _rules_page(exc.message, exc.status, exc.field_errors)
    flash(_("已添加考核规则「%(name)s」。", name=rule.name), "success")
    return redirect_to(url_for(".rules"))


@bp.route("/rules/<int:rule_id>", methods=["POST"])
@login_required
def rule_edit(rule_id: int):
    rule = db.session.get(asm.PenaltyRule, rule_id) or abort(404)
    try:
        asm.update_rule(current_user._get_current_object(), rule, request.form.get("version", type=int),
                        active=request.form.get("active") == "1", **_rule_form())
    except DomainError as exc:
        db.session.rollback()
        return _rules_page(exc.message, exc.status, exc.field_errors)
    flash(_("已保存考核规则「%(name)s」。", name=rule.name), "success")
    return redirect_to(url_for(".rules"))

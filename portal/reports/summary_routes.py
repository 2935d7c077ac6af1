"""汇总报告: the weekly and monthly summaries and the daily report, any period, as PDFs for
the reader's own cases (portal/reports/summary.py); the same files the leaders are mailed."""
from __future__ import annotations

from flask import Blueprint, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.auth.decorators import roles_required
from portal.clock import local, utcnow
from portal.reports.routes import REPORT_ROLES
from portal.reports.summary import KINDS, TITLES, Period, pdf_path

bp = Blueprint("reports_summary", __name__, url_prefix="/reports/summaries")
RECENT = {"weekly": 8, "monthly": 6, "daily": 7}  # periods listed on the page per kind


def _recent() -> dict[str, list[Period]]:
    out = {}
    for kind in KINDS:
        periods = [Period.last_complete(kind)]
        while len(periods) < RECENT[kind]:
            periods.append(periods[-1].previous())
        out[kind] = periods
    return out


@bp.route("/")
@login_required
@roles_required(*REPORT_ROLES)
def index():
    return render_template("reports/summaries.html", recent=_recent(), error=None, args={})


@bp.route("/download")
@login_required
@roles_required(*REPORT_ROLES)
def download():
    """?kind=weekly&period=2026-W48 (monthly: 2026-11, daily: 2026-11-30)."""
    kind, key = request.args.get("kind", ""), request.args.get("period", "").strip()
    period = Period.parse(kind, key) if kind in KINDS else None
    error = None
    if period is None:
        error = _("请选择报告类型，并按格式填写期间：周报如 2026-W48，月报如 2026-11，日报如 2026-11-30。")
    elif period.start > local(utcnow()).date():
        error = _("所选期间尚未开始，无法生成报告。")
    if error:
        return render_template("reports/summaries.html", recent=_recent(), error=error,
                               args=request.args), 400
    path = pdf_path(current_user._get_current_object(), period)
    return send_file(path, mimetype="application/pdf", conditional=True, as_attachment=True,
                     download_name=f"{TITLES[kind]}-{period.key}.pdf")

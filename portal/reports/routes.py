"""The reports pages: the dashboard (G); the other reports register their own blueprints
and add a tab to templates/reports/_tabs.html."""
from __future__ import annotations

import click
from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from portal.auth.decorators import roles_required
from portal.cases import panels
from portal.org.enums import Role
from portal.reports import dashboard as dash, rollup

bp = Blueprint("reports", __name__, url_prefix="/reports")
# Who may see reports (PLAN: leaders, quality, the complaint desk, admin), scoped as the list.
REPORT_ROLES = (Role.LEADER, Role.QUALITY, Role.DESK, Role.ADMIN)


@bp.route("/")
@login_required
@roles_required(*REPORT_ROLES)
def dashboard():
    f = dash.DashFilters.from_args(request.args)
    choices = panels.list_choices()
    return render_template("reports/dashboard.html", f=f, data=dash.dashboard(current_user, f),
                           **{k: choices[k] for k in ("branch_choices", "product_choices",
                                                      "category_choices", "unit_choices")})


@bp.cli.command("rollup")
def rebuild_rollup():
    """Rebuild the dashboard's monthly rollup from the cases (after a bulk load)."""
    click.echo(f"report_month rebuilt from {rollup.rebuild():,} cases")

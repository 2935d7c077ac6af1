"""My work: one page of the cases waiting for me, filtered by step, overdue or a search;
the badge. Thin: the queries live with the cases (portal/cases/queries.py)."""
from __future__ import annotations

from math import ceil

from flask import current_app, make_response, render_template, request
from flask_login import current_user, login_required

from portal.cases.queries import WorkFilters, inbox_count, inbox_page, inbox_steps
from portal.htmx import is_htmx, page_or_partial
from portal.work import bp


@bp.route("/work")
@login_required
def index():
    """Everything waiting for me, nearest time limit first, a page at a time."""
    f = WorkFilters.from_args(request.args)
    page_size = current_app.config["PAGE_SIZE"]
    rows, total = inbox_page(current_user, f, page_size)
    pages = max(1, ceil(total / page_size))
    # The step options (with their counts) are only drawn on the full page.
    steps = [] if is_htmx() else inbox_steps(current_user)
    return page_or_partial("work/index.html", "work/_rows.html", rows=rows, total=total, pages=pages,
                           has_next=f.page < pages, f=f, steps=steps)


@bp.route("/work/count")
@login_required
def count():
    resp = make_response(render_template("work/_badge.html", count=inbox_count(current_user)))
    resp.headers["Cache-Control"] = "no-store"
    return resp

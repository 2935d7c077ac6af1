"""Bell pages: the list (newest first, a page at a time), the badge, opening one message.
Thin: the queries and the read marks live in portal/notify/bell.py."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.bell import bp
from portal.cases import access
from portal.cases.models import Case
from portal.extensions import db
from portal.htmx import page_or_partial, redirect_to
from portal.notify import bell


def _page() -> int:
    value = request.args.get("page", "1")
    return max(1, min(int(value), 10_000)) if value.isdigit() else 1


@bp.route("/")
@login_required
def index():
    page = _page()
    rows, has_next = bell.messages(current_user, page, current_app.config["PAGE_SIZE"])
    numbers = _case_numbers(rows)
    body, status = page_or_partial("bell/index.html", "bell/_list.html", rows=rows, page_no=page,
                                   has_next=has_next, numbers=numbers,
                                   unread=bell.unread_count(current_user))
    resp = make_response(body, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _case_numbers(rows) -> dict[int, str]:
    ids = {r.case_id for r in rows if r.case_id}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Case.id, Case.number).where(Case.id.in_(ids))).all())


@bp.route("/count")
@login_required
def count():
    resp = make_response(render_template("bell/_badge.html", count=bell.unread_count(current_user)))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/<int:message_id>")
@login_required
def open(message_id: int):  # noqa: A001 - the URL reads /bell/<id>
    """Opening a message marks it read and goes to its case."""
    msg = bell.open_message(current_user, message_id)
    if msg is None:
        abort(404)
    case = db.session.get(Case, msg.case_id) if msg.case_id else None
    if case is None:
        from portal.capa.queries import sheet_of_message  # a corrective-action sheet's step
        number = sheet_of_message(msg, current_user)
        return redirect_to(url_for("capa.detail", number=number) if number else url_for("bell.index"))
    if not access.can_view(case, current_user):
        # Sent on to another department since: the message stays, the case is no longer theirs.
        flash(_("投诉 %(number)s 已不在您的处理范围内。", number=case.number), "warning")
        return redirect_to(url_for("bell.index"))
    return redirect_to(url_for("cases.detail", number=case.number))


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all():
    n = bell.mark_all_read(current_user)
    flash(_("已将 %(n)s 条消息标为已读。", n=n), "success")
    resp = redirect_to(url_for("bell.index"))
    resp.headers["HX-Trigger"] = "bell-changed"
    return resp

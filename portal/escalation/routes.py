"""Admin page of the escalation ladder (/admin/ladder). Thin: portal.escalation.config does the work."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _

from portal.admin import bp
from portal.admin.routes import _actor, admin_only
from portal.errors import DomainError
from portal.escalation import config
from portal.escalation.enums import Who
from portal.escalation.models import LADDER_CHANNELS, LadderLevel, LadderRecipient
from portal.escalation.history import CHANNEL
from portal.extensions import db
from portal.htmx import redirect_to
from portal.org.enums import Role
from portal.org.models import User
from portal.org.tree import unit_tree


def _page(message: str | None = None, status: int = 200, errors: dict | None = None):
    from portal.batches.models import Product
    levels = db.session.execute(sa.select(LadderLevel).order_by(LadderLevel.level)).scalars().all()
    people = db.session.execute(sa.select(User).where(User.active.is_(True)).order_by(User.unit_id, User.name)
                                ).unique().scalars().all()
    products = db.session.execute(sa.select(Product).where(Product.active.is_(True)).order_by(Product.code)
                                  ).scalars().all()
    return render_template("admin/escalation.html", levels=levels, message=message, errors=errors or {},
                           who_choices=list(Who), roles=list(Role), units=unit_tree().ordered(),
                           people=people, products=products, channels=LADDER_CHANNELS,
                           channel_labels=CHANNEL, form=request.form if request.method == "POST" else {}), status


def _int(name: str) -> int | None:
    return request.form.get(name, type=int) or None


def _done(text: str):
    flash(text, "success")
    return redirect_to(url_for("admin.ladder"))


def _refused(exc: DomainError):
    db.session.rollback()
    return _page(exc.message, 400, exc.field_errors)


@bp.route("/ladder")
@admin_only
def ladder():
    return _page()


@bp.route("/ladder/levels", methods=["POST"])
@admin_only
def ladder_level_new():
    try:
        row = config.add_level(_actor(), name=request.form.get("name"), after_minutes=request.form.get("after_minutes"))
    except DomainError as exc:
        return _refused(exc)
    return _done(_("已添加第 %(level)s 级。", level=row.level))


@bp.route("/ladder/levels/<int:level_id>", methods=["POST"])
@admin_only
def ladder_level_edit(level_id: int):
    row = db.session.get(LadderLevel, level_id) or abort(404)
    try:
        config.update_level(_actor(), row, name=request.form.get("name"),
                            after_minutes=request.form.get("after_minutes"),
                            active=request.form.get("active") == "1")
    except DomainError as exc:
        return _refused(exc)
    return _done(_("已保存第 %(level)s 级。", level=row.level))


@bp.route("/ladder/levels/<int:level_id>/recipients", methods=["POST"])
@admin_only
def ladder_recipient_new(level_id: int):
    row = db.session.get(LadderLevel, level_id) or abort(404)
    try:
        config.add_recipient(_actor(), row, who=request.form.get("who"), role=request.form.get("role"),
                             unit_id=_int("unit_id"), user_id=_int("user_id"), product_id=_int("product_id"),
                             line=request.form.get("line"), channels=request.form.getlist("channels"))
    except DomainError as exc:
        return _refused(exc)
    return _done(_("已为第 %(level)s 级添加通知对象。", level=row.level))


@bp.route("/ladder/recipients/<int:recipient_id>/remove", methods=["POST"])
@admin_only
def ladder_recipient_remove(recipient_id: int):
    rec = db.session.get(LadderRecipient, recipient_id) or abort(404)
    level = rec.level_row.level
    try:
        config.remove_recipient(_actor(), rec)
    except DomainError as exc:
        return _refused(exc)
    return _done(_("已从第 %(level)s 级删除通知对象。", level=level))

"""Admin pages for the group robots (企业微信, 钉钉, 飞书) that hear a unit's messages.
Thin: portal.notify.robot_settings does the work."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _

from forms.robots import RobotForm
from portal.admin import bp
from portal.admin.routes import _actor, _failed, _render_form, _status, admin_only
from portal.errors import DomainError
from portal.extensions import db
from portal.htmx import redirect_to
from portal.notify import robot_settings
from portal.notify.models import UnitRobot
from portal.notify.robot_settings import RobotVendor, mask_url
from portal.org.tree import unit_tree


def get_robot(robot_id: int) -> UnitRobot:
    return db.session.get(UnitRobot, robot_id) or abort(404)


@bp.route("/robots")
@admin_only
def robots():
    rows = db.session.execute(sa.select(UnitRobot).order_by(UnitRobot.unit_id, UnitRobot.id)).scalars().all()
    tree = unit_tree()
    order = {u.id: i for i, (u, _depth) in enumerate(tree.ordered(active_only=False))}
    rows.sort(key=lambda r: (order.get(r.unit_id, 1 << 30), r.id))
    return render_template("admin/robots.html", rows=rows, units=tree.units, mask_url=mask_url,
                           vendor=RobotVendor.get)


def _render_robot_form(form, robot: UnitRobot | None, message: str | None = None, status: int = 200):
    return _render_form("admin/robot_form.html", form, message, status, robot=robot,
                        masked=mask_url(robot.url) if robot else None)


def _units(robot: UnitRobot | None):
    keep = robot.unit_id if robot else None
    return [(u, d) for u, d in unit_tree().ordered(active_only=False) if u.active or u.id == keep]


@bp.route("/robots/new", methods=["GET", "POST"])
@admin_only
def robot_new():
    form = RobotForm(units=_units(None), data={"unit_id": request.args.get("unit", "")})
    message = None
    if form.validate_on_submit():
        try:
            robot = robot_settings.add_robot(_actor(), form.robot_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已添加群机器人 %(name)s。", name=robot.name), "success")
            return redirect_to(url_for("admin.robots"))
    return _render_robot_form(form, None, message, _status())


@bp.route("/robots/<int:robot_id>", methods=["GET", "POST"])
@admin_only
def robot_edit(robot_id: int):
    robot = get_robot(robot_id)
    # The secret is never sent back to the browser: blank keeps it.
    form = RobotForm(units=_units(robot), data={"unit_id": str(robot.unit_id), "vendor": robot.vendor,
                                                "name": robot.name, "url": robot.url})
    message = None
    if form.validate_on_submit():
        try:
            robot_settings.update_robot(_actor(), robot, form.robot_data())
        except DomainError as exc:
            message = _failed(form, exc)
        else:
            flash(_("已保存群机器人 %(name)s。", name=robot.name), "success")
            return redirect_to(url_for("admin.robots"))
    form.secret.data = ""
    return _render_robot_form(form, robot, message, _status())


@bp.route("/robots/<int:robot_id>/active", methods=["POST"])
@admin_only
def robot_toggle(robot_id: int):
    robot = get_robot(robot_id)
    activate = request.form.get("active") == "1"
    try:
        robot_settings.set_robot_active(_actor(), robot, activate)
    except DomainError as exc:
        form = RobotForm(formdata=None, units=_units(robot))
        return _render_robot_form(form, robot, _failed(form, exc), 400)
    flash(_("已启用群机器人 %(name)s。", name=robot.name) if activate
          else _("已停用群机器人 %(name)s。", name=robot.name), "success")
    return redirect_to(url_for("admin.robots"))

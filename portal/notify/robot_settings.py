"""Configuring a unit's group robots (admin): each change checked, audited and committed as one.

The secret is never shown back or written to the audit trail; the trail says whether one is
set. A webhook address carries the robot's key (企业微信) or token (钉钉, 飞书), so lists show
it masked."""
from __future__ import annotations

import urllib.parse

from flask_babel import gettext as _

from portal.errors import PermissionDenied, ValidationError
from portal.extensions import db
from portal.labels import LabeledEnum, N_
from portal.notify.models import UnitRobot
from portal.org.enums import Role
from portal.org.models import OrgUnit, User
from portal.signing import audit


class RobotVendor(LabeledEnum):
    WECOM = "wecom", N_("企业微信")
    DINGTALK = "dingtalk", N_("钉钉")
    FEISHU = "feishu", N_("飞书")


# What each vendor's webhook address contains (their robot settings page shows it so).
_ADDRESS_HINTS = {
    RobotVendor.WECOM: ("key", None),
    RobotVendor.DINGTALK: ("access_token", None),
    RobotVendor.FEISHU: (None, "/hook/"),
}


def mask_url(url: str) -> str:
    """The address with its key or token cut to the last 4 characters."""
    parts = urllib.parse.urlsplit(url)
    query = "&".join(f"{k}=…{v[-4:]}" if k in ("key", "access_token") else f"{k}={v}"
                     for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    path = parts.path
    if "/hook/" in path:
        head, _sep, token = path.rpartition("/hook/")
        path = f"{head}/hook/…{token[-4:]}"
    return urllib.parse.urlunsplit(parts._replace(path=path, query=query))


def _require_admin(actor: User) -> None:
    if actor is None or not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("只有系统管理员可以配置群机器人。"))


def _check(data: dict, robot: UnitRobot | None) -> dict:
    errors = {}
    unit = db.session.get(OrgUnit, int(data["unit_id"])) if str(data.get("unit_id") or "").isdigit() else None
    if unit is None:
        errors["unit_id"] = _("请选择机构")
    elif not unit.active and (robot is None or robot.unit_id != unit.id):
        errors["unit_id"] = _("机构 %(name)s 已停用", name=unit.name)
    vendor = RobotVendor.get(data.get("vendor"))
    if vendor is None:
        errors["vendor"] = _("请选择机器人类型")
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = _("请填写名称")
    url = (data.get("url") or "").strip()
    secret = (data.get("secret") or "").strip() or None
    parts = urllib.parse.urlsplit(url)
    if not url:
        errors["url"] = _("请填写 Webhook 地址")
    elif parts.scheme not in ("http", "https") or not parts.netloc:
        errors["url"] = _("Webhook 地址应以 https:// 开头")
    elif vendor is not None:
        param, path = _ADDRESS_HINTS[vendor]
        query = dict(urllib.parse.parse_qsl(parts.query))
        if param and not query.get(param):
            errors["url"] = _("%(vendor)s 的 Webhook 地址应包含 %(param)s=…（从群机器人设置中复制完整地址）",
                              vendor=vendor.label, param=param)
        elif path and path not in parts.path:
            errors["url"] = _("%(vendor)s 的 Webhook 地址应包含 %(path)s…（从群机器人设置中复制完整地址）",
                              vendor=vendor.label, path=path)
    if vendor == RobotVendor.WECOM and secret:
        errors["secret"] = _("企业微信群机器人不加签：密钥就是地址中的 key，此处请留空")
    elif vendor == RobotVendor.DINGTALK and secret and not secret.startswith("SEC"):
        errors["secret"] = _("钉钉的加签密钥以 SEC 开头（机器人安全设置中“加签”一栏）")
    if errors:
        message = next(iter(errors.values())) if len(errors) == 1 else _("请修改标出的项目。")
        raise ValidationError(message, errors)
    clean = {"unit_id": unit.id, "vendor": vendor.value, "name": name[:100], "url": url[:500]}
    if secret is not None or robot is None or vendor == RobotVendor.WECOM:
        # A blank secret on edit keeps the one set (it is never shown back).
        clean["secret"] = secret
    return clean


def _snapshot(robot: UnitRobot) -> dict:
    return {"unit_id": robot.unit_id, "vendor": robot.vendor, "name": robot.name,
            "url": mask_url(robot.url), "secret_set": bool(robot.secret), "active": robot.active}


def _save(action: str, actor: User, robot: UnitRobot, before: dict | None) -> None:
    db.session.flush()
    after = _snapshot(robot)
    if before is not None:
        changed = {k for k in after if before.get(k) != after[k]}
        if not changed:
            db.session.rollback()
            return
        before, after = {k: before[k] for k in changed}, {k: after[k] for k in changed}
    audit.record(action, actor=actor, object_type="unit_robot", object_id=robot.id,
                 before=before, after=after)
    db.session.commit()


def add_robot(actor: User, data: dict) -> UnitRobot:
    _require_admin(actor)
    robot = UnitRobot(active=True, **_check(data, None))
    db.session.add(robot)
    _save("robot_added", actor, robot, None)
    return robot


def update_robot(actor: User, robot: UnitRobot, data: dict) -> UnitRobot:
    _require_admin(actor)
    clean = _check(data, robot)
    before = _snapshot(robot)
    if clean["vendor"] != robot.vendor and "secret" not in clean:
        clean["secret"] = None  # another vendor's secret means nothing here
    for key, value in clean.items():
        setattr(robot, key, value)
    _save("robot_updated", actor, robot, before)
    return robot


def set_robot_active(actor: User, robot: UnitRobot, active: bool) -> UnitRobot:
    """A stopped robot gets nothing more; messages already written to it fail visibly."""
    _require_admin(actor)
    before = _snapshot(robot)
    robot.active = active
    _save("robot_activated" if active else "robot_deactivated", actor, robot, before)
    return robot

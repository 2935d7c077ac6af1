"""An administrator configures a unit's group robots in the browser: wrong addresses and
secrets are refused in Chinese with nothing saved, the secret is never shown back, every
change is audited, and a stopped robot gets nothing more."""
import json

import sqlalchemy as sa

from portal.extensions import db
from portal.notify.models import UnitRobot
from portal.notify.outbox import robots_for_unit
from portal.signing.models import AuditEvent
from tests.conftest import signed_in, unit

DING_URL = "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef5a7c"
SECRET = "SEC8f2a0c4e6b1d3f5a7c9e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a"


def robot_form(**overrides):
    data = {"unit_id": str(unit("PROD1").id), "vendor": "dingtalk", "name": "生产一部客诉群",
            "url": DING_URL, "secret": SECRET}
    data.update(overrides)
    return data


def robots() -> list[UnitRobot]:
    return db.session.execute(sa.select(UnitRobot).order_by(UnitRobot.id)).scalars().all()


def test_admin_adds_a_dingtalk_robot_and_the_list_hides_its_token_and_secret(app):
    client, token = signed_in(app, "admin")

    resp = client.post("/admin/robots/new", data={**robot_form(), "csrf_token": token})

    assert resp.status_code == 303
    [robot] = robots()
    assert (robot.vendor, robot.url, robot.secret, robot.active) == ("dingtalk", DING_URL, SECRET, True)
    assert robots_for_unit(unit("PROD1").id) == [robot]
    page = client.get("/admin/robots").get_data(as_text=True)
    assert "生产一部客诉群" in page and "access_token=…5a7c" in page and "已设置" in page
    assert "0123456789abcdef5a7c" not in page and SECRET not in page
    edit = client.get(f"/admin/robots/{robot.id}").get_data(as_text=True)
    assert SECRET not in edit and "留空则保留原密钥" in edit
    [event] = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "robot_added")).scalars().all()
    assert SECRET not in json.dumps(event.after, ensure_ascii=False) and event.after["secret_set"] is True


def test_wrong_address_or_secret_is_refused_in_chinese_and_nothing_is_saved(app):
    client, token = signed_in(app, "admin")

    cases = [
        (robot_form(url="https://oapi.dingtalk.com/robot/send"), "钉钉 的 Webhook 地址应包含 access_token="),
        (robot_form(url="oapi.dingtalk.com/robot/send?access_token=x"), "Webhook 地址应以 https:// 开头"),
        (robot_form(secret="abc"), "钉钉的加签密钥以 SEC 开头"),
        (robot_form(vendor="wecom", url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a"),
         "企业微信群机器人不加签"),
        (robot_form(vendor="feishu", url="https://open.feishu.cn/open-apis/bot/v2/", secret=""),
         "飞书 的 Webhook 地址应包含 /hook/"),
        (robot_form(vendor="", name=""), "请修改标出的项目"),
    ]
    for data, message in cases:
        resp = client.post("/admin/robots/new", data={**data, "csrf_token": token})
        assert resp.status_code == 400, data
        assert message in resp.get_data(as_text=True), (message, data)
    assert robots() == []


def test_blank_secret_keeps_it_and_a_stopped_robot_is_no_longer_used(app):
    client, token = signed_in(app, "admin")
    client.post("/admin/robots/new", data={**robot_form(), "csrf_token": token})
    [robot] = robots()

    resp = client.post(f"/admin/robots/{robot.id}", data={**robot_form(name="质量部客诉群", secret=""),
                                                         "csrf_token": token})
    assert resp.status_code == 303
    robot = db.session.get(UnitRobot, robot.id, populate_existing=True)
    assert (robot.name, robot.secret) == ("质量部客诉群", SECRET)

    resp = client.post(f"/admin/robots/{robot.id}/active", data={"active": "0", "csrf_token": token})
    assert resp.status_code == 303
    assert robots_for_unit(unit("PROD1").id) == []
    actions = db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.object_type == "unit_robot")
                                 .order_by(AuditEvent.seq)).scalars().all()
    assert actions == ["robot_added", "robot_updated", "robot_deactivated"]


def test_only_an_administrator_may_see_or_change_robots(app):
    client, token = signed_in(app, "leader_qa")

    assert client.get("/admin/robots").status_code == 403
    assert client.post("/admin/robots/new", data={**robot_form(), "csrf_token": token}).status_code == 403
    assert robots() == []


def test_robot_pages_read_english_for_an_english_reader(app):
    import re

    from tests.conftest import csrf_from, leftover_chinese, stored_texts
    client, _ = signed_in(app, "admin")
    client.get("/lang/en")
    client.post("/admin/robots/new", data={**robot_form(name="Production 1 group"),
                                           "csrf_token": csrf_from(client, "/admin/robots/new")})
    [robot] = robots()
    data = stored_texts()
    problems = {}
    for url in ("/admin/robots", "/admin/robots/new", f"/admin/robots/{robot.id}"):
        html = client.get(url).get_data(as_text=True)
        main = re.search(r'<main id="main".*?</main>', html, re.S).group(0)
        if left := leftover_chinese(main, data):
            problems[url] = left
    resp = client.post("/admin/robots/new", data={**robot_form(url="https://oapi.dingtalk.com/robot/send", secret="x"),
                                                  "csrf_token": csrf_from(client, "/admin/robots/new")})
    assert resp.status_code == 400
    main = re.search(r'<main id="main".*?</main>', resp.get_data(as_text=True), re.S).group(0)
    assert "access_token" in main
    if left := leftover_chinese(main, data):
        problems["POST /admin/robots/new"] = left
    assert not problems, problems

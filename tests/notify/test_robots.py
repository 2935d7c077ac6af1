"""Group robots of a unit (企业微信, 钉钉, 飞书): each webhook gets the case, signed as its vendor
documents, checked by a local server that verifies the signature as the vendor would."""
import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.notify.delivery import RETRY_AFTER, deliver_due
from portal.notify.models import OutboxAttempt, OutboxMessage, UnitRobot
from portal.notify.outbox import notify_robots, robots_for_unit
from portal.notify.robots import RobotError, dingtalk_sign, feishu_sign, send_robot
from tests.conftest import make_case, unit

DING_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
FEISHU_SECRET = "fs-secret-1234"


def vendor_checks_dingtalk(path: str, secret: str) -> None:
    """钉钉's check: timestamp (ms) within an hour, sign = Base64(HmacSHA256(secret,
    timestamp + "\\n" + secret)), sent urlencoded in the query."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    timestamp = query["timestamp"][0]
    assert abs(int(timestamp) / 1000 - time.time()) < 3600
    expected = base64.b64encode(hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode("utf-8"),
                                         hashlib.sha256).digest()).decode()
    assert query["sign"][0] == expected
    assert query["access_token"] == ["tok-1"]


def vendor_checks_feishu(body: dict, secret: str) -> None:
    """飞书's check: timestamp (s) within an hour, sign = Base64(HmacSHA256 keyed by
    timestamp + "\\n" + secret over an empty string), in the body."""
    assert abs(int(body["timestamp"]) - time.time()) < 3600
    key = f"{body['timestamp']}\n{secret}".encode("utf-8")
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def add_robots(sink_url: str) -> list[UnitRobot]:
    prod1 = unit("PROD1")
    robots = [
        UnitRobot(unit_id=prod1.id, vendor="wecom", name="生产一部企业微信群",
                  url=f"{sink_url}cgi-bin/webhook/send?key=693a91f6-7xxx"),
        UnitRobot(unit_id=prod1.id, vendor="dingtalk", name="生产一部钉钉群",
                  url=f"{sink_url}robot/send?access_token=tok-1", secret=DING_SECRET),
        UnitRobot(unit_id=prod1.id, vendor="feishu", name="生产一部飞书群",
                  url=f"{sink_url}open-apis/bot/v2/hook/abc", secret=FEISHU_SECRET),
        UnitRobot(unit_id=prod1.id, vendor="wecom", name="停用的群", url=f"{sink_url}old", active=False),
    ]
    db.session.add_all(robots)
    db.session.commit()
    return robots


def test_each_robot_of_the_unit_gets_the_case_signed_as_its_vendor_expects(app, http_sink, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_BASE_URL", "https://kesu.example.com")
    add_robots(http_sink.url)
    case = make_case()
    http_sink.answer({"errcode": 0, "errmsg": "ok"})
    http_sink.answer({"errcode": 0, "errmsg": "ok"})
    http_sink.answer({"code": 0, "msg": "success", "data": {}})

    robots = robots_for_unit(unit("PROD1").id)
    assert [r.vendor for r in robots] == ["wecom", "dingtalk", "feishu"]  # not the inactive one
    notify_robots(robots, key_prefix=f"case:{case.id}:escalation:1", kind="escalation",
                  subject=f"【客诉升级】{case.number}", body=f"投诉 {case.number} 已超时，升级至一级。",
                  case_id=case.id)
    db.session.commit()
    deliver_due()

    wecom, ding, feishu = http_sink.requests
    link = f"https://kesu.example.com/cases/{case.number}"
    assert wecom[0] == "/cgi-bin/webhook/send?key=693a91f6-7xxx"
    sent = json.loads(wecom[2])
    assert sent["msgtype"] == "text"
    assert sent["text"]["content"] == f"【客诉升级】{case.number}\n投诉 {case.number} 已超时，升级至一级。\n{link}"

    vendor_checks_dingtalk(ding[0], DING_SECRET)
    assert json.loads(ding[2])["text"]["content"].endswith(link)

    body = json.loads(feishu[2])
    vendor_checks_feishu(body, FEISHU_SECRET)
    assert body["msg_type"] == "text" and body["content"]["text"].endswith(link)

    rows = db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.channel == "robot")).scalars().all()
    assert {(r.status, r.kind, r.recipient_id) for r in rows} == {("sent", "escalation", None)}


def test_a_refused_signature_is_recorded_and_retried(app, http_sink):
    add_robots(http_sink.url)
    case = make_case()
    ding = [r for r in robots_for_unit(unit("PROD1").id) if r.vendor == "dingtalk"]
    [msg] = notify_robots(ding, key_prefix=f"case:{case.id}:reminder:50", kind="reminder",
                          subject="提醒", body="时限过半", case_id=case.id)
    db.session.commit()
    http_sink.answer({"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/]"})

    deliver_due()

    row = db.session.get(OutboxMessage, msg.id, populate_existing=True)
    assert row.status == "failed"
    assert "dingtalk 310000: sign not match" in row.provider_response

    clock.travel(RETRY_AFTER[0] + timedelta(seconds=1))
    deliver_due()
    attempts = db.session.execute(sa.select(OutboxAttempt.attempt, OutboxAttempt.outcome)
                                  .where(OutboxAttempt.message_id == msg.id)
                                  .order_by(OutboxAttempt.attempt)).all()
    assert [tuple(a) for a in attempts] == [(1, "failed"), (2, "sent")]


def test_signatures_follow_the_documented_recipes():
    # 钉钉: urlencoded in the query; 飞书: plain Base64 in the body.
    ts = 1700000000000
    raw = base64.b64encode(hmac.new(b"SECabc", f"{ts}\nSECabc".encode(), hashlib.sha256).digest()).decode()
    assert dingtalk_sign(ts, "SECabc") == urllib.parse.quote_plus(raw)
    assert "+" not in dingtalk_sign(ts, "SECabc") and "/" not in dingtalk_sign(ts, "SECabc")
    key = f"{ts // 1000}\nabc".encode()
    assert feishu_sign(ts // 1000, "abc") == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def test_unknown_vendor_and_unreachable_robot_raise(http_sink):
    with pytest.raises(RobotError, match="unknown robot vendor"):
        send_robot("slack", http_sink.url, None, "x")
    http_sink.close()
    with pytest.raises(RobotError):
        send_robot("wecom", http_sink.url, None, "x")

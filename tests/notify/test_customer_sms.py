"""The customer told: an acknowledgement SMS at intake (number, when they will hear back) and a
message at closing, for the channels configured (the hotline by default), one segment each."""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from portal.cases.enums import Channel, Kind, Klass, Validity
from portal.cases.models import Case
from portal.clock import SHANGHAI, as_utc
from portal.extensions import db
from portal.notify import customer
from portal.notify.delivery import deliver_due
from portal.notify.models import OutboxMessage
from portal.notify.templates import LONG_SEGMENT, SEGMENT
from portal.steps import Clock
from tests.conftest import category, make_case, make_case_at, post_intake, short_policy, user


SIGNATURE = "【示例食品股份有限】"  # the longest sign name the templates leave room for


def told(case) -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.kind == "customer")
        .order_by(OutboxMessage.id)).scalars().all()


def test_hotline_caller_gets_the_number_and_when_they_hear_back_by_sms(app, as_user, http_sink, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "http")
    monkeypatch.setitem(app.config, "SMS_HTTP_URL", http_sink.url)
    short_policy(Clock.SOLUTION, 240, calendar="24x7")  # an accepted solution within 4 hours
    desk = as_user("desk")
    assert post_intake(desk, channel="hotline", customer_phone="139 1234 5678").status_code == 303
    case = db.session.execute(sa.select(Case)).unique().scalar_one()
    [msg] = told(case)
    assert (msg.channel, msg.address, msg.recipient_id, msg.status) == ("sms", "13912345678", None, "pending")
    promised = (as_utc(case.received_at) + timedelta(hours=4)).astimezone(SHANGHAI).strftime("%m-%d %H:%M")
    from portal.customer.links import current_link
    link = f"{app.config['PORTAL_BASE_URL']}/p/{current_link(case.id).token}"  # issue 14: their progress page
    assert msg.body == f"您的投诉已受理，编号{case.number}，我们将于{promised}前联系您。查看进度：{link}"
    assert len(SIGNATURE + msg.body) <= 2 * LONG_SEGMENT

    deliver_due()  # the sweep, in process: the gateway hears it
    [(_path, _headers, body)] = http_sink.requests
    assert json.loads(body) == {"phone": "13912345678", "text": msg.body}
    db.session.expire_all()
    assert db.session.get(OutboxMessage, msg.id).status == "sent"


def test_a_rep_in_the_field_sends_nothing_by_default(app):
    case = make_case()  # rep_cd, on the spot with the customer
    assert case.channel == Channel.FIELD and told(case) == []


def test_channels_are_a_setting(app, monkeypatch):
    monkeypatch.setitem(app.config, "CUSTOMER_SMS_CHANNELS", "phone, wechat")
    hotline = make_case("desk", channel=Channel.HOTLINE)
    phone = make_case("desk", channel=Channel.PHONE, customer_phone="13800138000")
    assert told(hotline) == [] and len(told(phone)) == 1
    monkeypatch.setitem(app.config, "CUSTOMER_SMS_CHANNELS", "")
    assert told(make_case("desk", channel=Channel.PHONE)) == []


def test_a_landline_gets_no_sms(app):
    case = make_case("desk", channel=Channel.HOTLINE, customer_phone="0371-5555 1234")
    assert told(case) == []


def test_the_customer_is_told_when_the_case_closes(app, monkeypatch):
    monkeypatch.setitem(app.config, "CUSTOMER_SMS_CHANNELS", "field")
    case = make_case_at("closed")
    ack, closed = told(case)
    assert ack.key.endswith(":customer:ack")
    assert closed.body == f"您的投诉{case.number}已办结，感谢您的反馈。如有疑问请致电800-800-1234。"
    assert closed.address == "13912345678"
    # Reopening tells the customer nothing (the desk calls them); closing again would.
    from portal.cases import operations as ops
    ops.reopen_case(case, user("desk"), case.version, reason="顾客再次投诉同一问题")
    assert len(told(case)) == 2


def test_a_refused_complaint_is_told_it_is_closed(app):
    from portal.cases import operations as ops
    case = make_case("desk", channel=Channel.HOTLINE)
    ops.verify_case(case, user("desk"), case.version, validity=Validity.NOT_VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id, reason="产品在保质期外")
    ack, closed = told(case)
    assert closed.body == f"您的投诉{case.number}已办结，感谢您的反馈。如有疑问请致电800-800-1234。"


def test_a_failed_intake_tells_nobody(app, as_user):
    desk = as_user("desk")
    resp = post_intake(desk, channel="hotline", description="")  # required field missing
    assert resp.status_code == 400
    assert db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.kind == "customer")).scalar_one() == 0


def test_a_letter_entered_late_is_promised_a_time_still_ahead(app, monkeypatch):
    """A letter that lay on a desk past the 4 hours: the customer is not promised a time gone by."""
    from portal.clock import utcnow
    monkeypatch.setitem(app.config, "CUSTOMER_SMS_CHANNELS", "letter")
    short_policy(Clock.SOLUTION, 240, calendar="24x7")
    case = make_case("desk", channel=Channel.LETTER, received_at=utcnow() - timedelta(days=2))
    [msg] = told(case)
    promised = (utcnow() + timedelta(hours=4)).astimezone(SHANGHAI)
    assert promised.strftime("%m-%d %H:%M") in msg.body or \
        (promised - timedelta(minutes=1)).strftime("%m-%d %H:%M") in msg.body


def test_an_unknown_channel_in_the_setting_refuses_to_start(app):
    import pytest
    from portal import create_app
    from portal.config import TestConfig
    from portal.notify.checks import ConfigError
    with pytest.raises(ConfigError) as refused:
        create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                   CUSTOMER_SMS_CHANNELS="hotline, 800", HURRY_COOLDOWN_MINUTES=-5)
    message = str(refused.value)
    assert "CUSTOMER_SMS_CHANNELS 含未知渠道 800" in message and "hotline" in message
    assert "HURRY_COOLDOWN_MINUTES 不能为负数" in message


def test_every_customer_text_fits_its_segments_with_the_longest_values(app, monkeypatch):
    from datetime import datetime, timezone
    monkeypatch.setitem(app.config, "CUSTOMER_HOTLINE", "400-800-123456")  # longer than allowed: cut
    number = "KS2026-9999999"  # past a million cases a year
    late = datetime(2026, 12, 31, 15, 59, tzinfo=timezone.utc)  # 12-31 23:59 in Shanghai
    link = "https://kesu.example-foods.com/p/" + "x" * 22  # as long as PORTAL_BASE_URL may make it
    ack, closed = customer.acknowledgement_text(number, late, link), customer.closed_text(number)
    assert "12-31 23:59" in ack and number in ack and link in ack and number in closed
    assert len(SIGNATURE + ack) <= 2 * LONG_SEGMENT, (len(ack), ack)  # the link: a long message
    assert len(SIGNATURE + closed) <= SEGMENT, (len(closed), closed)


def test_the_case_page_says_what_the_customer_was_sent(app, as_user):
    hotline = make_case("desk", channel=Channel.HOTLINE)
    landline = make_case("desk", channel=Channel.HOTLINE, customer_phone="0371-5555 1234")
    field = make_case()
    desk = as_user("desk")
    page = desk.get(f"/cases/{hotline.number}").get_data(as_text=True)
    assert "顾客短信" in page and "受理短信 · 待发送" in page
    deliver_due()
    assert "受理短信 · 已发送" in desk.get(f"/cases/{hotline.number}").get_data(as_text=True)
    assert "顾客电话不是手机号，未发送短信" in desk.get(f"/cases/{landline.number}").get_data(as_text=True)
    assert "顾客短信" not in desk.get(f"/cases/{field.number}").get_data(as_text=True)
    english = desk.get(f"/cases/{hotline.number}?lang=en").get_data(as_text=True)
    assert "Acknowledgement SMS · sent" in english

"""The customer's progress page: made at intake, shows the case moving as staff act, in plain
words, with nothing internal; a wrong or expired link shows a polite page and nothing else."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.cases import operations as ops
from portal.cases.enums import Channel, Kind, Klass, Validity
from portal.customer.models import CaseLink
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.notify.templates import LONG_SEGMENT
from tests.conftest import _main_line, category, make_case, make_case_at, user
from tests.customer.conftest import link_of, page_path

SIGNATURE = "【示例食品股份有限】"


def stage(client, case) -> str:
    import re
    html = client.get(page_path(case)).get_data(as_text=True)
    m = re.search(r'id="cp-stage-label">([^<]+)<', html)
    assert m, html[:500]
    return m.group(1)


def test_every_case_gets_an_unguessable_link_at_intake_whatever_its_channel(app):
    field = make_case()  # a rep on the spot: no SMS, but a link for the receipt
    hotline = make_case("desk", channel=Channel.HOTLINE)
    tokens = [link_of(c).token for c in (field, hotline)]
    assert all(len(t) == 22 for t in tokens) and tokens[0] != tokens[1]  # 128 bits, URL-safe
    assert db.session.execute(sa.select(sa.func.count()).select_from(CaseLink)).scalar_one() == 2


def test_the_acknowledgement_sms_carries_the_link(app):
    case = make_case("desk", channel=Channel.HOTLINE)
    [sms] = db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.kind == "customer")).scalars().all()
    url = f"{app.config['PORTAL_BASE_URL']}/p/{link_of(case).token}"
    assert sms.body.endswith(f"查看进度：{url}") and case.number in sms.body
    assert len(SIGNATURE + sms.body) <= 2 * LONG_SEGMENT  # one long message of two segments


def test_the_customer_sees_the_stage_change_as_staff_act(app, customer):
    case = make_case()
    assert stage(customer, case) == "已受理"
    seen = {}
    for name, move in _main_line():
        move(case)
        seen[name] = stage(customer, case)
    assert seen["verified"] == "核实中" and seen["acknowledged"] == "核实中"
    assert seen["proposed"] == "处理中" and seen["approved"] == "处理中"
    assert seen["implemented"] == "等待您确认"
    assert seen["closed"] == "已办结"


def test_the_result_is_shown_as_the_customer_is_told_it(app, customer):
    case = make_case_at("implemented")
    html = customer.get(page_path(case)).get_data(as_text=True)
    assert "赔偿同款产品十袋" in html and "赔偿公司产品" in html and "产品 10 件" in html


def test_a_refused_complaint_shows_the_reason_it_was_given(app, customer):
    case = make_case("desk", channel=Channel.HOTLINE)
    ops.verify_case(case, user("desk"), case.version, validity=Validity.NOT_VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id, reason="产品已过保质期")
    html = customer.get(page_path(case)).get_data(as_text=True)
    assert "未予受理" in html and "产品已过保质期" in html


def test_nothing_internal_or_of_another_customer_reaches_the_page(app, customer):
    other = make_case(customer_name="李建国", customer_phone="13711112222", description="另一位顾客的问题")
    case = make_case_at("closed")
    html = customer.get(page_path(case)).get_data(as_text=True)
    internal = ["当日包装工序记录缺失", "包装工人未戴发帽", "生产一部包装车间", "同意",  # findings, cause, note, 批示
                "已上门送达十袋产品"]  # implementation note: staff's words
    staff = ["张敏", "赵磊", "陈刚", "刘洋", "生产一部"]
    private = ["13912345678", "139****5678", "成都市武侯区", "王秀英", "水饺中吃出一根头发"]
    others = [other.number, "李建国", "13711112222", "另一位顾客的问题"]
    leaked = [w for w in internal + staff + private + others if w in html]
    assert leaked == [], leaked
    assert case.number in html


def test_the_page_is_kept_out_of_caches_search_engines_and_referrers(app, customer):
    resp = customer.get(page_path(make_case()))
    assert resp.status_code == 200
    assert "no-store" in resp.headers["Cache-Control"]
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in resp.headers["X-Robots-Tag"]
    assert '<meta name="robots" content="noindex, nofollow">' in resp.get_data(as_text=True)


def _polite(resp) -> str:
    import re
    html = resp.get_data(as_text=True)
    return re.sub(r'value="[^"]*"|"X-CSRFToken": "[^"]*"', "", html)  # the session's token differs


def test_a_wrong_a_revoked_and_an_expired_link_look_the_same_and_say_nothing(app, customer):
    expired = make_case_at("closed")
    token = link_of(expired).token
    wrong = customer.get("/p/" + "A" * 22)
    short = customer.get("/p/abc")
    from portal import clock
    clock.travel(timedelta(days=30, minutes=1))  # CUSTOMER_LINK_DAYS = 30 after closing
    late = customer.get(f"/p/{token}")
    clock.reset()
    revoked_case = make_case()
    old = link_of(revoked_case).token
    from portal.customer.operations import regenerate_link
    regenerate_link(revoked_case, user("rep_cd"))
    revoked = customer.get(f"/p/{old}")
    assert [r.status_code for r in (wrong, short, late, revoked)] == [404] * 4
    bodies = {_polite(r) for r in (wrong, short, late, revoked)}
    assert len(bodies) == 1
    body = bodies.pop()
    assert "此链接无效或已过期" in body and expired.number not in body and "三鲜水饺" not in body
    assert customer.get(f"/p/{link_of(revoked_case).token}").status_code == 200  # the new one works


def test_the_link_still_works_until_its_days_after_closing(app, customer):
    case = make_case_at("closed")
    resp = customer.get(page_path(case))
    assert resp.status_code == 200 and "此链接有效期至" in resp.get_data(as_text=True)


def test_guessing_links_from_one_address_is_refused_for_a_while(app, customer, monkeypatch):
    from portal.queues import redis
    for key in redis().scan_iter("portal:customer-link-miss:*"):
        redis().delete(key)
    monkeypatch.setitem(app.config, "CUSTOMER_LINK_MAX_MISSES", 5)
    good = page_path(make_case())
    for i in range(5):
        assert customer.get(f"/p/{'x' * 21}{i}").status_code == 404
    refused = customer.get(good)  # past the limit even a real link is refused: a hit looks like a miss
    assert refused.status_code == 429 and "访问过于频繁" in refused.get_data(as_text=True)
    assert "三鲜水饺" not in refused.get_data(as_text=True)
    other = app.test_client()
    assert other.get(good, environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200


@pytest.mark.parametrize("lang,word", [("en", "Complaint progress"), ("zh_CN", "投诉进度")])
def test_the_page_speaks_the_language_chosen(app, customer, lang, word):
    html = customer.get(page_path(make_case()) + f"?lang={lang}").get_data(as_text=True)
    assert word in html


def test_a_case_an_integration_sends_gets_its_link_too(app):
    """The API registers through the same intake (portal/api, vouched service account)."""
    from portal.cases.enums import CustomerType
    from portal.cases.operations import register_case
    from portal.org.service import service_user
    api = service_user("api:1", "接口：微信小程序")
    case = register_case(api, {"customer_name": "王秀英", "customer_phone": "13912345678",
                               "customer_type": CustomerType.CONSUMER, "product_name": "三鲜水饺",
                               "description": "水饺中吃出一根头发"}, [],
                         channel=Channel.WECHAT, vouched=True)
    assert len(link_of(case).token) == 22

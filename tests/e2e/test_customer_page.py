"""The customer's progress page on a phone in Chromium (issue 14): the customer opens the link
from their SMS, sees the stage change as staff act, adds what was asked, rates the result and
appeals; a guessed link shows the polite page and nothing of any case."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import _main_line, make_case, make_case_at
from tests.e2e.conftest import PHONE, TIMEOUT_MS


def link_path(case) -> str:
    from portal.customer.links import current_link
    from portal.extensions import db
    db.session.expire_all()
    return f"/p/{current_link(case.id).token}"


def phone_page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai", **PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def fits_the_phone(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"


def test_customer_follows_the_case_rates_and_appeals_on_a_phone(app, browser, live_server):
    case = make_case()
    context, page = phone_page(browser, live_server)
    try:
        page.goto(link_path(case))
        expect(page.locator("#cp-stage-label")).to_have_text("已受理")
        expect(page.locator("#cp-hear-back")).to_contain_text("与您联系")
        fits_the_phone(page)

        moves = dict(_main_line())
        for name in ("verified", "dispatched", "acknowledged"):
            moves[name](case)
        page.reload()
        expect(page.locator("#cp-stage-label")).to_have_text("核实中")
        expect(page.locator(".cp-path li.current")).to_have_text("核实中")
        for name in ("proposed", "approved", "implemented"):
            moves[name](case)
        page.reload()
        expect(page.locator("#cp-stage-label")).to_have_text("等待您确认")
        expect(page.locator("#cp-result")).to_contain_text("赔偿同款产品十袋")

        # Rate: one tap per dimension on a 44 px button, then send.
        rate = page.locator("#cp-rate")
        for legend, score in (("质量高", "5"), ("办理快", "4"), ("态度好", "5"), ("信息准", "4")):
            rate.locator("fieldset", has_text=legend).get_by_text(score, exact=True).tap()
        rate.get_by_role("button", name="提交评价").tap()
        expect(page.locator(".alert-error")).to_contain_text("请为每一项打分")  # 够安全 forgotten
        expect(page.locator("#cp-rate fieldset", has_text="够安全")).to_contain_text("请选择 1–5 分")
        page.locator("#cp-rate fieldset", has_text="够安全").get_by_text("5", exact=True).tap()
        page.locator("#cp-rate").get_by_role("button", name="提交评价").tap()
        expect(page.locator(".flash-success")).to_contain_text("谢谢您的评价")
        expect(page.locator("#cp-rated")).to_contain_text("★★★★☆")

        # Appeal: it goes back to the desk, and the page says so.
        page.get_by_text("对处理结果有异议？提出申诉").tap()
        page.locator("#appeal-reason").fill("有两袋在送来时已经破损")
        page.get_by_role("button", name="提交申诉").tap()
        expect(page.locator(".flash-success")).to_contain_text("您的申诉已提交")
        expect(page.locator("#cp-appeal-pending")).to_contain_text("申诉正在处理中")
        expect(page.locator("#cp-stage-label")).to_have_text("核实中")
        fits_the_phone(page)
    finally:
        context.close()

    from portal.cases.states import State
    from portal.cases.models import Case
    from portal.extensions import db
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == State.VERIFIED  # the desk dispatches it again


def test_customer_adds_a_photo_when_asked_on_a_phone(app, browser, live_server, tmp_path):
    from tests.conftest import jpeg_bytes
    case = make_case_at("info_requested")
    photo = tmp_path / "批号.jpg"
    photo.write_bytes(jpeg_bytes())
    context, page = phone_page(browser, live_server)
    try:
        page.goto(link_path(case))
        expect(page.locator("#cp-stage-label")).to_have_text("需要您补充信息")
        expect(page.locator("#cp-supply")).to_contain_text("请补拍包装上的批号")
        page.locator("#supply-reply").fill("批号 2026090110100，已补拍")
        page.locator("#supply-photos").set_input_files(str(photo))
        page.get_by_role("button", name="提交补充信息").tap()
        expect(page.locator(".flash-success")).to_contain_text("已收到您补充的信息")
        expect(page.locator("#cp-stage-label")).to_have_text("已受理")
        expect(page.locator("#cp-supply")).to_have_count(0)
    finally:
        context.close()


def test_a_guessed_link_shows_the_polite_page_and_nothing_else(app, browser, live_server):
    make_case()
    context, page = phone_page(browser, live_server)
    try:
        resp = page.goto("/p/" + "Q" * 22)
        assert resp.status == 404
        expect(page.get_by_role("heading", name="无法打开此链接")).to_be_visible()
        expect(page.locator("body")).not_to_contain_text(re.compile(r"KS\d{4}-"))
        fits_the_phone(page)
    finally:
        context.close()

"""A rep settles on the spot from a phone right after intake (issue 10, PROCEDURES.md §7)."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import make_case
from tests.e2e.conftest import PHONE, panel, state_pill, submit_panel


def test_rep_settles_on_the_phone_within_authority_after_one_refusal(app, login_as):
    number = make_case("rep_cd").number
    rep = login_as("rep_cd", **PHONE)
    rep.goto(f"/cases/{number}")
    expect(state_pill(rep)).to_have_text("待核实")
    p = panel(rep, "settle")
    p.locator("#settle-klass").select_option(label="一般")
    p.locator("#settle-category_id").select_option(label="产品质量 / 口感差")
    p.locator("#settle-solution_form").select_option(label="赔偿公司产品")
    p.locator("#settle-text").fill("当场赔偿同款水饺三袋")
    p.locator("#settle-multiple").fill("3")
    submit_panel(rep, "settle")

    # Beyond the rep's authority: the page names the rule; the case waits for the desk as usual.
    expect(rep.locator("#case-main .alert")).to_contain_text("产品赔偿倍数 1:3 超过一般类上限 1:2")
    expect(rep.locator("#case-main .alert")).to_contain_text("按正常流程")
    expect(state_pill(rep)).to_have_text("待核实")
    expect(panel(rep, "settle").locator("#settle-text")).to_have_value("当场赔偿同款水饺三袋")

    p = panel(rep, "settle")
    p.locator("#settle-text").fill("当场赔偿同款水饺两袋，顾客接受")
    p.locator("#settle-multiple").fill("2")
    submit_panel(rep, "settle")
    expect(state_pill(rep)).to_have_text("待回访确认")
    expect(rep.locator(".timeline")).to_contain_text("业务员现场处理")
    expect(panel(rep, "settle")).to_have_count(0)
    expect(panel(rep, "callback")).to_have_count(0)  # the desk, not the rep, calls the customer back

    desk = login_as("desk")
    desk.goto(f"/cases/{number}")
    expect(panel(desk, "callback")).to_be_visible()

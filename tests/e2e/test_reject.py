"""驳回 in the browser, on a phone and on a desktop (issue 10): the page shows the fresh case
once (not drawn inside the red button, no stale approval panel), the handler finds the last
proposal filled in, and the leader then approves the re-proposal with no false conflict."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_case_at
from tests.e2e.conftest import PASSWORD, PHONE, panel, state_pill, submit_panel

CONFLICT_WORDS = ("已被他人修改", "刚刚被他人处理")


def assert_fresh_case_shown_once(page):
    expect(page.locator("#case-main")).to_have_count(1)
    expect(page.locator("#case-main #case-main")).to_have_count(0)  # nothing nested in the page
    expect(page.locator("button #case-main, button .case-head")).to_have_count(0)


def assert_no_conflict(page):
    for words in CONFLICT_WORDS:
        expect(page.locator("#case-main .alert", has_text=words)).to_have_count(0)


@pytest.mark.parametrize("device", [pytest.param(PHONE, id="phone"), pytest.param({}, id="desktop")])
def test_reject_then_approve_the_revised_proposal(app, login_as, device):
    number = make_case_at("proposed").number  # major complaint: 生产一部's leader decides
    url = f"/cases/{number}"
    leader = login_as("leader_prod1", **device)
    handler = login_as("handler_prod1", **device)

    leader.goto(url)
    expect(state_pill(leader)).to_have_text("待领导批示")
    decision = panel(leader, "approve")
    expect(decision).to_contain_text("由生产一部领导批示")
    decision.locator("#approve-comment").fill("补偿过高，请与顾客再协商")
    decision.locator("#approve-password").fill(PASSWORD)
    submit_panel(leader, "approve", button="驳回")

    assert_fresh_case_shown_once(leader)
    expect(state_pill(leader)).to_have_text("调查处理中")
    expect(panel(leader, "approve")).to_have_count(0)  # the old decision panel is gone
    expect(leader.get_by_role("button", name="批准并签名")).to_have_count(0)
    expect(leader.locator("#case-main .flash-success")).to_contain_text("已驳回")
    expect(leader.locator(".timeline")).to_contain_text("领导驳回方案")
    assert_no_conflict(leader)

    # The handler revises the last proposal instead of typing it again.
    handler.goto(url)
    proposal = panel(handler, "propose")
    expect(proposal).to_contain_text("领导驳回意见：补偿过高，请与顾客再协商")
    expect(proposal.locator("#propose-findings")).to_have_value("当日包装工序记录缺失")
    expect(proposal.locator("#propose-solution_text")).to_have_value("赔偿同款产品十袋")
    expect(proposal.locator("#propose-product_qty")).to_have_value("10")
    proposal.locator("#propose-solution_text").fill("赔偿同款产品六袋")
    proposal.locator("#propose-product_qty").fill("6")
    submit_panel(handler, "propose")
    expect(state_pill(handler)).to_have_text("待领导批示")

    # The leader opens the case again and approves the revised proposal: no conflict.
    leader.goto(url)
    decision = panel(leader, "approve")
    expect(decision).to_contain_text("赔偿同款产品六袋")
    decision.locator("#approve-password").fill(PASSWORD)
    submit_panel(leader, "approve", button="批准并签名")
    assert_fresh_case_shown_once(leader)
    expect(state_pill(leader)).to_have_text("待实施")
    expect(leader.locator("#case-main .flash-success")).to_contain_text("已批准")
    assert_no_conflict(leader)

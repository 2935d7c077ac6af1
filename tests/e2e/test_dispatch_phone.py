"""The desk dispatches and re-dispatches (改派) from a phone (issue 10): a department with
nobody in it cannot be chosen, a case sent to the wrong department goes on with its reason in
the timeline, and it then waits in the new department's 我的待办."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.conftest import make_case, unit
from tests.e2e.conftest import PHONE, panel, state_pill, submit_panel

REASON = "顾客投诉的是黑芝麻汤圆，属生产二部"


def test_desk_dispatches_and_redispatches_on_a_phone(app, login_as):
    number = make_case("rep_cd", product_name="黑芝麻汤圆").number
    url = f"/cases/{number}"
    desk = login_as("desk", **PHONE)
    desk.goto(url)

    # Verify the new case.
    expect(state_pill(desk)).to_have_text("待核实")
    verify = panel(desk, "verify")
    verify.locator("#verify-validity-0").check()  # 成立
    verify.locator("#verify-kind").select_option(label="投诉")
    verify.locator("#verify-klass").select_option(label="一般")
    verify.locator("#verify-category_id").select_option(label="产品质量 / 口感差")
    submit_panel(desk, "verify")
    expect(state_pill(desk)).to_have_text("待分派")

    # 技术中心 has no handler on duty: the picker says so and will not take it.
    picker = panel(desk, "dispatch").locator("#dispatch-unit_id")
    tech = picker.locator("option", has_text="技术中心")
    expect(tech).to_have_text(re.compile(r"技术中心（无在岗经办人）"))
    expect(tech).to_be_disabled()
    with pytest.raises(PlaywrightError):
        picker.select_option(value=str(unit("TECH").id), timeout=1500)
    expect(picker).not_to_have_value(str(unit("TECH").id))

    # Dispatch to 生产一部.
    picker.select_option(label="生产一部")
    expect(panel(desk, "dispatch").locator("#dispatch-user_id")).to_contain_text("赵磊")
    submit_panel(desk, "dispatch")
    expect(state_pill(desk)).to_have_text("调查处理中")
    expect(desk.locator("#case-main dt:text-is('责任部门') + dd")).to_contain_text("生产一部")

    # It is 生产二部's product: 改派 with the reason, from the same phone.
    redispatch = panel(desk, "redispatch")
    redispatch.get_by_text("改派到其他部门").tap()
    target = redispatch.locator("#redispatch-unit_id")
    expect(target.locator("option", has_text="技术中心")).to_be_disabled()
    target.select_option(label="生产二部")
    expect(redispatch.locator("#redispatch-user_id")).to_contain_text("钱进")
    redispatch.locator("#redispatch-reason").fill(REASON)
    submit_panel(desk, "redispatch")

    expect(state_pill(desk)).to_have_text("调查处理中")
    expect(desk.locator("#case-main dt:text-is('责任部门') + dd")).to_contain_text("生产二部")
    timeline = desk.locator(".timeline")
    expect(timeline).to_contain_text("改派责任部门")
    expect(timeline).to_contain_text(f"生产一部 → 生产二部：{REASON}")
    # The page fits the phone: nothing of the panels or timeline needs sideways scrolling.
    assert desk.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]

    # 生产二部's handler finds it waiting in 我的待办, on a phone too.
    handler = login_as("handler_prod2", via_form=True, **PHONE)  # the form, on a phone; lands on 我的待办
    row = handler.locator("#work-table tbody tr", has_text=number)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("首次跟进")
    row.get_by_role("link", name=number).tap()
    handler.wait_for_url(f"**/cases/{number}")
    expect(panel(handler, "acknowledge")).to_be_visible()

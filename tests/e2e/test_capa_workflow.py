"""One corrective-action sheet through its whole workflow in Chromium, each role in its own
browser, the department leader approving and signing on a phone; and axe on its pages."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.capa.models import CorrectiveAction
from portal.clock import local, utcnow
from portal.extensions import db
from tests.conftest import make_case, make_sheet_at
from tests.e2e.conftest import PASSWORD, PHONE, panel, submit_panel
from tests.e2e.test_accessibility import CONTEXTS, check


def sheet_pill(page):
    return page.locator("#sheet-main .case-head .pill").first


def test_sheet_through_its_workflow_leader_signs_on_a_phone(app, login_as):
    case = make_case("rep_cd")
    quality = login_as("quality")
    handler = login_as("handler_prod1")
    leader = login_as("leader_prod1", **PHONE)

    # Quality opens the sheet from the case page; the form starts from the case.
    quality.goto(f"/cases/{case.number}")
    quality.locator("#case-sheets").get_by_role("link", name="开纠正预防单", exact=True).click()
    expect(quality.locator("#case_numbers")).to_have_value(case.number)
    quality.locator("#receiving_unit_id").select_option(label="生产一部")
    quality.locator("#password").fill(PASSWORD)
    quality.get_by_role("button", name="签发并签名").click()
    expect(sheet_pill(quality)).to_have_text("待部门回复")
    number = re.search(r"/ca/(CA\d{4}-\d{4})", quality.url).group(1)

    # The department's handler answers with a 5-Why chain.
    handler.goto(f"/ca/{number}")
    p = panel(handler, "respond")
    p.locator("#respond-investigation").fill("9 月 1 日包装二线当班记录齐全，发帽领用无登记")
    for i, why in enumerate(["馅料中混入头发", "包装工人未戴发帽", "更衣室发帽缺货"], start=1):
        p.locator(f"#respond-why_{i}").fill(why)
    p.locator("#respond-correction").fill("隔离同批库存并复检")
    p.locator("#respond-prevention").fill("发帽纳入物料清单，每班点检")
    p.locator("#respond-due_date").fill((local(utcnow()).date() + timedelta(days=7)).isoformat())
    submit_panel(handler, "respond")
    expect(sheet_pill(handler)).to_have_text("待部门领导批准")
    expect(handler.locator(".why-chain li")).to_have_count(3)

    # The leader, on a phone, finds it among the sheets waiting for them and signs.
    leader.goto("/ca/?state=mine")
    leader.get_by_role("link", name=number).click()
    expect(panel(leader, "approve")).to_be_visible()
    assert leader.evaluate("document.scrollingElement.scrollWidth") <= 390
    submit_panel(leader, "approve", button="批准并签名")  # forgot the password: told in the panel
    expect(panel(leader, "approve")).to_contain_text("签名须输入您的登录密码")
    expect(sheet_pill(leader)).to_have_text("待部门领导批准")
    panel(leader, "approve").locator("#approve-password").fill(PASSWORD)
    submit_panel(leader, "approve", button="批准并签名")
    expect(sheet_pill(leader)).to_have_text("待品保验证")

    # Quality verifies the effect: effective, closed, three signatures shown.
    quality.reload()
    p = panel(quality, "verify")
    p.get_by_label("有效", exact=True).check()
    p.locator("#verify-evidence").fill("复查两周，同类投诉为零")
    p.locator("#verify-password").fill(PASSWORD)
    submit_panel(quality, "verify")
    expect(sheet_pill(quality)).to_have_text("已关闭")
    expect(quality.locator("#sheet-signatures .signature")).to_have_count(3)
    expect(quality.locator("#sheet-signatures")).to_contain_text("陈刚")
    db.session.expire_all()
    assert db.session.execute(sa.select(CorrectiveAction.state)).scalar_one().value == "closed"


@pytest.mark.parametrize("device", list(CONTEXTS))
def test_sheet_pages_have_no_serious_accessibility_violations(app, login_as, device):
    issued, responded = make_sheet_at("issued"), make_sheet_at("responded")
    failures: list[str] = []
    quality = login_as("quality", **CONTEXTS[device])
    for path in ("/ca/", f"/ca/new?case={issued.cases[0].number}", f"/ca/{responded.number}"):
        check(quality, path, failures)
    handler = login_as("handler_prod1", **CONTEXTS[device])
    check(handler, f"/ca/{issued.number}", failures)
    leader = login_as("leader_prod1", **CONTEXTS[device])
    check(leader, f"/ca/{responded.number}", failures)
    assert not failures, "\n".join(failures)

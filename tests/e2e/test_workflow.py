"""One case through every step in the browser, each role in its own browser (issue 3)."""
from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import make_case
from tests.e2e.conftest import PASSWORD, PHONE, panel, state_pill, submit_panel


def verify_as_desk(page):
    p = panel(page, "verify")
    p.locator("#verify-validity-0").check()  # 成立
    expect(p.locator("label:has(#verify-validity-0)")).to_have_text("成立")
    p.locator("#verify-kind").select_option(label="投诉")
    p.locator("#verify-klass").select_option(label="主要")
    p.locator("#verify-category_id").select_option(label="产品质量 / 异物")
    submit_panel(page, "verify")


def propose_as_handler(page, findings: str, cash: str):
    p = panel(page, "propose")
    p.locator("#propose-findings").fill(findings)
    p.locator("#propose-root_cause").fill("包装工序人员未按规定佩戴发帽")
    p.locator("#propose-responsibility").select_option(label="责任部门")
    p.locator("#propose-responsibility_note").fill("生产一部包装班")
    p.locator("#propose-solution_form").select_option(label="现金补偿")
    p.locator("#propose-solution_text").fill("向顾客致歉，退还货款并给予现金补偿")
    p.locator("#propose-cash").fill(cash)
    submit_panel(page, "propose")


def implement_as_handler(page, text: str):
    panel(page, "implement").locator("#implement-text").fill(text)
    submit_panel(page, "implement")


def approve_as_leader(page, password: str = PASSWORD, comment: str | None = None):
    p = panel(page, "approve")
    if comment:
        p.locator("#approve-comment").fill(comment)
    p.locator("#approve-password").fill(password)
    submit_panel(page, "approve", button="批准并签名")


def test_case_through_every_step_in_the_browser(app, login_as):
    number = make_case("rep_cd").number
    url = f"/cases/{number}"

    desk = login_as("desk")
    quality = login_as("quality")
    handler = login_as("handler_prod1")
    leader = login_as("leader_prod1")
    rep = login_as("rep_cd", **PHONE)  # the rep calls back from the phone

    # Desk verifies: valid complaint, class major, cause product quality / foreign object.
    desk.goto(url)
    expect(state_pill(desk)).to_have_text("待核实")
    verify_as_desk(desk)
    expect(state_pill(desk)).to_have_text("待分派")
    expect(desk.locator("#case-main dt:text-is('原因分类') + dd")).to_contain_text("异物")

    # Quality traces the batch to its production department.
    quality.goto(url)
    submit_panel(quality, "trace_batch")
    expect(quality.locator(".timeline")).to_contain_text("批号追溯")
    expect(quality.locator("#case-main dt:text-is('责任部门') + dd")).to_contain_text("生产一部")

    # Desk dispatches to 生产一部 (the traced suggestion is shown).
    desk.goto(url)
    expect(panel(desk, "dispatch")).to_contain_text("批号追溯建议：生产一部")
    panel(desk, "dispatch").locator("#dispatch-unit_id").select_option(label="生产一部")
    expect(panel(desk, "dispatch").locator("#dispatch-user_id")).to_contain_text("赵磊")
    submit_panel(desk, "dispatch")
    expect(state_pill(desk)).to_have_text("调查处理中")

    # The handler acknowledges, then proposes cash compensation of 300 yuan.
    handler.goto(url)
    submit_panel(handler, "acknowledge")
    expect(panel(handler, "propose")).to_be_visible()
    propose_as_handler(handler, "当日生产记录正常，留样检测未见异常", "300")
    expect(state_pill(handler)).to_have_text("待领导批示")

    # The leader finds it in 我的待办 and opens it; the page says which rule needs approval.
    leader.goto("/work")
    row = leader.locator("#work-table tr", has=leader.get_by_role("link", name=number))
    expect(row).to_contain_text("领导批示")
    expect(leader.locator("#work-badge .badge")).to_have_text("1")
    expect(row.locator("[data-due]")).to_have_text(re.compile(r"^(剩余|已超时) "))
    row.get_by_role("link", name=number).click()
    leader.wait_for_url(f"**{url}")
    reasons = panel(leader, "approve").locator(".reasons li")
    expect(reasons.filter(has_text="主要类投诉须经领导批示")).to_have_count(1)
    expect(panel(leader, "approve")).to_contain_text("由生产一部领导批示")  # the rule names who decides
    expect(reasons.filter(has_text="现金补偿 300.00 元超过主要类权限（200 元）")).to_have_count(1)
    expect(panel(leader, "approve")).to_contain_text("300")

    # A wrong password signs nothing: message in Chinese, state unchanged.
    approve_as_leader(leader, password="wrong-password")
    expect(leader.locator("#case-main .alert-error")).to_contain_text("签名密码不正确")
    expect(panel(leader, "approve").locator(".error")).to_contain_text("密码不正确")
    expect(state_pill(leader)).to_have_text("待领导批示")
    approve_as_leader(leader, comment="同意，尽快落实")
    expect(state_pill(leader)).to_have_text("待实施")
    expect(leader.locator(".signature").filter(has_text="批准")).to_contain_text("陈刚")

    # The handler records the implementation.
    handler.goto(url)
    implement_as_handler(handler, "已上门致歉并支付现金补偿 300 元")
    expect(state_pill(handler)).to_have_text("待回访确认")

    # The rep calls back from the phone: the customer is not satisfied → back to investigation.
    rep.goto(url)
    cb = panel(rep, "callback")
    cb.locator("#callback-reached-0").check()
    cb.locator("#callback-satisfied-1").check()
    cb.locator("#callback-score_quality").select_option("2")
    cb.locator("#callback-comment").fill("顾客认为补偿太少，要求再赔偿两袋产品")
    submit_panel(rep, "callback")
    expect(state_pill(rep)).to_have_text("调查处理中")
    expect(rep.locator("#case-main .case-head .pill.level")).to_have_text("升级 1")
    entry = rep.locator(".timeline li", has_text="回访：顾客不满意")
    expect(entry).to_contain_text("顾客认为补偿太少，要求再赔偿两袋产品")

    # Second round: propose again, approve, implement.
    handler.goto(url)
    expect(handler.locator(".timeline li", has_text="回访：顾客不满意")).to_contain_text("顾客认为补偿太少")
    propose_as_handler(handler, "复查同批留样，确认为个别包装问题", "300")
    expect(state_pill(handler)).to_have_text("待领导批示")
    leader.goto(url)
    approve_as_leader(leader)
    expect(state_pill(leader)).to_have_text("待实施")
    handler.goto(url)
    implement_as_handler(handler, "补发三鲜水饺两袋，顾客已签收")
    expect(state_pill(handler)).to_have_text("待回访确认")

    # The desk calls back: satisfied, with the five scores.
    desk.goto(url)
    cb = panel(desk, "callback")
    cb.locator("#callback-reached-0").check()
    cb.locator("#callback-satisfied-0").check()
    for name, score in (("quality", "5"), ("speed", "4"), ("attitude", "5"), ("info", "4"), ("safety", "5")):
        cb.locator(f"#callback-score_{name}").select_option(score)
    submit_panel(desk, "callback")
    expect(state_pill(desk)).to_have_text("待回访确认")
    expect(desk.locator(".card", has_text="回访").locator("dt:text-is('结果') + dd")).to_have_text("满意")

    # The leader signs off with the password → closed, signature shown, sheet downloadable.
    leader.goto(url)
    so = panel(leader, "sign_off")
    so.locator("#sign_off-comment").fill("同意结案")
    so.locator("#sign_off-password").fill(PASSWORD)
    submit_panel(leader, "sign_off")
    expect(state_pill(leader)).to_have_text("已结案")
    sig = leader.locator(".signature").filter(has=leader.locator("strong", has_text=re.compile("^签字$")))
    expect(sig).to_have_count(1)
    expect(sig).to_contain_text("陈刚")
    expect(sig.locator(".hash")).to_have_text(re.compile(r"SHA-256 [0-9a-f]{64}$"))
    href = leader.get_by_role("link", name="签字单 PDF").get_attribute("href")
    pdf = leader.request.get(href)  # the leader's own session cookies
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body()[:5] == b"%PDF-"

    # The desk reopens it (repeat complaint) → investigating again.
    desk.goto(url)
    panel(desk, "reopen").locator("#reopen-reason").fill("顾客再次投诉同一问题")
    submit_panel(desk, "reopen")
    expect(state_pill(desk)).to_have_text("调查处理中")
    expect(desk.locator(".timeline li", has_text="重新打开")).to_contain_text("顾客再次投诉同一问题")

    from portal.extensions import db
    from portal.signing.audit import verify_chain
    from portal.signing.models import Signature
    db.session.expire_all()
    meanings = db.session.execute(sa.select(Signature.meaning).order_by(Signature.id)).scalars().all()
    assert [m.value for m in meanings] == ["approve", "approve", "sign_off"]
    ok, message = verify_chain()
    assert ok, message

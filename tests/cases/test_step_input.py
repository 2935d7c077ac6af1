"""Bad input at every step, through the web: the page says what is wrong in Chinese, with 400
(or 409 when the case moved on), and the case is exactly as it was — same state, same
version, no audit event, no signature."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.cases import operations as ops
from portal.cases.enums import Kind, Klass, Validity
from portal.cases.models import Case
from portal.extensions import db
from portal.org.models import OrgUnit
from tests.conftest import (ACTS_ON, FORMS, category, footprint, make_case, make_case_at, post_step,
                            signed_in, unit, user)

# Who takes each step in these tests (one allowed person per transition).
ACTOR = {"verify": "desk", "request_info": "desk", "settle": "rep_cd", "supply_info": "rep_cd",
         "trace_batch": "quality", "dispatch": "desk", "acknowledge": "handler_prod1",
         "propose": "handler_prod1", "approve": "leader_prod1", "reject": "leader_prod1",
         "implement": "handler_prod1", "callback": "rep_cd", "sign_off": "leader_prod1",
         "reopen": "desk", "redispatch": "desk"}


def attempt(app, action: str, case=None, *, version=None, **fields):
    """Post `fields` for `action` as its usual actor; return the response, the page and the
    case's footprint before and after."""
    case = case or make_case_at(ACTS_ON[action])
    client, token = signed_in(app, ACTOR[action])
    before = footprint(case)
    resp = post_step(client, token, case, action, version=version, **fields)
    return resp, resp.get_data(as_text=True), before, footprint(case)


def form(action: str, **changes) -> dict:
    """The step's valid form with some fields changed; a value of None leaves the field out."""
    fields = {**FORMS[action](), **changes}
    return {k: v for k, v in fields.items() if v is not None}


ALERT_RE = re.compile(r'<div class="alert alert-\w+" role="alert">(.*?)</div>', re.S)


def alert_text(html: str) -> str:
    m = ALERT_RE.search(html)
    return m.group(1).strip() if m else ""


def assert_refused(resp, html, before, after, status, message):
    assert resp.status_code == status, html[:600]
    assert message in html, f"{message!r} not in the page"
    assert after == before  # state, step, version, audit events, signatures


# ---------------------------------------------------------------- required fields

MISSING = [  # (id, action, form fields, the message on the page)
    ("verify-no-conclusion", "verify", {"validity": None}, "核实结论：请选择核实结论"),
    ("verify-valid-without-class", "verify", {"kind": "", "klass": "", "category_id": ""},
     "请补全必填项：投诉性质、投诉类别、原因分类"),
    ("verify-not-valid-without-reason", "verify", {"validity": "not_valid", "reason": ""},
     "请补全必填项：告知顾客的理由"),
    ("request_info-blank-question", "request_info", {"question": "   "}, "需要补充的内容：此项为必填项"),
    ("supply_info-no-reply", "supply_info", {"reply": None}, "补充说明：此项为必填项"),
    ("settle-no-text", "settle", {"text": ""}, "现场处理情况：此项为必填项"),
    ("dispatch-no-department", "dispatch", {"unit_id": ""}, "责任部门：请选择责任部门"),
    ("propose-no-findings", "propose", {"findings": ""}, "调查结果：此项为必填项"),
    ("propose-no-responsibility", "propose", {"responsibility": ""}, "责任认定：请选择责任认定"),
    ("propose-no-settlement-form", "propose", {"solution_form": None}, "处理方式：请选择处理方式"),
    ("approve-no-password", "approve", {"password": ""}, "登录密码（签名确认）：签名须输入您的登录密码"),
    ("reject-no-comment", "reject", {"comment": ""}, "请补全必填项：驳回意见"),
    ("implement-no-text", "implement", {"text": ""}, "实施情况：此项为必填项"),
    ("callback-not-said-if-reached", "callback", {"reached": None, "satisfied": None},
     "是否联系上顾客：请选择是否联系上顾客"),
    ("callback-reached-not-said-if-satisfied", "callback", {"satisfied": None}, "请选择顾客是否满意。"),
    ("callback-unsatisfied-without-reason", "callback", {"satisfied": "no", "comment": ""},
     "顾客不满意时请写明原因。"),
    ("sign_off-no-password", "sign_off", {"password": None}, "登录密码（签名确认）：签名须输入您的登录密码"),
    ("reopen-no-reason", "reopen", {"reason": ""}, "重新打开的原因：此项为必填项"),
    ("redispatch-no-reason", "redispatch", {"reason": " "}, "改派原因：此项为必填项"),
]


def test_every_step_with_required_input_is_tried():
    steps_with_required_input = set(ops.TRANSITIONS) - {"trace_batch", "acknowledge"}
    assert {action for _, action, _, _ in MISSING} == steps_with_required_input


@pytest.mark.parametrize("action, changes, message",
                         [pytest.param(a, c, m, id=i) for i, a, c, m in MISSING])
def test_missing_required_input_is_named_and_nothing_changes(app, action, changes, message):
    assert_refused(*attempt(app, action, **form(action, **changes)), 400, message)


def test_trace_of_unknown_batch_asks_for_a_human_decision(app):
    case = make_case(batch_no="ZZ-404")
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id)
    assert_refused(*attempt(app, "trace_batch", case), 400,
                   "批号「ZZ-404」在批次档案中查不到生产部门。请在下面选择生产部门，并写明判断依据。")


# ---------------------------------------------------------------- numbers and choices

@pytest.mark.parametrize("field, value, message", [
    pytest.param("cash", "三百", "现金补偿（元）：不是有效的小数。", id="cash-in-words"),
    pytest.param("multiple", "五倍", "赔偿倍数 1:N：不是有效的小数。", id="multiple-in-words"),
    pytest.param("product_qty", "两袋", "赔偿产品数量（件）：不是有效的整数。", id="quantity-in-words"),
    pytest.param("cash", "-100", "现金补偿（元）：金额须在 0 到 10000000 之间", id="negative-cash"),
    pytest.param("multiple", "-1", "赔偿倍数 1:N：倍数须在 0 到 100 之间", id="negative-multiple"),
    pytest.param("product_qty", "-2", "赔偿产品数量（件）：数量须在 0 到 100000 之间", id="negative-quantity"),
])
def test_compensation_must_be_a_number_not_below_zero(app, field, value, message):
    resp, html, before, after = attempt(app, "propose", **form("propose", **{field: value}))
    assert_refused(resp, html, before, after, 400, message)
    assert "当日包装工序记录缺失" in html  # what the handler typed is still in the form


@pytest.mark.parametrize("field, value, label", [
    pytest.param("score_quality", "9", "质量高", id="quality-9"),
    pytest.param("score_speed", "0", "办理快", id="speed-0"),
    pytest.param("score_safety", "五", "够安全", id="safety-in-words"),
])
def test_satisfaction_score_out_of_range(app, field, value, label):
    assert_refused(*attempt(app, "callback", **form("callback", **{field: value})), 400,
                   f"{label}：不是有效的选择。")


def test_dispatch_to_a_branch_or_to_another_departments_handler(app):
    case = make_case_at("verified")
    branch = db.session.execute(sa.select(OrgUnit).where(OrgUnit.code == "BR-CD")).scalar_one()
    assert_refused(*attempt(app, "dispatch", case, unit_id=str(branch.id)), 400, "责任部门：不是有效的选择。")
    assert_refused(*attempt(app, "dispatch", case, unit_id=str(unit("PROD1").id),
                            user_id=str(user("handler_prod2").id)), 400, "经办人（可选）：不是有效的选择。")


def test_verify_with_a_category_that_does_not_exist(app):
    assert_refused(*attempt(app, "verify", **form("verify", category_id="999999")), 400,
                   "原因分类：不是有效的选择。")


# ---------------------------------------------------------------- signing

@pytest.mark.parametrize("action", ["approve", "reject", "sign_off"])
def test_wrong_password_at_signing_signs_nothing(app, action):
    resp, html, before, after = attempt(app, action, **form(action, password="demo12345"))
    assert_refused(resp, html, before, after, 400, "签名密码不正确，请重新输入您的登录密码。")
    assert "密码不正确" in html.split("签名密码不正确", 1)[1]  # and beside the password field


# ---------------------------------------------------------------- someone else was first

# For each step: someone who moves the case first (through the web), from the same state.
# Where only one person can take the step, it is that person in a second browser tab.
FIRST = {"verify": ("leader_cs", "request_info"), "request_info": ("leader_cs", "verify"),
         "settle": ("leader_cs", "verify"),
         "supply_info": ("rep_cd", "supply_info"), "trace_batch": ("leader_cs", "dispatch"),
         "dispatch": ("leader_cs", "dispatch"), "acknowledge": ("handler_prod1", "acknowledge"),
         "propose": ("handler_prod1", "propose"), "approve": ("leader_prod1", "reject"),
         "reject": ("leader_prod1", "approve"), "implement": ("handler_prod1", "implement"),
         "callback": ("desk", "callback"), "sign_off": ("leader_prod1", "sign_off"),
         "reopen": ("leader_cs", "reopen"), "redispatch": ("handler_prod1", "acknowledge")}


@pytest.mark.parametrize("action", list(ops.TRANSITIONS))
def test_stale_form_is_a_conflict_showing_the_case_as_it_is_now(app, action):
    assert set(FIRST) == set(ops.TRANSITIONS) == set(ACTOR)
    case = make_case_at(ACTS_ON[action])
    stale_version = case.version
    other, other_action = FIRST[action]
    client, token = signed_in(app, other)
    assert post_step(client, token, case, other_action, **FORMS[other_action]()).status_code == 303
    now = db.session.get(Case, case.id)

    resp, html, before, after = attempt(app, action, case, version=stale_version, **FORMS[action]())

    assert_refused(resp, html, before, after, 409, f"投诉 {case.number} 已被他人修改")
    assert f"当前状态为「{now.state.label}」" in html


def test_step_the_case_has_left_is_a_conflict_even_with_current_version(app):
    case = make_case_at("dispatched")
    assert_refused(*attempt(app, "verify", case, **FORMS["verify"]()), 409,
                   f"投诉 {case.number} 当前状态为「调查处理中」，不能执行「核实」。")


def test_reopen_after_ninety_days_is_refused(app):
    case = make_case_at("closed")
    clock.travel(timedelta(days=91))
    assert_refused(*attempt(app, "reopen", case, **FORMS["reopen"]()), 409,
                   f"投诉 {case.number} 结案已超过 90 天，不能重新打开；请登记为新的投诉。")


def test_posting_without_csrf_token_changes_nothing(app):
    case = make_case_at("new")
    client, _ = signed_in(app, "desk")
    before = footprint(case)
    fields = {**FORMS["verify"](), "version": case.version}
    resp = client.post(f"/cases/{case.number}/act/verify", data={f"verify-{k}": v for k, v in fields.items()})
    assert resp.status_code == 400
    assert "缺少安全令牌" in resp.get_data(as_text=True)
    assert footprint(case) == before


# ---------------------------------------------------------------- tampered or odd requests

@pytest.mark.parametrize("version", ["abc", "1.5", ""])
def test_tampered_version_gets_a_chinese_message_not_a_500(app, version):
    resp, html, before, after = attempt(app, "verify", version=version, **FORMS["verify"]())
    assert resp.status_code in (400, 409)
    assert alert_text(html) and not re.search(r"[A-Za-z]", alert_text(html)), alert_text(html)
    assert after == before


@pytest.mark.parametrize("field", ["cash", "multiple"])
def test_signalling_nan_as_compensation_is_refused(app, field):
    resp, html, before, after = attempt(app, "propose", **form("propose", **{field: "sNaN"}))
    assert resp.status_code == 400 and after == before
    assert alert_text(html).startswith("现金补偿（元）：" if field == "cash" else "赔偿倍数 1:N：")


@pytest.mark.parametrize("action, field", [("request_info", "question"), ("propose", "findings"),
                                           ("reopen", "reason")])
def test_nul_byte_in_text_is_never_a_500(app, request, action, field):
    resp, html, before, after = attempt(app, action, **form(action, **{field: "顾客\x00说"}))
    assert resp.status_code in (303, 400)
    if resp.status_code == 400:
        assert after == before and alert_text(html)

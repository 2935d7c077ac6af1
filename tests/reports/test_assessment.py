"""Department assessment (考核) on a hand-made month: the arithmetic of the table, the
exclusions, the bottom three, the penalty rules, freezing and signing, the pages, export and PDF."""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.cases import operations as ops
from portal.cases.enums import Kind, Klass, Responsibility, SettlementForm, Validity
from portal.clock import SHANGHAI, utcnow
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.escalation.operations import sweep_timers
from portal.extensions import db
from portal.org.enums import Role
from portal.reports import assessment as asm
from portal.signing.models import AuditEvent, Signature
from tests.conftest import PASSWORD, category, count, make_case, make_user, signed_in, unit, user


def _month_ago(n: int) -> date:
    today = clock.local(utcnow()).date()
    first = date(today.year, today.month, 1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def _go_to(when: datetime) -> None:
    clock.travel(when - utcnow())


def _verified(case, unit_code, *, klass=Klass.GENERAL, cat="quality.taste", acknowledge=True):
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=klass, category_id=category(cat).id)
    ops.dispatch_case(case, user("desk"), case.version, unit_id=unit(unit_code).id)
    if acknowledge:
        ops.acknowledge_case(case, user(f"handler_{unit_code.lower()}"), case.version)
    return case


def _closed(case, unit_code, **kw):
    """Through the whole line with the unit's handler and leader, at the clock's time."""
    _verified(case, unit_code, **kw)
    handler, leader = user(f"handler_{unit_code.lower()}"), user(f"leader_{unit_code.lower()}")
    ops.propose_solution(case, handler, case.version, findings="查当日生产记录", root_cause="工序疏忽",
                         responsibility=Responsibility.DEPARTMENT, responsibility_note=unit_code,
                         solution_form=SettlementForm.PRODUCT, solution_text="赔偿同款产品两袋", product_qty=2)
    if case.step.value == "approve":
        ops.approve_proposal(case, leader, case.version, password=PASSWORD, comment="同意")
    ops.record_implementation(case, handler, case.version, text="已送达")
    ops.record_callback(case, user("rep_cd"), case.version, reached=True, satisfied=True,
                        scores={"score_quality": 5}, comment=None)
    ops.sign_off_case(case, leader, case.version, password=PASSWORD)
    return case


@pytest.fixture
def rules(app):
    """Quality's rules instead of the seeded ones: 100 per valid product-quality case (unit), 50
    per overdue case (unit), 1000 for the bottom three (unit), 2000 per case not closed within
    24 h (person)."""
    for rule in db.session.execute(sa.select(asm.PenaltyRule)).scalars():
        db.session.delete(rule)
    db.session.commit()
    qa = user("leader_qa")
    quality = category("quality.taste").parent_id
    asm.add_rule(qa, name="质量投诉", target="unit", basis="valid_case", hours=None, category_id=quality, amount="100")
    asm.add_rule(qa, name="超时限", target="unit", basis="overdue", hours=None, category_id=None, amount="50")
    asm.add_rule(qa, name="后三名", target="unit", basis="bottom_three", hours=None, category_id=None, amount="1000")
    asm.add_rule(qa, name="24小时未结案", target="person", basis="not_closed_within", hours="24", category_id=None,
                 amount="2000")


@pytest.fixture
def month(rules):
    """Two months ago, hand-made (all received in it, Asia/Shanghai):
    生产一部: one closed at once, one closed a week later after its time limit passed, and one
      special (complaint for gain) left out;
    生产二部: two closed at once, one acknowledged and left open;
    技术中心: one closed at once;
    储运部: one dispatched, never taken up (no person), a transport complaint."""
    for code in ("TECH", "LOG"):
        make_user(f"handler_{code.lower()}", code, [Role.HANDLER], name=f"{code}经办")
        make_user(f"leader_{code.lower()}", code, [Role.LEADER], name=f"{code}领导")
    first = _month_ago(2)
    _go_to(datetime(first.year, first.month, 3, 10, 0, tzinfo=SHANGHAI))
    _closed(make_case(), "PROD1")
    late = _verified(make_case(), "PROD1")
    _verified(make_case(), "PROD1", klass=Klass.SPECIAL)
    for _ in range(2):
        _closed(make_case(), "PROD2")
    _verified(make_case(), "PROD2")
    _closed(make_case(), "TECH")
    _verified(make_case(), "LOG", cat="transport", acknowledge=False)
    # A malicious complaint is refused at verification and never reaches a department.
    bad = make_case()
    ops.verify_case(bad, user("desk"), bad.version, validity=Validity.MALICIOUS, kind=None, klass=None,
                    category_id=None, reason="无质量问题，索要钱财")
    clock.travel(timedelta(days=7))
    sweep_timers(inline=True)  # the breaches of the week are recorded (超过办理时限)
    db.session.refresh(late)
    ops.propose_solution(late, user("handler_prod1"), late.version, findings="查", root_cause="疏忽",
                         responsibility=Responsibility.DEPARTMENT, responsibility_note="PROD1",
                         solution_form=SettlementForm.PRODUCT, solution_text="两袋", product_qty=2)
    ops.record_implementation(late, user("handler_prod1"), late.version, text="已送达")
    ops.record_callback(late, user("rep_cd"), late.version, reached=True, satisfied=True, scores={}, comment=None)
    ops.sign_off_case(late, user("leader_prod1"), late.version, password=PASSWORD)
    clock.reset()
    return first


def _pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True).stdout.decode()
    return "".join(out.split())  # the title is letter-spaced


def _by_unit(data):
    return {r["unit"]: r for r in data["units"]}


def test_month_table_counts_penalties_and_bottom_three(month):
    data = asm.compute(month)
    rows = _by_unit(data)
    figures = {name: (r["cases"], r["valid"], r["closed_48h"], r["rate_48h"], r["overdue"], r["attainment"],
                      r["penalty"], r["bottom"]) for name, r in rows.items()}
    assert figures == {
        "生产一部": (2, 2, 1, 50.0, 1, 50.0, "1250.00", True),    # 2×100 + 50 + 1000
        "生产二部": (3, 3, 2, 66.7, 1, 66.7, "1350.00", True),    # 3×100 + 50 + 1000
        "储运部": (1, 1, 0, 0.0, 1, 0.0, "1050.00", True),        # not quality: 50 + 1000
        "技术中心": (1, 1, 1, 100.0, 0, 100.0, "100.00", False),
    }
    # Worst first.
    assert [r["unit"] for r in data["units"]] == ["储运部", "生产一部", "生产二部", "技术中心"]
    # The special complaint (and the malicious one, never dispatched) are out.
    assert data["excluded"] == 1
    people = {(r["unit"], r["person"]): (r["cases"], r["penalty"]) for r in data["people"]}
    assert people == {("生产一部", "赵磊"): (2, "2000.00"), ("生产二部", "钱进"): (3, "2000.00"),
                      ("技术中心", "TECH经办"): (1, "0.00"), ("储运部", ""): (1, "2000.00")}


def test_bottom_three_ties_and_too_few_departments():
    def row(uid, rate, att=100.0, overdue=0):
        return {"unit_id": uid, "valid": 1, "rate_48h": rate, "attainment": att, "overdue": overdue}
    assert asm.bottom_units([row(1, 10.0), row(2, 20.0), row(3, 30.0)]) == set()
    assert asm.bottom_units([row(1, 10.0), row(2, 20.0), row(3, 30.0), row(4, 30.0), row(5, 90.0)]) == {1, 2, 3, 4}
    assert asm.bottom_units([row(1, 50.0, 50.0, 2), row(2, 50.0, 50.0, 1), row(3, 50.0, 60.0), row(4, 60.0),
                             {**row(5, None), "valid": 0}]) == {1, 2, 3}


def test_frozen_month_signed_and_unmoved_by_later_changes(month):
    before = asm.compute(month)
    with pytest.raises(PermissionDenied):
        asm.freeze_month(user("leader_prod1"), month, PASSWORD)
    with pytest.raises(ValidationError):
        asm.freeze_month(user("leader_qa"), month, "wrong")
    db.session.rollback()
    with pytest.raises(ValidationError):
        asm.freeze_month(user("leader_qa"), _month_ago(0), PASSWORD)
    signatures = count(Signature)
    assert count(asm.AssessmentMonth) == 0

    record = asm.freeze_month(user("leader_qa"), month, PASSWORD)
    assert count(Signature) == signatures + 1
    assert record.signature.printed_name == "王军" and record.signature.content == record.snapshot
    assert db.session.execute(sa.select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1)
                              ).scalar_one() == "assessment_frozen"
    with pytest.raises(Conflict):
        asm.freeze_month(user("leader_qa"), month, PASSWORD)
    db.session.rollback()

    # Later changes: one more case of that month reaches 技术中心 (registered back then), and
    # quality doubles a rule.
    _go_to(datetime(month.year, month.month, 20, 9, tzinfo=SHANGHAI))
    _verified(make_case(), "TECH")
    clock.reset()
    rule = db.session.execute(sa.select(asm.PenaltyRule).where(asm.PenaltyRule.name == "超时限")).scalar_one()
    asm.update_rule(user("leader_qa"), rule, rule.version, active=True, name="超时限", target="unit",
                    basis="overdue", hours=None, category_id=None, amount="100")
    assert _by_unit(asm.compute(month))["生产一部"]["penalty"] == "1300.00"
    assert _by_unit(asm.compute(month))["技术中心"]["cases"] == 2
    frozen = asm.table(month, user("leader_qa"))
    assert _by_unit(frozen)["技术中心"]["cases"] == 1
    assert {k: v for k, v in frozen.items() if k != "record"} == before | {"asof": frozen["asof"]}


def test_rules_refused_with_a_message(rules):
    with pytest.raises(ValidationError) as refused:
        asm.add_rule(user("leader_qa"), name="", target="person", basis="bottom_three", hours=None,
                     category_id=None, amount="-1")
    assert "请填写规则名称" in refused.value.message and "只能罚责任部门" in refused.value.message
    with pytest.raises(PermissionDenied):
        asm.add_rule(user("leader_prod1"), name="x", target="unit", basis="overdue", hours=None,
                     category_id=None, amount="1")
    db.session.rollback()
    assert count(asm.PenaltyRule) == 4


def test_assessment_page_export_and_pdf(month, app):
    m = month.strftime("%Y-%m")
    qa, token = signed_in(app, "leader_qa")
    page = qa.get(f"/reports/assessment/?month={m}").get_data(as_text=True)
    assert page.count('class="bottom-three"') == 3 and "技术中心" in page and "冻结并签署" in page

    # A department leader sees their own department only; a rep no reports at all.
    own = signed_in(app, "leader_prod1")[0].get(f"/reports/assessment/?month={m}").get_data(as_text=True)
    assert "生产一部" in own and "储运部" not in own
    assert signed_in(app, "rep_cd")[0].get("/reports/assessment/").status_code == 403

    draft = qa.get(f"/reports/assessment/{m}/pdf").data
    if shutil.which("pdftotext"):
        assert "草稿" in _pdf_text(draft)
    refused = qa.post(f"/reports/assessment/{m}/freeze", data={"csrf_token": token, "password": "nope"})
    assert refused.status_code == 400 and "签名密码不正确" in refused.get_data(as_text=True)
    assert count(asm.AssessmentMonth) == 0
    done = qa.post(f"/reports/assessment/{m}/freeze", data={"csrf_token": token, "password": PASSWORD})
    assert done.status_code == 303
    page = qa.get(f"/reports/assessment/?month={m}").get_data(as_text=True)
    assert "已冻结签署" in page and "王军" in page and 'name="password"' not in page

    xlsx = qa.get(f"/reports/assessment/{m}/export.xlsx")
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True).active
    lines = [[c for c in r] for r in sheet.iter_rows(values_only=True)]
    assert lines[0][0] == "部门" and lines[1][:3] == ["储运部", "（部门合计）", 1]
    text = qa.get(f"/reports/assessment/{m}/export.csv").data.decode("utf-8-sig")
    assert ["生产二部", "（部门合计）", "3", "3", "2", "66.7", "1", "66.7", "1350.00", "是"] in list(csv.reader(io.StringIO(text)))

    pdf = qa.get(f"/reports/assessment/{m}/pdf")
    assert pdf.status_code == 200 and pdf.data[:4] == b"%PDF"
    if shutil.which("pdftotext"):
        out = _pdf_text(pdf.data)
        assert "部门考核" in out and "后三名" in out and "王军" in out and "草稿" not in out


def test_rules_page_adds_refuses_and_reports_a_conflict(rules, app):
    qa, token = signed_in(app, "leader_qa")
    form = {"csrf_token": token, "name": "配件投诉", "target": "unit", "basis": "valid_case", "hours": "",
            "category_id": str(category("parts_supply").id), "amount": "10000"}
    assert qa.post("/reports/assessment/rules", data=form).status_code == 303
    rule = db.session.execute(sa.select(asm.PenaltyRule).where(asm.PenaltyRule.name == "配件投诉")).scalar_one()
    assert rule.description == "每件成立的投诉（限：配件供应）" and str(rule.amount) == "10000.00"

    bad = qa.post("/reports/assessment/rules", data={**form, "basis": "not_closed_within", "hours": "abc"})
    assert bad.status_code == 400 and "请填写 1–744 之间的小时数" in bad.get_data(as_text=True)
    assert count(asm.PenaltyRule) == 5

    edit = {**form, "version": str(rule.version), "amount": "8000", "active": "1"}
    assert qa.post(f"/reports/assessment/rules/{rule.id}", data=edit).status_code == 303
    stale = qa.post(f"/reports/assessment/rules/{rule.id}", data={**edit, "amount": "1"})
    assert stale.status_code == 409 and "刚被别人修改过" in stale.get_data(as_text=True)
    db.session.refresh(rule)
    assert str(rule.amount) == "8000.00"
    assert signed_in(app, "leader_prod1")[0].get("/reports/assessment/rules").status_code == 403

"""A corrective-action sheet through its workflow in the pages, each step by its role:
issued (signed) → answered with a 5-Why → approved (signed) → verified (signed) → closed,
or sent back with the reason."""
from __future__ import annotations

import re

import sqlalchemy as sa

from portal.capa.states import SheetState
from portal.clock import local, utcnow
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.signing.models import AuditEvent, Signature
from tests.capa.conftest import WHYS, fresh, post, respond_form, told
from tests.conftest import PASSWORD, make_case, make_sheet_at, signed_in, unit, user


def test_sheet_from_a_case_through_every_step_to_closed(app):
    case = make_case()
    quality, qt = signed_in(app, "quality")

    # The case page offers quality the sheet; the form starts from the case.
    page = quality.get(f"/cases/{case.number}").get_data(as_text=True)
    assert f"/ca/new?case={case.number}" in page
    form = quality.get(f"/ca/new?case={case.number}").get_data(as_text=True)
    assert case.number in form and "水饺中吃出一根头发" in form
    assert re.search(r'<option selected value="%d">生产一部' % unit("PROD1").id, form) or \
        re.search(r'value="%d" selected' % unit("PROD1").id, form)

    resp = quality.post("/ca/new", data={"csrf_token": qt, "case_numbers": case.number,
                                         "receiving_unit_id": str(unit("PROD1").id), "layout": "standard",
                                         "nonconformity": "三鲜水饺中吃出头发", "password": PASSWORD})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:800]
    year = local(utcnow()).year
    number = f"CA{year}-0001"
    assert resp.headers["Location"].endswith(f"/ca/{number}")
    sheet = fresh(number)
    assert sheet.state == SheetState.ISSUED and [c.number for c in sheet.cases] == [case.number]
    assert sheet.batch_no == case.batch_no and sheet.due_at is not None
    assert told("handler_prod1", number) == [f"【纠正预防单】{number} 待您回复"]
    handler, ht = signed_in(app, "handler_prod1")
    message_id = db.session.execute(sa.select(OutboxMessage.id).where(
        OutboxMessage.recipient_id == user("handler_prod1").id, OutboxMessage.channel == "inapp")).scalar_one()
    bell = handler.get(f"/bell/{message_id}")  # the bell takes the handler to the sheet
    assert bell.status_code == 303 and bell.headers["Location"].endswith(f"/ca/{number}")

    # The department's handler answers with a 5-Why chain of three.
    page = handler.get(f"/ca/{number}").get_data(as_text=True)
    assert 'id="panel-respond"' in page
    resp = post(handler, ht, number, "respond", sheet.version, **respond_form())
    assert resp.status_code == 303, resp.get_data(as_text=True)[:800]
    sheet = fresh(number)
    assert sheet.state == SheetState.RESPONDED and sheet.whys == WHYS[:3]
    assert told("leader_prod1", number) == [f"【纠正预防单】{number} 待您批准"]

    # The leader approves, signing with the password; my work points to the sheet.
    leader, lt = signed_in(app, "leader_prod1")
    assert "纠正预防单待您处理：1 份" in leader.get("/work").get_data(as_text=True)
    assert "纠正预防单待您处理" not in handler.get("/work").get_data(as_text=True)
    resp = post(leader, lt, number, "approve", sheet.version, password=PASSWORD, comment="同意，按期完成")
    assert resp.status_code == 303
    sheet = fresh(number)
    assert sheet.state == SheetState.APPROVED
    assert told("quality", number) == [f"【纠正预防单】{number} 待您验证效果"]

    # Quality verifies the effect: effective, the sheet closes.
    resp = post(quality, qt, number, "verify", sheet.version, effective="yes",
                evidence="复查两周，同类投诉为零", verified_on=local(utcnow()).date().isoformat(),
                password=PASSWORD)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:800]
    sheet = fresh(number)
    assert sheet.state == SheetState.CLOSED and sheet.closed_at is not None and sheet.effective is True

    signatures = db.session.execute(sa.select(Signature).where(
        Signature.object_type == "corrective_action", Signature.object_id == sheet.id)
        .order_by(Signature.id)).scalars().all()
    assert [(s.meaning.value, s.printed_name) for s in signatures] == [
        ("issue", "李强"), ("approve", "陈刚"), ("verify", "李强")]
    assert signatures[1].content["whys"] == WHYS[:3]
    actions = db.session.execute(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "corrective_action", AuditEvent.object_id == sheet.id)
        .order_by(AuditEvent.seq)).scalars().all()
    assert actions == ["ca_issued", "ca_responded", "ca_approved", "ca_verified"]

    # The page shows the chain and the three signatures; the case page lists the sheet.
    page = handler.get(f"/ca/{number}").get_data(as_text=True)
    assert "已关闭" in page and all(w in page for w in WHYS[:3])
    assert page.count('class="signature"') == 3 and 'id="panel-' not in page
    timeline = page[page.index('class="timeline"'):]
    assert "品保签发" in timeline and "品保验证有效，关闭" in timeline
    rep, _t = signed_in(app, "rep_cd")  # the rep who registered the case follows it there
    case_page = rep.get(f"/cases/{case.number}").get_data(as_text=True)
    assert f'href="/ca/{number}"' in case_page and "开纠正预防单" not in case_page
    assert number in handler.get("/ca/?state=closed").get_data(as_text=True)


def test_not_effective_goes_back_to_the_department_with_the_reason(app):
    sheet = make_sheet_at("approved")
    quality, qt = signed_in(app, "quality")
    resp = post(quality, qt, sheet.number, "verify", sheet.version, effective="no",
                evidence="复查一周又有两起同类投诉", verified_on=local(utcnow()).date().isoformat(),
                reason="发帽点检未执行", password=PASSWORD)
    assert resp.status_code == 303
    sheet = fresh(sheet.number)
    assert sheet.state == SheetState.RETURNED and sheet.return_reason == "发帽点检未执行"
    assert sheet.return_count == 1
    assert f"【纠正预防单】{sheet.number} 待您重新整改并回复" in told("handler_prod1", sheet.number)

    # The handler revises the last answer (the form holds it) and the reason is shown.
    handler, ht = signed_in(app, "handler_prod1")
    page = handler.get(f"/ca/{sheet.number}").get_data(as_text=True)
    assert "退回原因：发帽点检未执行" in page and "同批次库存复检，更换发帽供应。" in page
    resp = post(handler, ht, sheet.number, "respond", sheet.version, **respond_form(why_4=WHYS[3]))
    assert resp.status_code == 303
    assert fresh(sheet.number).whys == WHYS[:4]


def test_leader_sends_back_with_a_signed_reason(app):
    sheet = make_sheet_at("responded")
    leader, lt = signed_in(app, "leader_prod1")
    resp = post(leader, lt, sheet.number, "send_back", sheet.version, password=PASSWORD, comment="")
    assert resp.status_code == 400 and "退回意见" in resp.get_data(as_text=True)
    assert fresh(sheet.number).state == SheetState.RESPONDED
    resp = post(leader, lt, sheet.number, "send_back", sheet.version, password=PASSWORD,
                comment="预防措施不具体")
    assert resp.status_code == 303
    sheet = fresh(sheet.number)
    assert sheet.state == SheetState.RETURNED and sheet.return_reason == "预防措施不具体"
    meaning = db.session.execute(sa.select(Signature.meaning).where(
        Signature.object_type == "corrective_action", Signature.object_id == sheet.id)
        .order_by(Signature.id.desc()).limit(1)).scalar_one()
    assert meaning.value == "reject"

"""A sheet refuses bad input in Chinese and keeps nothing of it; a stale page is a conflict
shown in the page; numbers CA<year>-<4 digits> have no gaps, even under parallel issues."""
from __future__ import annotations

import re
import threading
import traceback

import pytest
import sqlalchemy as sa

from portal.capa import operations as ops
from portal.capa.models import CorrectiveAction, SheetCounter
from portal.capa.states import SheetState
from portal.clock import SHANGHAI, local, utcnow
from portal.errors import ValidationError
from portal.extensions import db
from portal.signing.audit import verify_chain
from portal.signing.models import AuditEvent, Signature
from tests.capa.conftest import WHYS, approve, fresh, issue, post, respond, respond_form
from tests.conftest import PASSWORD, count, make_case, make_sheet_at, signed_in, unit, user


def footprint(sheet) -> tuple:
    """What a refused step must leave untouched."""
    s = fresh(sheet.number)
    events = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "corrective_action", AuditEvent.object_id == s.id)).scalar_one()
    return s.state, s.version, s.whys, events, count(Signature)


@pytest.mark.parametrize("fields, message", [
    ({"why_1": "", "why_2": "", "why_3": ""}, "请至少回答第一个“为什么”。"),
    ({"why_2": ""}, "第 2 个“为什么”不能空着"),
    ({"correction": ""}, "纠正措施"),
    ({"due_date": "2020-01-01"}, "完成日期不能早于今天。"),
    ({"owner_id": None}, "责任人：不是有效的选择。"),  # not a person of the receiving department
])
def test_bad_answer_is_refused_in_chinese_and_nothing_is_kept(app, fields, message):
    sheet = make_sheet_at("issued")
    before = footprint(sheet)
    client, token = signed_in(app, "handler_prod1")
    if fields.get("owner_id", "") is None:
        fields = {"owner_id": str(user("handler_prod2").id)}  # not of the receiving department
    resp = post(client, token, sheet.number, "respond", sheet.version, **respond_form(**fields))
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert message in page and 'id="panel-respond"' in page
    assert footprint(sheet) == before


def test_wrong_password_signs_nothing_and_gives_no_number_away(app):
    case = make_case()
    client, token = signed_in(app, "quality")
    form = {"csrf_token": token, "case_numbers": case.number, "layout": "standard",
            "receiving_unit_id": str(unit("PROD1").id), "nonconformity": "馅料异物"}
    resp = client.post("/ca/new", data={**form, "password": "wrong"})
    assert resp.status_code == 400 and "签名密码不正确" in resp.get_data(as_text=True)
    resp = client.post("/ca/new", data={**form, "case_numbers": "KS2026-999999", "password": PASSWORD})
    assert resp.status_code == 400 and "找不到投诉：KS2026-999999" in resp.get_data(as_text=True)
    assert count(CorrectiveAction) == 0 and count(Signature) == 0
    assert client.post("/ca/new", data={**form, "password": PASSWORD}).status_code == 303
    year = local(utcnow()).year
    assert db.session.execute(sa.select(CorrectiveAction.number)).scalar_one() == f"CA{year}-0001"


def test_department_without_handlers_is_refused_by_name(app):
    with pytest.raises(ValidationError, match="「法务部」目前没有在岗的经办人"):
        issue(receiving="LEGAL")
    assert count(CorrectiveAction) == 0


def test_stale_page_is_a_conflict_shown_in_the_page(app):
    sheet = make_sheet_at("issued")
    stale = sheet.version
    client, token = signed_in(app, "handler_prod1")
    assert post(client, token, sheet.number, "respond", stale, **respond_form()).status_code == 303
    # The same page, sent again from a second tab: the sheet has moved on.
    resp = post(client, token, sheet.number, "respond", stale, **respond_form(why_1="另一个答案"))
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert f"纠正预防单 {sheet.number} 已被他人修改，当前状态为「待部门领导批准」" in page
    assert fresh(sheet.number).whys == WHYS[:3]


def test_verification_date_must_follow_the_approval(app):
    sheet = make_sheet_at("approved")
    client, token = signed_in(app, "quality")
    resp = post(client, token, sheet.number, "verify", sheet.version, effective="yes", evidence="复查",
                verified_on="2020-01-01", password=PASSWORD)
    assert resp.status_code == 400 and "验证日期须在部门领导批准之后" in resp.get_data(as_text=True)
    resp = post(client, token, sheet.number, "verify", sheet.version, effective="no", evidence="复查",
                verified_on=local(utcnow()).date().isoformat(), password=PASSWORD)
    assert resp.status_code == 400 and "退回原因" in resp.get_data(as_text=True)
    assert fresh(sheet.number).state == SheetState.APPROVED


def test_new_form_from_several_cases_names_them_all(app):
    a, b = make_case(customer_name="甲"), make_case(customer_name="乙", batch_no="2026090110101")
    client, _t = signed_in(app, "quality")
    page = client.get(f"/ca/new?case={a.number}&case={b.number}").get_data(as_text=True)
    assert f"{a.number}\n{b.number}" in page
    sheet = issue([a.number, b.number])
    assert [c.number for c in sheet.cases] == [a.number, b.number]
    for case in (a, b):  # each case's page lists the sheet
        assert f'href="/ca/{sheet.number}"' in client.get(f"/cases/{case.number}").get_data(as_text=True)
    rep, _t = signed_in(app, "rep_cd")
    assert client.get("/ca/new").status_code == 200 and rep.get("/ca/new").status_code == 403


def test_one_sheet_for_a_whole_batch_links_its_cases(app):
    cases = [make_case(customer_name=f"顾客{i}") for i in range(3)]
    make_case(batch_no="2026090110101")  # another batch: not on the sheet
    client, token = signed_in(app, "quality")
    page = client.get("/ca/new?batch_no=2026090110100&cluster=7").get_data(as_text=True)
    assert all(c.number in page for c in cases) and 'value="7"' in page
    sheet = issue(batch_no="2026090110100", case_numbers=[c.number for c in cases])
    assert sorted(c.number for c in sheet.cases) == sorted(c.number for c in cases)
    assert sheet.product_name == "三鲜水饺" and sheet.production_date is not None


def test_parallel_issues_get_consecutive_numbers(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks on the counter are a PostgreSQL check; SQLite writes one at a time")
    number = make_case().number
    n = 12
    start, numbers, errors, lock = threading.Barrier(n), [], [], threading.Lock()

    def one():
        try:
            with app.app_context():
                start.wait(timeout=30)
                sheet = ops.issue_sheet(user("quality"), PASSWORD, receiving_unit_id=unit("PROD1").id,
                                        nonconformity="异物", case_numbers=[number])
                with lock:
                    numbers.append(sheet.number)
                db.session.remove()
        except Exception:  # noqa: BLE001 - reported below
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[0]
    year = utcnow().astimezone(SHANGHAI).year
    assert sorted(numbers) == [f"CA{year}-{i:04d}" for i in range(1, n + 1)]
    db.session.expire_all()
    assert db.session.get(SheetCounter, year).last == n
    ok, message = verify_chain()
    assert ok, message


def test_issue_form_sent_twice_issues_one_sheet(app):
    case = make_case()
    client, token = signed_in(app, "quality")
    page = client.get(f"/ca/new?case={case.number}").get_data(as_text=True)
    key = re.search(r'name="issue_key" type="hidden" value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "case_numbers": case.number, "layout": "standard", "issue_key": key,
            "receiving_unit_id": str(unit("PROD1").id), "nonconformity": "馅料异物", "password": PASSWORD}
    first = client.post("/ca/new", data=form)
    again = client.post("/ca/new", data=form)  # Back, then submit once more
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert count(CorrectiveAction) == 1 and count(SheetCounter) == 1
    assert "这份纠正预防单已经签发过" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_time_limits_count_working_days_of_the_holiday_calendar(app):
    """Issued on a Friday at 16:00: the answer is due three working days on (Wednesday 16:00);
    answered at once, the leader's one working day ends on Monday 16:00; quality verifies within
    five working days after the owner's date (the end of that day)."""
    from datetime import datetime, time, timedelta

    from portal import clock
    from portal.sla.models import Holiday
    db.session.execute(sa.delete(Holiday))  # weekends only: the test must not meet a festival
    db.session.commit()
    now = local(utcnow())
    friday = (now + timedelta(days=(4 - now.weekday()) % 7 + 7)).replace(hour=16, minute=0, second=0,
                                                                         microsecond=0)
    clock.travel(friday - now)

    def due(sheet):
        return local(sheet.due_at).replace(second=0, microsecond=0)
    sheet = make_sheet_at("issued")
    assert due(sheet) == friday + timedelta(days=5)  # Mon, Tue, Wed
    respond(sheet)
    assert due(sheet) == friday + timedelta(days=3)  # Monday 16:00
    approve(sheet)
    # The owner's date is a week after the Friday; five working days after its end.
    assert due(sheet) == datetime.combine(sheet.due_date + timedelta(days=7), time(17, 30), SHANGHAI)


def test_overdue_sheet_tells_its_holders_and_issuer_once(app):
    from datetime import timedelta

    from portal import clock
    from portal.notify.models import OutboxMessage
    sheet = make_sheet_at("issued")
    assert ops.remind_overdue() == 0
    clock.travel(timedelta(days=8))  # past three working days, whatever the weekday
    assert ops.remind_overdue() > 0
    assert ops.remind_overdue() == 0  # once per step and due time
    told = db.session.execute(sa.select(OutboxMessage.recipient_id).where(
        OutboxMessage.kind == "reminder", OutboxMessage.channel == "inapp",
        OutboxMessage.key.startswith(f"ca:{sheet.id}:"))).scalars().all()
    assert sorted(told) == sorted([user("handler_prod1").id, user("quality").id])
    assert fresh(sheet.number).version == sheet.version


def test_two_handlers_answering_at_once_one_wins_nothing_lost(app):
    """Two handlers of the department send their answers to the same page version at the
    same moment: one answer stands, the other is told of the conflict; one event, no mix."""
    from portal.errors import Conflict
    from tests.conftest import make_user
    make_user("handler_prod1b", "PROD1", ["handler"], name="孙伟")
    sheet = make_sheet_at("issued")
    number, version = sheet.number, sheet.version
    start, results, lock = threading.Barrier(2), [], threading.Lock()

    def answer(username: str, first_why: str):
        try:
            with app.app_context():
                s = db.session.execute(sa.select(CorrectiveAction).where(
                    CorrectiveAction.number == number)).scalar_one()
                start.wait(timeout=30)
                try:
                    ops.respond(s, user(username), version, investigation="当日记录", whys=[first_why],
                                correction="隔离", prevention="点检", owner_id=user(username).id,
                                due_date=local(utcnow()).date())
                    outcome = "ok"
                except Conflict as exc:
                    outcome = exc.message
                with lock:
                    results.append((username, first_why, outcome))
                db.session.remove()
        except Exception:  # noqa: BLE001 - reported below
            with lock:
                results.append((username, first_why, traceback.format_exc()))

    threads = [threading.Thread(target=answer, args=a) for a in
               (("handler_prod1", "甲的原因"), ("handler_prod1b", "乙的原因"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    winners = [r for r in results if r[2] == "ok"]
    losers = [r for r in results if r[2] != "ok"]
    assert len(winners) == 1 and len(losers) == 1, results
    assert f"纠正预防单 {number}" in losers[0][2]
    s = fresh(number)
    assert s.whys == [winners[0][1]] and s.responded_by.username == winners[0][0]
    events = db.session.execute(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "corrective_action", AuditEvent.object_id == s.id)
        .order_by(AuditEvent.seq)).scalars().all()
    assert events == ["ca_issued", "ca_responded"]

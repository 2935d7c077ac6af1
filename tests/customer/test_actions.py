"""What the customer does on their page: add what was asked (with photos), rate the result on
the five dimensions, appeal an outcome (申诉) — each lands in the case as a staff step would,
and what is refused changes nothing."""
from __future__ import annotations

import io
import re

import sqlalchemy as sa

from portal.cases import operations as ops
from portal.cases.enums import Channel, Kind, Klass, Validity
from portal.cases.models import Attachment, Case
from portal.cases.states import State, Step
from portal.customer.models import CustomerAppeal, CustomerRating
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.org.service import is_service
from tests.conftest import category, footprint, jpeg_bytes, last_event, make_case, make_case_at, user
from tests.customer.conftest import page_path

ALL_FIVE = {"score_quality": "5", "score_speed": "4", "score_attitude": "5", "score_info": "3", "score_safety": "5"}


def fresh(case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def told_users(case, since_id: int = 0) -> set[str]:
    db.session.expire_all()
    from portal.org.models import User
    return set(db.session.execute(
        sa.select(User.username).join(OutboxMessage, OutboxMessage.recipient_id == User.id)
        .where(OutboxMessage.case_id == case.id, OutboxMessage.id > since_id)).scalars())


def last_outbox_id() -> int:
    return db.session.execute(sa.select(sa.func.coalesce(sa.func.max(OutboxMessage.id), 0))).scalar_one()


# ---------------------------------------------------------------- 补充信息

def test_the_customer_adds_what_was_asked_with_a_photo_and_it_goes_to_the_desk(app, customer, post_as_customer):
    case = make_case_at("info_requested")  # the desk asked: 请补拍包装上的批号
    html = customer.get(page_path(case)).get_data(as_text=True)
    assert "需要您补充信息" in html and "请补拍包装上的批号" in html
    mark = last_outbox_id()
    resp = post_as_customer(case, "info", "supply", {"reply": "批号是 2026090110100，照片已拍"},
                            files={"supply-photos": (io.BytesIO(jpeg_bytes()), "批号.jpg")})
    assert resp.status_code == 302
    case = fresh(case)
    assert (case.state, case.step, case.info_reply) == (State.NEW, Step.VERIFY, "批号是 2026090110100，照片已拍")
    [photo] = [a for a in case.attachments if a.original_name == "批号.jpg"]
    assert is_service(photo.uploaded_by) and photo.content_type == "image/jpeg"
    event = last_event(case)
    assert (event.action, event.actor_name) == ("info_supplied", "顾客")
    assert "desk" in told_users(case, mark)  # the desk verifies it now
    assert "已收到您补充的信息" in customer.get(page_path(case)).get_data(as_text=True)


def test_a_file_that_is_no_photo_is_refused_beside_the_field_and_nothing_changes(app, customer, post_as_customer):
    case = make_case_at("info_requested")
    before = footprint(case)
    resp = post_as_customer(case, "info", "supply", {"reply": "见附件"},
                            files={"supply-photos": (io.BytesIO(b"MZ\x90\x00 not a photo"), "virus.exe")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and ("格式不受支持" in html or "不是可识别的照片" in html)
    assert "见附件" in html  # what they typed is still there
    assert footprint(case) == before


def test_an_empty_reply_is_refused_with_the_reason(app, post_as_customer):
    case = make_case_at("info_requested")
    before = footprint(case)
    resp = post_as_customer(case, "info", "supply", {"reply": "  "})
    assert resp.status_code == 400 and "请填写补充说明" in resp.get_data(as_text=True)
    assert footprint(case) == before


def test_information_cannot_be_added_when_nobody_asked(app, customer, post_as_customer):
    case = make_case()
    assert 'id="cp-supply"' not in customer.get(page_path(case)).get_data(as_text=True)
    before = footprint(case)
    resp = post_as_customer(case, "info", "supply", {"reply": "再说一句"}, version=str(case.version))
    assert resp.status_code == 409 and footprint(case) == before


# ---------------------------------------------------------------- 评价

def test_the_customer_rates_the_result_and_the_desk_sees_it_on_the_case_page(app, customer, post_as_customer, as_user):
    case = make_case_at("implemented")  # 等待您确认: the result is there
    assert 'id="cp-rate"' in customer.get(page_path(case)).get_data(as_text=True)
    resp = post_as_customer(case, "rate", "rating", {**ALL_FIVE, "comment": "送货很及时"})
    assert resp.status_code == 302
    [rating] = db.session.execute(sa.select(CustomerRating)).scalars().all()
    assert rating.scores == {"质量高": 5, "办理快": 4, "态度好": 5, "信息准": 3, "够安全": 5}
    assert last_event(case).action == "customer_rated"
    html = customer.get(page_path(case)).get_data(as_text=True)
    assert 'id="cp-rated"' in html and 'id="cp-rate"' not in html  # once per result
    staff = as_user("desk").get(f"/cases/{case.number}").get_data(as_text=True)
    card = staff[staff.index('id="customer-link"'):]
    assert "顾客评价" in card and "送货很及时" in card and "★★★★☆" in card


def test_a_rating_needs_all_five_scores(app, post_as_customer):
    case = make_case_at("implemented")
    resp = post_as_customer(case, "rate", "rating", {"score_quality": "5"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "请为每一项打分" in html and html.count("请选择 1–5 分") == 4
    assert db.session.execute(sa.select(sa.func.count()).select_from(CustomerRating)).scalar_one() == 0


def test_rating_twice_is_refused(app, post_as_customer):
    case = make_case_at("implemented")
    page = post_as_customer(case, "rate", "rating", ALL_FIVE)
    assert page.status_code == 302
    again = post_as_customer(case, "rate", "rating", ALL_FIVE, version=str(fresh(case).version))
    assert again.status_code == 409
    assert db.session.execute(sa.select(sa.func.count()).select_from(CustomerRating)).scalar_one() == 1


def test_nothing_to_rate_before_there_is_a_result(app, customer):
    case = make_case_at("dispatched")
    assert 'id="cp-rate"' not in customer.get(page_path(case)).get_data(as_text=True)


# ---------------------------------------------------------------- 申诉

def test_an_appeal_of_a_closed_case_reopens_it_for_the_desk_with_the_appeal_in_the_timeline(
        app, customer, post_as_customer, as_user):
    case = make_case_at("closed")
    mark = last_outbox_id()
    resp = post_as_customer(case, "appeal", "appeal", {"reason": "十袋产品有五袋也破损了，不接受"})
    assert resp.status_code == 302
    case = fresh(case)
    assert (case.state, case.step, case.closed_at, case.reopen_count) == (State.VERIFIED, Step.DISPATCH, None, 1)
    event = last_event(case)
    assert (event.action, event.actor_name, event.note) == ("customer_appealed", "顾客", "十袋产品有五袋也破损了，不接受")
    assert "desk" in told_users(case, mark)
    html = customer.get(page_path(case)).get_data(as_text=True)
    assert 'id="cp-appeal-pending"' in html and "申诉正在处理中" in html
    desk = as_user("desk")
    staff = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "顾客申诉，退回客服重新处理" in staff and "十袋产品有五袋也破损了" in staff
    assert 'id="panel-dispatch"' in staff  # the desk can send it on again


def test_an_appeal_lifts_the_case_one_level_up_the_ladder_as_a_rejected_result_does(app, post_as_customer):
    from portal.escalation.enums import Trigger
    from portal.escalation.models import CaseEscalation
    case = make_case_at("closed")
    level = case.ladder_level
    assert post_as_customer(case, "appeal", "appeal", {"reason": "不接受处理结果"}).status_code == 302
    case = fresh(case)
    assert case.ladder_level == level + 1  # PROCEDURES §5: the customer rejects the solution
    [esc] = db.session.execute(sa.select(CaseEscalation).where(CaseEscalation.case_id == case.id)).scalars().all()
    assert esc.trigger == Trigger.CUSTOMER_REJECTED


def test_an_appeal_of_a_refused_complaint_goes_back_to_verification(app, post_as_customer):
    case = make_case("desk", channel=Channel.HOTLINE)
    ops.verify_case(case, user("desk"), case.version, validity=Validity.NOT_VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id, reason="产品已过保质期")
    resp = post_as_customer(case, "appeal", "appeal", {"reason": "购买时还在保质期内，有小票"})
    assert resp.status_code == 302
    case = fresh(case)
    assert (case.state, case.step, case.validity, case.closed_at) == (State.NEW, Step.VERIFY, Validity.PENDING, None)
    [appeal] = db.session.execute(sa.select(CustomerAppeal)).scalars().all()
    assert appeal.state_from == "rejected"


def test_an_appeal_while_the_result_awaits_confirmation_counts_as_not_accepted(app, post_as_customer):
    case = make_case_at("implemented")
    assert post_as_customer(case, "appeal", "appeal", {"reason": "补偿不够"}).status_code == 302
    case = fresh(case)
    assert (case.state, case.callback_rejections) == (State.VERIFIED, 1)


def test_an_appeal_needs_a_reason_and_cannot_be_made_while_the_case_is_open(app, post_as_customer):
    closed = make_case_at("closed")
    before = footprint(closed)
    resp = post_as_customer(closed, "appeal", "appeal", {"reason": ""})
    assert resp.status_code == 400 and "请填写申诉理由" in resp.get_data(as_text=True)
    assert footprint(closed) == before
    open_case = make_case_at("dispatched")
    before = footprint(open_case)
    resp = post_as_customer(open_case, "appeal", "appeal", {"reason": "太慢了"}, version=str(open_case.version))
    assert resp.status_code == 409 and footprint(open_case) == before


def test_a_page_left_open_while_staff_acted_is_told_and_changes_nothing(app, customer, post_as_customer):
    case = make_case_at("implemented")
    stale = str(case.version)
    ops.record_callback(case, user("rep_cd"), case.version, reached=True, satisfied=True,
                        scores={"score_quality": 4}, comment=None)
    before = footprint(case)
    resp = post_as_customer(case, "appeal", "appeal", {"reason": "不满意"}, version=stale)
    assert resp.status_code == 409 and "新进展" in resp.get_data(as_text=True)
    assert footprint(case) == before


# ---------------------------------------------------------------- the staff's side

def test_the_desk_prints_the_receipt_with_the_link_as_a_qr_code(app, as_user):
    case = make_case("desk", channel=Channel.HOTLINE)
    desk = as_user("desk")
    page = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    card = page[page.index('id="customer-link"'):]
    token = re.search(r"/p/([A-Za-z0-9_-]{22})", card).group(1)
    qr = desk.get(re.search(r'<img src="([^"]+qr\.svg)"', card).group(1))
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    receipt = desk.get(f"/cases/{case.number}/receipt")
    html = receipt.get_data(as_text=True)
    assert receipt.status_code == 200 and f"/p/{token}" in html and "<svg" in html and case.number in html
    assert "王秀英" not in html and "13912345678" not in html  # the receipt may be left on a counter


def test_a_new_link_revokes_the_old_one(app, as_user, customer, csrf):
    case = make_case("desk", channel=Channel.HOTLINE)
    old = page_path(case)
    desk = as_user("desk")
    token = csrf(desk, f"/cases/{case.number}")
    resp = desk.post(f"/cases/{case.number}/customer-link", data={"csrf_token": token})
    assert resp.status_code == 302
    assert customer.get(old).status_code == 404
    assert customer.get(page_path(case)).status_code == 200
    assert last_event(case).action == "customer_link_regenerated"


def test_someone_who_cannot_see_the_case_gets_neither_receipt_nor_link(app, as_user):
    case = make_case()  # 成都's rep
    other = as_user("rep_bj")
    assert other.get(f"/cases/{case.number}/receipt").status_code == 404
    assert other.post(f"/cases/{case.number}/customer-link", data={}).status_code in (400, 404)


def test_the_desk_is_told_its_question_reaches_the_customer(app, as_user):
    """What the desk asks for (要求补充信息) is shown word for word on the customer's page."""
    case = make_case_at("new")
    html = as_user("desk").get(f"/cases/{case.number}").get_data(as_text=True)
    panel = html[html.index('id="panel-request_info"'):]
    assert "顾客在进度页上也会看到这段话" in panel[:3000]


def test_the_staff_card_says_until_when_the_link_works_and_when_it_has_expired(app, as_user):
    """The card on the case page: an open case's link has no end; a closed case's works
    CUSTOMER_LINK_DAYS more, and after that the card says it has expired."""
    from datetime import timedelta
    from portal import clock

    def card(case) -> str:
        page = as_user("desk").get(f"/cases/{case.number}").get_data(as_text=True)
        return page[page.index('id="customer-link"'):].split("</section>", 1)[0]

    open_card = card(make_case())
    assert "/p/" in open_card and "有效期至" not in open_card and "链接已过期" not in open_card
    closed = make_case_at("closed")
    assert "有效期至" in card(closed) and "链接已过期" not in card(closed)
    clock.travel(timedelta(days=30, minutes=1))  # CUSTOMER_LINK_DAYS = 30 after closing
    try:
        late = card(closed)
    finally:
        clock.reset()
    assert "链接已过期（结案超过 30 天）" in late and "有效期至" not in late

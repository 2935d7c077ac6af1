"""The bell: a user's in-app messages, the unread count in the navigation, a message opened is
read and leads to its case."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.notify.models import OutboxMessage
from portal.notify.outbox import add_message, cancel_pending
from tests.conftest import leftover_chinese, make_case, propose, stored_texts, to_investigating, user


def inapp(username: str, case=None, kind: str = "step"):
    return db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.recipient_id == user(username).id, OutboxMessage.channel == "inapp",
        OutboxMessage.kind == kind,
        *([OutboxMessage.case_id == case.id] if case is not None else []))
        .order_by(OutboxMessage.id)).scalars().all()


def badge(client) -> str:
    html = client.get("/bell/count").get_data(as_text=True)
    m = re.search(r'<span class="badge[^"]*"[^>]*>([^<]+)</span>', html)
    return m.group(1) if m else ""


def test_leader_asked_to_approve_finds_it_in_the_bell_and_opens_the_case(app, as_user):
    leader = as_user("leader_prod1")
    assert badge(leader) == ""
    case = to_investigating(make_case(), klass=None)
    propose(case, cash=500)  # above the handler's authority: waits for the leader's decision
    [msg] = inapp("leader_prod1", case)
    assert msg.status == "unread" and case.number in msg.subject
    assert badge(leader) == "1"

    page = leader.get("/bell/").get_data(as_text=True)
    assert case.number in page and msg.subject in page and "未读" in page

    resp = leader.get(f"/bell/{msg.id}")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/cases/{case.number}")
    db.session.refresh(msg)
    assert msg.status == "read"
    assert badge(leader) == ""
    # Read stays read; opening it again still leads to the case.
    assert leader.get(f"/bell/{msg.id}").headers["Location"].endswith(f"/cases/{case.number}")


def test_nobody_opens_another_users_message(app, as_user):
    case = to_investigating(make_case())
    propose(case, cash=500)
    [msg] = inapp("leader_prod1", case)
    other = as_user("leader_prod2")
    assert other.get(f"/bell/{msg.id}").status_code == 404
    assert case.number not in other.get("/bell/").get_data(as_text=True)
    db.session.refresh(msg)
    assert msg.status == "unread"


def test_messages_newest_first_a_page_at_a_time(app, as_user):
    me = user("desk")
    start = utcnow() - timedelta(hours=2)
    for i in range(55):
        add_message(key=f"test:{i}", channel="inapp", recipient=me, subject=f"消息{i:02d}",
                    body="正文", send_after=start + timedelta(minutes=i))
    db.session.commit()
    desk = as_user("desk")
    first = desk.get("/bell/").get_data(as_text=True)
    subjects = re.findall(r'class="subject">(消息\d\d)<', first)
    # The newest rows, plus what intake of earlier tests may not have left (none: wiped).
    assert subjects[:3] == ["消息54", "消息53", "消息52"] and len(subjects) == 50
    assert "较早的消息" in first
    second = desk.get("/bell/?page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert re.findall(r'class="subject">(消息\d\d)<', second) == [f"消息{i:02d}" for i in range(4, -1, -1)]
    assert "<html" not in second and "较新的消息" in second and "较早的消息" not in second
    assert badge(desk) == "55"


def test_a_reminder_written_ahead_waits_for_its_time_and_a_cancelled_one_never_shows(app, as_user):
    case = make_case()
    me = user("desk")
    add_message(key="test:later", channel="inapp", recipient=me, subject="稍后的提醒", body="正文",
                case_id=case.id, kind="reminder", send_after=utcnow() + timedelta(minutes=30))
    add_message(key="test:cancelled", channel="inapp", recipient=me, subject="取消的提醒", body="正文",
                case_id=case.id, kind="reminder", send_after=utcnow() + timedelta(minutes=10))
    db.session.commit()
    desk = as_user("desk")
    before = badge(desk)
    assert "稍后的提醒" not in desk.get("/bell/").get_data(as_text=True)
    cancel_pending(case.id, kinds=("reminder",), now=utcnow())
    db.session.commit()
    from portal import clock
    clock.travel(timedelta(minutes=31))
    page = desk.get("/bell/").get_data(as_text=True)
    assert "稍后的提醒" not in page and "取消的提醒" not in page  # both cancelled: the step was done
    assert badge(desk) == before


def test_mark_all_read(app, as_user, csrf):
    me = user("quality")
    for i in range(3):
        add_message(key=f"test:{i}", channel="inapp", recipient=me, subject=f"消息{i}", body="正文")
    db.session.commit()
    client = as_user("quality")
    assert badge(client) == "3"
    token = csrf(client, "/bell/")
    resp = client.post("/bell/read-all", data={"csrf_token": token})
    assert resp.status_code == 303
    assert badge(client) == ""
    assert "已将 3 条消息标为已读" in client.get("/bell/").get_data(as_text=True)


def test_message_of_a_case_sent_elsewhere_opens_the_list_with_a_word(app, as_user):
    """A handler told of a case that was then re-dispatched away keeps the message, not the case."""
    from portal.cases import operations as ops
    from portal.cases.enums import Kind, Klass, Validity
    from tests.conftest import category, unit
    case = make_case()
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id)
    ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD1").id)
    [msg] = inapp("handler_prod1", case)
    ops.redispatch_case(case, user("desk"), case.version, unit_id=unit("PROD2").id, reason="汤圆是生产二部的产品")
    handler = as_user("handler_prod1")
    resp = handler.get(f"/bell/{msg.id}")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/bell/")
    assert "已不在您的处理范围内" in handler.get("/bell/").get_data(as_text=True)


def test_bell_in_the_navigation_and_the_list_in_english(app, as_user):
    case = to_investigating(make_case())
    propose(case, cash=500)
    leader = as_user("leader_prod1")
    home = leader.get("/work").get_data(as_text=True)
    assert 'id="bell-badge"' in home and 'hx-get="/bell/count"' in home
    html = leader.get("/bell/?lang=en").get_data(as_text=True)
    assert "Messages" in html and "Mark all as read" in html
    head, main = html.split('<main', 1)
    nav = head.split('id="bell"', 1)[1].split("</a>", 1)[0]
    assert not leftover_chinese(main, stored_texts()) and not leftover_chinese(nav, [])
    badge_html = leader.get("/bell/count?lang=en").get_data(as_text=True)
    assert "1 unread" in badge_html


def test_the_department_a_case_left_is_told_in_the_bell_too(app, as_user):
    from portal.cases import operations as ops
    from tests.conftest import make_case_at, unit
    case = make_case_at("dispatched")
    ops.redispatch_case(case, user("desk"), case.version, unit_id=unit("PROD2").id, reason="汤圆是生产二部的产品")
    [notice] = [m for m in inapp("handler_prod1", case) if "已改派至" in m.subject]
    assert "原因：汤圆是生产二部的产品" in notice.body and notice.status == "unread"


def test_a_step_a_colleague_did_no_longer_counts_in_the_bell(app, as_user):
    """Every desk person is told of a new case; once one has verified it, the others' bells stop
    counting it (the message stays in their list), and the next step's people are told afresh."""
    from portal.cases import operations as ops
    from portal.cases.enums import Kind, Klass, Validity
    from tests.conftest import category
    case = make_case()
    [told] = inapp("leader_cs", case)  # leader of the desk, a desk person too
    colleague = as_user("leader_cs")
    assert badge(colleague) == "1"
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id)
    db.session.refresh(told)
    assert told.status == "read" and told.sent_at is None  # not opened: overtaken
    waiting = [m for m in inapp("leader_cs", case) if m.status == "unread"]
    assert [m.subject for m in waiting] == [f"【客诉】{case.number} 待您分派"]  # the dispatch is next
    assert badge(colleague) == "1"
    page = colleague.get("/bell/").get_data(as_text=True)
    assert told.subject in page and waiting[0].subject in page

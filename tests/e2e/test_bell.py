"""The bell in Chromium: a leader sees the unread count rise, without reloading, when a case
escalates to them, and opens the case from the message (issue 11)."""
from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import make_case, to_investigating


def test_leader_sees_the_bell_rise_when_a_case_escalates_and_opens_the_case(app, login_as, monkeypatch):
    from portal.escalation.enums import Trigger
    from portal.escalation.operations import escalate
    from portal.extensions import db
    from portal.notify.models import OutboxMessage
    monkeypatch.setitem(app.config, "BELL_POLL_SECONDS", 1)  # the badge asks every second
    case = to_investigating(make_case())  # 生产一部's handler holds it; its leader is level 1

    from portal.notify import bell
    from tests.conftest import user
    before = bell.unread_count(user("leader_prod1"))
    leader = login_as("leader_prod1")
    expect(leader.locator("#bell")).to_be_visible()
    with leader.expect_response(lambda r: "/bell/count" in r.url):
        pass  # the badge asks again within a second: its answer is on the page from here on
    if before:
        expect(leader.locator("#bell-badge .badge")).to_have_text(str(before))
    else:
        expect(leader.locator("#bell-badge .badge")).to_have_count(0)

    escalate(case, Trigger.LIMIT_PASSED, key="e2e-limit-passed", step=case.step)
    db.session.commit()
    [msg] = db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.kind == "escalation",
        OutboxMessage.channel == "inapp")).scalars().all()

    # The page was not reloaded: the badge's own polling brings the new count.
    expect(leader.locator("#bell-badge .badge")).to_have_text(str(before + 1))

    leader.locator("#bell").click()
    leader.wait_for_url(re.compile(r"/bell/$"))
    item = leader.locator(".bell-messages li.unread", has_text=msg.subject)
    expect(item).to_contain_text(case.number)
    item.locator("a").click()
    leader.wait_for_url(re.compile(rf"/cases/{case.number}$"))
    expect(leader.locator("#case-main h1")).to_have_text(case.number)
    # Opened, so read: the count is back where it was, and the list says so.
    if before:
        expect(leader.locator("#bell-badge .badge")).to_have_text(str(before))
    else:
        expect(leader.locator("#bell-badge .badge")).to_have_count(0)
    leader.locator("#bell").click()
    expect(leader.locator(".bell-messages li.read", has_text=msg.subject)).to_have_count(1)

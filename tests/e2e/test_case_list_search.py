"""The case list on a phone: a Beijing date finds the case received at 04:11 that day, a
landline typed with its dash finds its case, and a rep is offered no other branch."""
from __future__ import annotations

import re
from datetime import datetime

from playwright.sync_api import expect

from portal import clock
from portal.clock import SHANGHAI
from tests.conftest import make_case
from tests.e2e.conftest import PHONE


def registered_at(local: str, **case_args):
    clock.reset()
    clock.travel(datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI) - clock.utcnow())
    try:
        return make_case(**case_args).number
    finally:
        clock.reset()


def test_date_and_phone_search_on_a_phone(app, login_as):
    early = registered_at("2026-09-02 04:11", customer_phone="13912345678")
    evening = registered_at("2026-09-01 21:30", customer_phone="0371-55551234")
    desk = login_as("desk", **PHONE)
    desk.goto("/cases/")
    rows = desk.locator("#case-table tbody tr")
    expect(rows).to_have_count(2)

    desk.locator("#q").fill("0371-55551234")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(evening)
    desk.locator("#q").fill("5678")  # the last digits, as read out on the phone
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(early)

    desk.locator("#q").fill("")
    desk.locator("#date_from").fill("2026-09-02")
    desk.locator("#date_to").fill("2026-09-02")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(early)
    expect(rows.first).to_contain_text("2026-09-02 04:11")
    expect(desk).to_have_url(re.compile(r"date_from=2026-09-02"))

    rep = login_as("rep_cd", **PHONE)
    rep.goto("/cases/")
    expect(rep.locator("#branch")).to_have_count(0)  # only 成都: nothing to choose
    expect(rep.locator("#state")).to_be_visible()

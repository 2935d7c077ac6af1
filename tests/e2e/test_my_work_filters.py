"""我的待办 on a phone: the overdue filter, the search and the pager swap the rows in place
(HTMX), the address follows, Back returns, and the badge's number is the page's total."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import make_case
from tests.e2e.conftest import PHONE


def test_filter_search_and_pages_of_my_work_on_a_phone(app, login_as, monkeypatch):
    from portal.cases.models import Case
    from portal.clock import utcnow
    from portal.extensions import db
    monkeypatch.setitem(app.config, "PAGE_SIZE", 3)
    numbers = [make_case(customer_name=f"顾客{i}", customer_phone=f"1390000{i:04d}").number for i in range(7)]
    late = numbers[4]
    db.session.execute(sa.update(Case).where(Case.number == late).values(due_at=utcnow() - timedelta(hours=2)))
    db.session.commit()

    desk = login_as("desk", **PHONE)
    expect(desk.locator("#work-badge .badge")).to_have_text("7")
    expect(desk.locator("#work-total")).to_have_text("共 7 件待办")
    rows = desk.locator("#work-table tbody tr")
    expect(rows).to_have_count(3)
    expect(desk.locator(".pager")).to_contain_text("第 1 / 3 页")

    desk.evaluate("window.__sameDocument = true")
    desk.get_by_role("link", name=re.compile("下一页")).click()
    expect(desk.locator(".pager")).to_contain_text("第 2 / 3 页")
    expect(desk).to_have_url(re.compile(r"/work\?page=2$"))

    desk.get_by_label("只看已超时").check()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(late)
    expect(desk.locator("#work-total")).to_have_text("符合条件的待办 1 件")
    expect(desk).to_have_url(re.compile(r"overdue=1"))

    desk.get_by_label("只看已超时").uncheck()
    desk.locator("#work-q").fill("0002")  # the end of 顾客2's phone
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(numbers[2])
    assert desk.evaluate("window.__sameDocument === true")  # all of it without a page load

    desk.go_back()  # to the unticked box
    expect(rows).to_have_count(3)
    desk.go_back()  # to the overdue list
    expect(desk).to_have_url(re.compile(r"overdue=1"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(late)
    # Back reloaded the pages from their addresses: no snapshot of customers' rows is kept
    # in the browser's storage, where it would outlive the logout.
    assert desk.evaluate("sessionStorage.getItem('htmx-history-cache')") is None

"""典型案例 in Chromium: quality marks a closed case typical from its page; a rep on a phone
opens 典型案例 from the menu, searches a two-character word and reads the entry with the
customer masked. axe finds no serious or critical violation on the pages, on a phone and a
desktop, and none is wider than a phone's screen."""
from __future__ import annotations

import re

from tests.conftest import make_case_at
from tests.e2e.conftest import settle
from tests.e2e.test_accessibility import CONTEXTS, check

LESSONS = "先电话致歉再上门，带同批次留样当面比对"


def test_quality_marks_a_case_typical_and_a_rep_finds_it_masked(app, login_as):
    case = make_case_at("closed")
    page = login_as("quality", **CONTEXTS["desktop"])
    page.goto(f"/cases/{case.number}")
    page.get_by_role("link", name="标为典型案例").click()
    page.fill("#lessons", LESSONS)
    page.fill("#tags", "异物 赔偿沟通")
    page.get_by_role("button", name="收入典型案例").click()
    page.wait_for_url(re.compile(f"/cases/{case.number}$"))
    assert "已收入典型案例" in page.content()
    failures: list[str] = []
    for path in ("/reports/typical/", f"/reports/typical/{case.number}"):
        check(page, path, failures)

    rep = login_as("rep_zz", **CONTEXTS["phone"])
    rep.goto("/work")
    rep.get_by_role("link", name="典型案例").click()
    settle(rep)  # htmx has taken the search form over
    # The search goes out 400 ms after the typing (hx-trigger delay): wait for its answer, then the swap.
    with rep.expect_response(lambda r: "/reports/typical/?" in r.url and "q=" in r.url):
        rep.fill("#q", "头发")
    settle(rep)
    entry = rep.locator(".typical-entry")
    entry.wait_for()
    text = entry.inner_text()
    assert LESSONS in text and "王*" in text and "139****5678" in text
    assert "王秀英" not in rep.content() and "成都市武侯区" not in rep.content()
    check(rep, "/reports/typical/?q=%E5%A4%B4%E5%8F%91", failures)
    if rep.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
        failures.append("knowledge base: wider than the phone's screen")
    assert not failures, "\n".join(failures)

"""部门考核 in Chromium: the quality leader opens last month's table on a phone and a desktop,
freezes and signs it in the page; the table, the rules page and the signed month have no
serious or critical axe violation and are no wider than a phone."""
from __future__ import annotations

from datetime import datetime

import pytest

from portal import clock
from portal.clock import SHANGHAI, utcnow
from portal.reports import assessment as asm
from tests.conftest import make_case_at
from tests.e2e.conftest import settle
from tests.e2e.test_accessibility import CONTEXTS, check


@pytest.mark.parametrize("name", list(CONTEXTS))
def test_quality_leader_freezes_last_month(app, login_as, name):
    month = asm.last_month()
    clock.travel(datetime(month.year, month.month, 10, 10, tzinfo=SHANGHAI) - utcnow())
    make_case_at("closed")
    make_case_at("acknowledged")
    clock.reset()
    page = login_as("leader_qa", **CONTEXTS[name])
    failures: list[str] = []
    for path in ("/reports/assessment/", "/reports/assessment/rules"):
        check(page, path, failures)
        if name == "phone" and page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            failures.append(f"{path}: wider than the phone's screen")
    page.goto("/reports/assessment/")
    assert "生产一部" in page.locator("#assessment-units").inner_text()
    page.fill("#password", "demo1234")
    page.get_by_role("button", name="冻结并签署").click()
    settle(page)
    assert "已冻结签署" in page.content() and "王军" in page.content()
    check(page, "/reports/assessment/", failures)
    assert not failures, f"{name}:\n" + "\n".join(failures)

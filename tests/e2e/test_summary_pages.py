"""汇总报告 in Chromium: a leader picks last week's summary from the page and receives the PDF;
a period typed wrong is refused in the page; axe finds no serious or critical violation on
a phone and a desktop, and the page is no wider than a phone's screen."""
from __future__ import annotations

import pytest

from portal.reports.summary import Period
from tests.e2e.conftest import settle
from tests.e2e.test_accessibility import CONTEXTS, check, serious_violations


@pytest.mark.parametrize("name", list(CONTEXTS))
def test_a_leader_downloads_last_weeks_summary(app, login_as, tmp_path, name):
    week = Period.last_complete("weekly")
    page = login_as("leader_qa", **CONTEXTS[name])
    failures: list[str] = []
    check(page, "/reports/summaries/", failures)
    if name == "phone" and page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
        failures.append("/reports/summaries/: wider than the phone's screen")
    with page.expect_download() as download:
        page.get_by_role("link", name=week.label).click()
    saved = tmp_path / "weekly.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    assert download.value.suggested_filename == f"客诉周报-{week.key}.pdf"

    page.goto("/reports/summaries/")
    page.select_option("#kind", "monthly")
    page.fill("#period", "十一月")
    page.locator("main form button[type=submit]").click()
    settle(page)
    assert "月报如 2026-11" in page.locator("[role=alert]").inner_text()
    failures.extend(f"refused period: {line}" for line in serious_violations(page))
    assert not failures, f"{name}:\n" + "\n".join(failures)

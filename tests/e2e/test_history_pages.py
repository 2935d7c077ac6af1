"""History and production volume pages in Chromium: axe finds no serious or critical
violation on a phone and a desktop, with imported rows and a refused import's row list,
and no page is wider than a phone's screen."""
from __future__ import annotations

import pytest

from tests.catalog.test_import import csv_bytes
from tests.e2e.conftest import settle
from tests.e2e.test_accessibility import CONTEXTS, check, serious_violations


@pytest.mark.parametrize("name", list(CONTEXTS))
def test_history_pages_are_accessible_on_phone_and_desktop(app, login_as, tmp_path, name):
    from portal.reports import history
    header = history.template_header(history.LedgerSource.COUNTS)
    good, bad = tmp_path / "台账.csv", tmp_path / "有错.csv"
    good.write_bytes(csv_bytes([["2025-01", "产品质量", "成都分公司", 7], ["2025-02", "", "", 3]], header))
    bad.write_bytes(csv_bytes([["2025-13", "火星类别", "", 1]], header))
    page = login_as("quality", **CONTEXTS[name])
    failures: list[str] = []
    page.goto("/reports/history/")
    page.set_input_files("#file", str(good))
    page.locator("main form button[type=submit]").click()
    settle(page)
    assert "2025-02" in page.content()
    page.set_input_files("#file", str(bad))
    page.locator("main form button[type=submit]").click()
    settle(page)
    assert "第 2 行：" in page.content()
    failures.extend(f"refused import: {line}" for line in serious_violations(page))
    for path in ("/reports/history/", "/reports/history/volumes"):
        check(page, path, failures)
        if name == "phone" and page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            failures.append(f"{path}: wider than the phone's screen")
    assert not failures, f"{name}:\n" + "\n".join(failures)

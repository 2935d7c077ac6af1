"""The cause tree and compensation rule pages on a phone and a desktop: no serious axe
finding, and the list reads as a list of cards on the phone (nothing wider than the screen)."""
from __future__ import annotations

import pytest

from tests.conftest import category
from tests.e2e.conftest import settle
from tests.e2e.test_accessibility import CONTEXTS, check


@pytest.mark.parametrize("device", list(CONTEXTS))
def test_reference_admin_pages(app, login_as, device):
    page = login_as("admin", **CONTEXTS[device])
    failures: list[str] = []
    # The new forms are the edit templates without a record: the edit pages stand for both.
    for path in ("/admin/categories", f"/admin/categories/{category('quality').id}", "/admin/rules"):
        check(page, path, failures)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (device, path)
    page.goto("/admin/rules")
    page.locator("main table a").first.click()
    settle(page)
    check(page, page.url, failures)
    assert not failures, f"{device}:\n" + "\n".join(failures)

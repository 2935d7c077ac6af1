"""An administrator on a phone imports a batch file and watches the page follow the worker
(htmx polling) until it says how many batches were added; the register's pages pass axe."""
from __future__ import annotations

import csv
import io
import re

from playwright.sync_api import expect
from redis import Redis
from rq import Queue

from tests.conftest import start_burst_worker
from tests.e2e.conftest import PHONE

ROWS = 3_000


def batch_file(path, n: int) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["批号", "产品编码", "生产日期", "生产部门", "生产线", "班次", "生产数量", "发往地区"])
    writer.writerows([f"E2E{i:05d}", "P001", "2026-10-01", "生产一部", "1号线", "早班", 1000, "四川、河南"]
                     for i in range(n))
    path.write_bytes(out.getvalue().encode("utf-8-sig"))


def test_admin_imports_batches_on_a_phone_and_the_page_follows_the_worker(app, login_as, tmp_path):
    from tests.e2e.test_accessibility import serious_violations
    Queue("default", connection=Redis.from_url(app.config["REDIS_URL"])).empty()
    page = login_as("admin", **PHONE)
    page.goto("/catalog/import")
    page.get_by_label("批号", exact=True).check()
    batch_file(tmp_path / "十月批号.csv", ROWS)
    page.set_input_files("input[type=file]", str(tmp_path / "十月批号.csv"))
    page.get_by_role("button", name="上传并检查").click()
    page.wait_for_url(re.compile(r"/catalog/import/\d+$"))
    expect(page.locator("#import-progress")).to_contain_text("排队中")
    expect(page.locator("#import-progress progress")).to_be_visible()
    problems = serious_violations(page)

    worker = start_burst_worker(app, tmp_path, "default")
    try:
        # No reload: the block polls itself and is replaced by the outcome.
        expect(page.locator("#import-progress")).to_contain_text("新增 3,000 条，更新 0 条。", timeout=120_000)
    finally:
        output, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, output[-3000:]
    expect(page.locator("#import-progress progress")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.get_by_role("link", name="查看批号").click()
    page.fill("#q", "E2E0000")
    expect(page.locator("#batch-results")).to_contain_text("E2E00009")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    problems += serious_violations(page)
    assert not problems, "\n".join(problems)

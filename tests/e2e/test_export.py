"""In Chromium, on a phone: the desk narrows the case list, presses 导出 Excel and gets the
cases the list shows now (the filter typed after the page loaded included); a big export
opens its progress page, which axe finds clean."""
from __future__ import annotations

import io
import re

import openpyxl
from redis import Redis
from rq import Queue

from tests.conftest import make_case
from tests.e2e.conftest import PHONE
from tests.e2e.test_accessibility import serious_violations


def test_the_desk_exports_what_the_list_shows_and_a_big_export_shows_its_progress(app, login_as):
    for name in ("甲顾客", "乙顾客"):
        make_case("rep_cd", customer_name=name, batch_no="EXP0005")
    make_case("rep_cd", customer_name="别的批号", batch_no="EXP0006")
    page = login_as("desk", **PHONE)
    page.goto("/cases/")
    page.fill("#batch", "EXP0005")  # htmx redraws the rows and pushes the filter to the URL
    page.wait_for_url(re.compile(r"batch=EXP0005"))
    with page.expect_download() as info:
        page.get_by_role("link", name="导出 Excel").click()
    download = info.value
    assert download.suggested_filename.startswith("投诉列表-") and download.suggested_filename.endswith(".xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(open(download.path(), "rb").read())).active
    col = [c.value for c in ws[1]].index("顾客") + 1
    assert sorted(ws.cell(row=r, column=col).value for r in range(2, ws.max_row + 1)) == ["乙顾客", "甲顾客"]

    app.config["EXPORT_STREAM_MAX"] = 1  # two cases: a job for the worker
    queue = Queue("default", connection=Redis.from_url(app.config["REDIS_URL"]))
    try:
        page.get_by_role("link", name="导出 CSV").click()
        page.wait_for_url(re.compile(r"/reports/export/jobs/"))
        assert page.locator("#export-progress [role=status]").inner_text().startswith("排队中")
        assert serious_violations(page) == []
    finally:
        app.config.pop("EXPORT_STREAM_MAX")
        queue.empty()

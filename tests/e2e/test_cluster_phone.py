"""Quality on a phone (issue 12): the third complaint on a batch rings the bell; the message
opens the case with its cluster notice, the cluster page lists the cases, quality records
its class decision in the page (htmx) and goes on to open one sheet for the whole batch."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import make_case
from tests.e2e.conftest import PHONE

BATCH = "2026090110100"


def test_quality_follows_a_batch_cluster_from_the_bell_to_a_sheet_on_a_phone(app, login_as):
    numbers = [make_case(name).number for name in ("rep_cd", "rep_cd", "rep_zz")]
    quality = login_as("quality", **PHONE)

    # The bell counts the alert; its message opens the third case.
    expect(quality.locator("#bell-badge")).to_have_text("1")
    quality.goto("/bell/")
    quality.get_by_role("link", name=re.compile(f"批号预警.*{BATCH}")).click()
    expect(quality).to_have_url(re.compile(f"/cases/{numbers[2]}$"))
    notice = quality.locator("#cluster-notice")
    expect(notice).to_contain_text("建议类别：严重")

    # The cluster page: every case, both branches.
    notice.get_by_role("link", name="查看批号聚集").click()
    cases = quality.locator("#cluster-cases")
    for number in numbers:
        expect(cases).to_contain_text(number)
    expect(cases).to_contain_text("成都分公司")
    expect(cases).to_contain_text("郑州分公司")

    # The decision goes in without leaving the page.
    decide = quality.locator("#cluster-decide")
    decide.get_by_label("按严重处理", exact=True).check()
    decide.get_by_label("说明").fill("成都、郑州同批号头发异物")
    with quality.expect_response(lambda r: r.url.endswith("/decide") and r.request.method == "POST"):
        decide.get_by_role("button", name="记录决定").click()
    expect(quality.locator("#cluster-main")).to_contain_text("品保决定：按严重处理")
    expect(quality.locator(".flash-success")).to_contain_text("已记录类别决定。")
    assert quality.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # One sheet for the whole batch: the issue form starts from the batch.
    quality.get_by_role("link", name="为该批号开纠正预防单").click()
    expect(quality).to_have_url(re.compile(rf"/ca/new\?batch_no={BATCH}&cluster=\d+$"))
    expect(quality.locator("input[name=batch_no]")).to_have_value(BATCH)

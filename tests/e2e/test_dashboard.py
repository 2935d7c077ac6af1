"""A leader opens the dashboard in Chromium, clicks a bar and lands on the cases behind it;
the page has no serious axe finding on a phone or a desktop."""
from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import make_case
from tests.e2e.conftest import PHONE
from tests.e2e.test_accessibility import DESKTOP, serious_violations


def _products():
    from portal.batches.models import Product
    from portal.extensions import db
    return {p.code: p for p in db.session.execute(sa.select(Product)).scalars()}


def _bar_centre(page, chart_id: str, category: str) -> tuple[float, float]:
    """Where ECharts drew the bar of `category` in the first series, in the viewport."""
    page.locator(f"#chart-{chart_id}").scroll_into_view_if_needed()
    box = page.locator(f"#chart-{chart_id}").bounding_box()
    x, y = page.evaluate(
        """([id, category]) => {
             const chart = echarts.getInstanceByDom(document.getElementById("chart-" + id));
             const opt = chart.getOption();
             const i = opt.xAxis[0].data.indexOf(category);
             const top = chart.convertToPixel({seriesIndex: 0}, [i, opt.series[0].data[i].value]);
             const base = chart.convertToPixel({seriesIndex: 0}, [i, 0]);
             return [top[0], (top[1] + base[1]) / 2];
           }""", [chart_id, category])
    return box["x"] + x, box["y"] + y


def test_leader_clicks_a_bar_and_sees_its_cases(app, login_as):
    products = _products()
    dumplings, rice = products["P001"], products["P005"]
    wanted = {make_case(product_id=dumplings.id, product_name=dumplings.name).number for _ in range(3)}
    make_case(product_id=rice.id, product_name=rice.name)

    page = login_as("ceo", **DESKTOP)
    page.goto("/")
    page.get_by_role("link", name="统计报表").click()
    expect(page.locator("h1")).to_have_text("统计报表")
    expect(page.locator("#kpi-open .kpi-value")).to_have_text("4")
    expect(page.locator("#chart-product canvas")).to_have_count(1)
    assert serious_violations(page) == []

    x, y = _bar_centre(page, "product", dumplings.name)
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(rf"/cases/\?.*product={dumplings.id}"))
    rows = page.locator("#case-table tbody tr")
    expect(rows).to_have_count(3)
    shown = {rows.nth(i).locator("td").first.inner_text().strip() for i in range(3)}
    assert shown == wanted
    expect(page.locator("#product")).to_have_value(str(dumplings.id))


def test_dashboard_on_a_phone_is_axe_clean(app, login_as):
    make_case()
    page = login_as("quality", **PHONE)
    page.goto("/reports/")
    expect(page.locator("#chart-yoy canvas")).to_have_count(1)
    page.locator(".chart-card details summary").first.click()
    assert serious_violations(page) == []
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"

"""The dashboard's figures against counts made here from the cases themselves, its links
against the case list they open, the rollup kept by the transactions against a rebuild."""
from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.clock import local, utcnow
from tests.conftest import make_case, make_case_at, to_investigating, unit, user

CASE_LINK = re.compile(r'href="/cases/(KS\d{4}-\d{6})"')


def _product(code):
    from portal.batches.models import Product
    from portal.extensions import db
    return db.session.execute(sa.select(Product).where(Product.code == code)).scalar_one()


@pytest.fixture
def cases(app):
    """Cases over this year and last, in two branches, three products, two departments,
    some closed (one within 48 hours of receipt, one after three days)."""
    now = utcnow()
    made = []
    for i, (months_back, branch, product) in enumerate([
            (0, "BR-CD", "P001"), (0, "BR-ZZ", "P003"), (1, "BR-CD", "P001"), (2, "BR-ZZ", "P002"),
            (12, "BR-CD", "P001"), (13, "BR-ZZ", "P003"), (14, "BR-CD", None)]):
        back = timedelta(days=31 * months_back, hours=i)
        p = _product(product) if product else None
        clock.travel(-back)  # registered then: the desk may back-date a letter by 30 days only
        try:
            made.append(make_case("desk", branch_id=unit(branch).id, product_id=p.id if p else None,
                                  product_name=p.name if p else "某产品", customer_phone=f"1391234{i:04d}"))
        finally:
            clock.travel(back)
    to_investigating(made[1], cat="quality.taste")          # 生产一部, open
    to_investigating(made[3], cat="service_attitude")
    closed_fast = make_case_at("closed")                    # received now, closed now
    late = make_case("desk", received_at=now - timedelta(days=3), branch_id=unit("BR-CD").id)
    from tests.conftest import _main_line
    for _name, move in _main_line():
        move(late)                                          # closed three days after receipt
    assert closed_fast.state.value == late.state.value == "closed"
    return made + [closed_fast, late]


def _all_cases():
    from portal.cases.models import Case
    from portal.extensions import db
    return list(db.session.execute(sa.select(Case)).unique().scalars())


def _data(client, query=""):
    html = client.get("/reports/" + query).get_data(as_text=True)
    return json.loads(re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>',
                                html, re.S).group(1))


def _chart(data, chart_id):
    return next(c for c in data["charts"] if c["id"] == chart_id)


def test_chart_figures_match_counts_made_from_the_cases(cases, as_user):
    from portal.cases.states import State
    everything = _all_cases()
    now = utcnow()
    year = local(now).year
    data = _data(as_user("quality"), f"?month_from={year - 1}-01&month_to={year}-12")

    by_month = Counter((local(c.received_at).year, local(c.received_at).month) for c in everything)
    yoy = _chart(data, "yoy")
    for series, y in zip(yoy["series"], (year, year - 1)):
        assert [p["value"] for p in series["data"]] == [by_month[(y, m)] for m in range(1, 13)]

    roots = Counter(c.category.root.name if c.category else "未指定" for c in everything)
    pareto = _chart(data, "pareto")
    assert dict(zip(pareto["categories"], (p["value"] for p in pareto["series"][0]["data"]))) == roots
    assert pareto["series"][1]["data"][-1]["value"] == 100.0

    for chart_id, key in (("branch", lambda c: c.branch.name if c.branch else "未指定"),
                          ("product", lambda c: c.product.name if c.product else "未指定"),
                          ("unit", lambda c: c.responsible_unit.name if c.responsible_unit else "未指定")):
        chart = _chart(data, chart_id)
        assert dict(zip(chart["categories"], (p["value"] for p in chart["series"][0]["data"]))) == \
            Counter(key(c) for c in everything), chart_id

    fast = [c for c in everything if c.state == State.CLOSED
            and c.closed_at - c.received_at <= timedelta(hours=48)]
    assert len(fast) == 1
    month = local(fast[0].received_at)
    base = sum(1 for c in everything if (local(c.received_at).year, local(c.received_at).month)
               == (month.year, month.month) and c.state != State.REJECTED)
    within = _chart(data, "within48")
    point = within["series"][0]["data"][within["categories"].index(f"{month.year}-{month.month:02d}")]
    assert point["value"] == round(100 / base, 1)

    kpis = {k["id"]: k["value"] for k in data["kpis"]}
    open_cases = [c for c in everything if c.state not in (State.CLOSED, State.REJECTED)]
    assert kpis["open"] == len(open_cases) == 7
    assert kpis["overdue"] == sum(1 for c in open_cases if c.overdue)
    this_month = local(now).strftime("%Y-%m")
    assert kpis["closed_month"] == sum(1 for c in everything if c.closed_at and c.state == State.CLOSED
                                       and local(c.closed_at).strftime("%Y-%m") == this_month) == 2
    closed = [c for c in everything if c.state == State.CLOSED]
    mean = sum((c.closed_at - c.received_at).total_seconds() for c in closed) / len(closed) / 3600
    assert abs(kpis["mean_close"] - mean) <= 0.06

    phones: dict = {}
    repeats = Counter()
    for c in sorted(everything, key=lambda c: c.received_at):
        earlier = [t for t in phones.get(c.customer_phone_rev, [])
                   if c.received_at - timedelta(days=90) <= t < c.received_at]
        if earlier:
            repeats[local(c.received_at).strftime("%Y-%m")] += 1
        phones.setdefault(c.customer_phone_rev, []).append(c.received_at)
    repeat = _chart(data, "repeat")
    assert dict((m, p["value"]) for m, p in zip(repeat["categories"], repeat["series"][0]["data"])
                if p["value"]) == repeats and sum(repeats.values()) == 1

    quality = _chart(data, "satisfaction")["series"][0]["data"][0]
    assert quality["value"] == 4.0  # the two closed cases were scored 4 for quality

    steps = _chart(data, "on_time_step")
    waiting = Counter(c.step.label for c in open_cases)
    assert sum(p["value"] for p in steps["series"][1]["data"]) == kpis["overdue"]
    assert set(steps["categories"]) == set(waiting)


def test_complaints_per_million_units_from_the_entered_volumes(cases, as_user):
    from portal.reports.volumes import set_volume
    now = local(utcnow())
    month = now.strftime("%Y-%m")
    for code, units in (("P001", 300_000), ("P003", 200_000)):
        set_volume(user("quality"), _product(code).id, month, str(units))
    from portal.extensions import db
    db.session.commit()
    received = sum(1 for c in _all_cases() if local(c.received_at).strftime("%Y-%m") == month)
    chart = _chart(_data(as_user("quality"), f"?month_from={month}&month_to={month}"), "per_million")
    assert chart["series"][0]["data"][0]["value"] == round(1_000_000 * received / 500_000, 2)
    only = _chart(_data(as_user("quality"), f"?month_from={month}&month_to={month}&product={_product('P001').id}"),
                  "per_million")
    dumplings = sum(1 for c in _all_cases() if local(c.received_at).strftime("%Y-%m") == month
                    and c.product_id == _product("P001").id)
    assert only["series"][0]["data"][0]["value"] == round(1_000_000 * dumplings / 300_000, 2)


def test_every_link_opens_the_cases_behind_its_figure(cases, as_user):
    desk = as_user("desk")
    year = local(utcnow()).year
    data = _data(desk, f"?month_from={year - 1}-01&month_to={year}-12")
    checked = 0
    for chart_id in ("yoy", "pareto", "branch", "product", "unit", "clusters", "repeat"):
        for point in _chart(data, chart_id)["series"][0]["data"]:
            if point["url"]:
                numbers = set(CASE_LINK.findall(desk.get(point["url"]).get_data(as_text=True)))
                assert len(numbers) == point["value"], (chart_id, point)
                checked += 1
    for series in _chart(data, "on_time_step")["series"][1:]:
        for point in series["data"]:
            assert len(set(CASE_LINK.findall(desk.get(point["url"]).get_data(as_text=True)))) == point["value"]
    for k in data["kpis"]:
        if k["id"] != "mean_close":
            assert len(set(CASE_LINK.findall(desk.get(k["url"]).get_data(as_text=True)))) == k["value"], k
    within = _chart(data, "within48")["series"][0]["data"]
    linked = set()
    for point in within:
        linked |= set(CASE_LINK.findall(desk.get(point["url"]).get_data(as_text=True)))
    assert len(linked) == 1  # the one case closed within 48 hours
    assert checked >= 12


def test_filters_narrow_every_figure(cases, as_user):
    """A department's dashboard counts only that department's cases; a leader's is scoped."""
    prod1 = unit("PROD1").id
    mine = sum(1 for c in _all_cases() if c.responsible_unit_id == prod1)
    year = local(utcnow()).year
    period = f"?month_from={year - 1}-01&month_to={year}-12"
    filtered = _data(as_user("quality"), period + f"&unit={prod1}")
    scoped = _data(as_user("leader_prod1"), period)
    for data in (filtered, scoped):
        assert sum(p["value"] for p in _chart(data, "unit")["series"][0]["data"]) == mine == 4


def test_reports_are_for_leaders_quality_desk_and_admin(app, as_user):
    assert as_user("rep_cd").get("/reports/").status_code == 403
    assert as_user("handler_prod1").get("/reports/").status_code == 403
    for name in ("leader_prod1", "quality", "desk", "admin"):
        page = as_user(name).get("/reports/")
        assert page.status_code == 200 and "echarts" in page.get_data(as_text=True)


def test_rollup_kept_by_the_transactions_equals_a_rebuild(cases, app):
    from portal.cases import operations as ops
    from portal.extensions import db
    from portal.reports.rollup import ReportMonth, rebuild
    closed = next(c for c in cases if c.state.value == "closed")
    ops.reopen_case(closed, user("desk"), closed.version, reason="顾客再次来电")

    def rows():
        return sorted(tuple(r) for r in db.session.execute(sa.select(ReportMonth.__table__)).all()
                      if any(r[5:]))
    kept = rows()
    assert rebuild() == len(_all_cases())
    assert rows() == kept

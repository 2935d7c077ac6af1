"""The leaders' dashboard: each chart's figures, and for every bar, slice or point the case
list URL (the list's own filters) that shows the cases behind it.

Counts over months come from the rollup (portal/reports/rollup.py, exact, a few thousand
rows); what depends on the clock (open, overdue, where open cases wait) is counted live from
the open cases through the list's own WHERE clauses (queries.filter_clauses), a few thousand
rows through the state index; "closed this month" through the closed_at index."""
from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, fields, replace
from datetime import date

import sqlalchemy as sa
from flask import current_app, g, url_for
from flask_babel import gettext as _

from portal.batches.models import Product
from portal.cases import access
from portal.cases.enums import SATISFACTION_DIMENSIONS
from portal.cases.models import Case, Category
from portal.cases.queries import CaseFilters, filter_clauses
from portal.cases.states import State, Step
from portal.clock import local, utcnow
from portal.clusters.models import BatchCluster
from portal.extensions import db
from portal.org.enums import Role
from portal.org.tree import unit_tree
from portal.reports.rollup import MEASURES, ReportMonth

MONTH_FORMAT = "%Y-%m"
TOP = 12  # bars per "by …" chart; the rest are one bar 其他 without a link


def _month(text: str, default: date) -> date:
    try:
        year, month = (int(p) for p in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        return default


@dataclass
class DashFilters:
    """Period as months (the rollup's grain), then branch, product, category, department."""
    month_from: str = ""
    month_to: str = ""
    branch: str = ""
    product: str = ""
    category: str = ""
    unit: str = ""

    @classmethod
    def from_args(cls, args) -> "DashFilters":
        today = local(utcnow()).date()
        f = cls(**{fl.name: (args.get(fl.name) or "").strip()[:20] for fl in fields(cls)})
        end = _month(f.month_to, date(today.year, today.month, 1))
        start = _month(f.month_from, date(end.year, 1, 1))
        start, end = min(start, end), max(start, end)
        return replace(f, month_from=start.strftime(MONTH_FORMAT), month_to=end.strftime(MONTH_FORMAT))

    @property
    def first(self) -> date:
        return _month(self.month_from, date.today())

    @property
    def last(self) -> date:
        return _month(self.month_to, date.today())

    def case_filters(self, first: date | None = None, last: date | None = None, dated: bool = True,
                     **extra) -> CaseFilters:
        """The case list's filters for these months (or `first`..`last`, or any receipt date
        if not `dated`) and `extra`."""
        first, last = first or self.first, last or self.last
        period = {"date_from": first.isoformat(), "date_to": _month_end(last).isoformat()} if dated else {}
        return CaseFilters(**{**period, "branch": self.branch, "product": self.product,
                              "category": self.category, "unit": self.unit, **extra})

    def url(self, first: date | None = None, last: date | None = None, dated: bool = True, **extra) -> str:
        return url_for("cases.index", **self.case_filters(first, last, dated, **extra).as_args())


def _scope(user):
    """visible_clause in the rollup's terms. Reports are for leaders, quality, desk and admin;
    of those only a leader below the company is bounded: cases of their units' branches and
    those their units are responsible for (access.visible_clause)."""
    if access.visible_clause(user) is None or Role.LEADER not in user.roles:
        return None
    own = unit_tree().subtree(user.unit_id)
    return sa.or_(ReportMonth.branch_id.in_(own), ReportMonth.unit_id.in_(own))


def _id_clause(column, value: str, tree: bool = False):
    if value == "none":
        return column == 0
    if not value.isdigit():
        return None
    if tree:
        return column.in_(unit_tree().subtree(int(value)))
    return column == int(value)


def _category_ids(value: str) -> list[int]:
    return [int(value)] + list(db.session.execute(
        sa.select(Category.id).where(Category.parent_id == int(value))).scalars())


def _rollup_where(user, f: DashFilters, first: date, last: date) -> list:
    where = [ReportMonth.month >= first, ReportMonth.month <= last]
    for clause in (_scope(user), _id_clause(ReportMonth.branch_id, f.branch, tree=True),
                   _id_clause(ReportMonth.product_id, f.product),
                   _id_clause(ReportMonth.unit_id, f.unit, tree=True)):
        if clause is not None:
            where.append(clause)
    if f.category == "none":
        where.append(ReportMonth.category_id == 0)
    elif f.category.isdigit():
        where.append(ReportMonth.category_id.in_(_category_ids(f.category)))
    return where


def _summed(measures):
    # PostgreSQL sums bigints as numeric (Decimal in Python, a string in JSON): cast back.
    return [sa.cast(sa.func.coalesce(sa.func.sum(getattr(ReportMonth, m)), 0), sa.BigInteger).label(m)
            for m in measures]


def _once(key: tuple, compute):
    """One query per request for what several charts read (the whole page in a few statements)."""
    store = g.setdefault("dashboard_queries", {})
    if key not in store:
        store[key] = compute()
    return store[key]


def _cells(user, f: DashFilters) -> list:
    """The period summed over its months: a row per (branch, product, category, unit) with
    every measure, what the Pareto, the "by …" charts, satisfaction and the mean time read."""
    keys = (ReportMonth.branch_id, ReportMonth.product_id, ReportMonth.category_id, ReportMonth.unit_id)
    return _once(("cells", user.id, repr(f)), lambda: db.session.execute(
        sa.select(*keys, *_summed(MEASURES)).where(*_rollup_where(user, f, f.first, f.last))
        .group_by(*keys)).all())


def _monthly(user, f: DashFilters) -> dict:
    """{month: row of n, rejected, closed_48h, repeat} over the period and the two calendar years the
    year-over-year chart compares."""
    first, last = min(f.first, date(f.last.year - 1, 1, 1)), max(f.last, date(f.last.year, 12, 1))
    return _once(("monthly", user.id, repr(f)), lambda: {r.month: r for r in db.session.execute(
        sa.select(ReportMonth.month, *_summed(("n", "rejected", "closed_48h", "repeat")))
        .where(*_rollup_where(user, f, first, last)).group_by(ReportMonth.month)).all()})


def _total(rows, key, measure: str = "n") -> dict:
    out: dict = {}
    for r in rows:
        out[key(r)] = out.get(key(r), 0) + getattr(r, measure)
    return out


def _open_cases(user, f: DashFilters) -> list:
    """The open cases now (any receipt date, the other filters), per step and responsible
    unit, with how many are past their time limit: the tiles and the on-time charts."""
    late = sa.func.sum(sa.case((Case.due_at < utcnow(), 1), else_=0))
    where = filter_clauses(user, f.case_filters(dated=False, state="open"))
    return _once(("open", user.id, repr(f)), lambda: db.session.execute(
        sa.select(Case.step, Case.responsible_unit_id, sa.func.count().label("n"), late.label("late"))
        .where(*where).group_by(Case.step, Case.responsible_unit_id)).all())


def _point(value, url: str | None, name: str | None = None) -> dict:
    point = {"value": value, "url": url}
    if name is not None:
        point["name"] = name
    return point


def _months(first: date, last: date) -> list[date]:
    out, m = [], first
    while m <= last:
        out.append(m)
        m = date(m.year + m.month // 12, m.month % 12 + 1, 1)
    return out


def _month_end(m: date) -> date:
    return m.replace(day=monthrange(m.year, m.month)[1])


def year_over_year(user, f: DashFilters) -> dict:
    """Cases per month of the period's last year against the year before; months before the
    portal's first case come from the imported ledger when helper H's history exists."""
    year = f.last.year
    counts = {m: r.n for m, r in _monthly(user, f).items()}
    ledger = _ledger(user, f, year)
    series = []
    for y in (year, year - 1):
        data = []
        for m in _months(date(y, 1, 1), date(y, 12, 1)):
            real = counts.get(m) or 0
            if real:
                data.append(_point(int(real), f.url(m, m)))
            else:
                data.append(_point(int(ledger.get(y, {}).get(m.month, 0)), None))
        series.append({"name": _("%(year)s年", year=y), "data": data})
    return {"id": "yoy", "type": "bar", "title": _("月度投诉量：今年与去年"),
            "categories": [_("%(month)s月", month=m) for m in range(1, 13)], "series": series}


def _ledger(user, f: DashFilters, year: int) -> dict:
    """{year: {month: count}} from the imported history (portal.reports.history, helper H's
    contract) for both years; empty until it exists."""
    try:
        from portal.reports.history import monthly_counts
    except ImportError:
        return {}
    return {y: monthly_counts(y, f, user) for y in (year, year - 1)}


def _named_bars(chart_id, title, rows, names, param, f, kind="bar") -> dict:
    rows = sorted(((k or 0, int(n)) for k, n in rows if n), key=lambda r: -r[1])
    shown, rest = rows[:TOP], sum(n for _k, n in rows[TOP:])
    data = [_point(n, f.url(**{param: str(k) if k else "none"}), names.get(k) or _("未指定"))
            for k, n in shown]
    if rest:
        data.append(_point(rest, None, _("其他")))
    return {"id": chart_id, "type": kind, "title": title, "categories": [d["name"] for d in data],
            "series": [{"name": _("投诉量"), "data": data}]}


def pareto(user, f: DashFilters) -> dict:
    """Cases per top-level cause category, largest first, with the cumulative share."""
    cats = {c.id: c for c in db.session.execute(sa.select(Category)).scalars()}
    roots: dict[int, int] = {}
    for cid, n in _total(_cells(user, f), lambda r: r.category_id).items():
        root = cats[cid].root.id if cid in cats else 0
        roots[root] = roots.get(root, 0) + int(n or 0)
    chart = _named_bars("pareto", _("原因类别排列图"), roots.items(),
                        {i: c.name for i, c in cats.items()}, "category", f)
    total, running, cumulative = sum(roots.values()), 0, []
    for point in chart["series"][0]["data"]:
        running += point["value"]
        cumulative.append(_point(round(100 * running / total, 1), point["url"]))
    chart["series"].append({"name": _("累计占比"), "data": cumulative, "type": "line", "percent": True})
    return chart


def by_dimension(user, f: DashFilters) -> list[dict]:
    tree = unit_tree()
    units = {uid: u.name for uid, u in tree.units.items()}
    products = dict(db.session.execute(sa.select(Product.id, Product.name)).all())
    cells = _cells(user, f)
    return [
        _named_bars("branch", _("各分公司投诉量"), _total(cells, lambda r: r.branch_id).items(),
                    units, "branch", f),
        _named_bars("product", _("各产品投诉量"), _total(cells, lambda r: r.product_id).items(),
                    products, "product", f),
        _named_bars("unit", _("各责任部门投诉量"), _total(cells, lambda r: r.unit_id).items(),
                    units, "unit", f),
    ]


def completion_48h(user, f: DashFilters) -> dict:
    """Per month: cases closed within 48 hours of receipt, of the cases received that were
    not rejected (不予受理 is no complaint to handle)."""
    rows = _monthly(user, f)
    data = []
    for m in _months(f.first, f.last):
        r = rows.get(m)
        base = (r.n - r.rejected) if r else 0
        data.append(_point(round(100 * r.closed_48h / base, 1) if base else 0,
                           f.url(m, m, within48="1")))
    return {"id": "within48", "type": "line", "title": _("48小时结案率"),
            "categories": [m.strftime(MONTH_FORMAT) for m in _months(f.first, f.last)],
            "series": [{"name": _("48小时结案率"), "data": data, "percent": True}]}


def repeats(user, f: DashFilters) -> dict:
    """Per month, the cases with an earlier one from the same phone within 90 days."""
    rows = _monthly(user, f)
    data = [_point(int(rows[m].repeat) if m in rows else 0, f.url(m, m, repeat="1"))
            for m in _months(f.first, f.last)]
    return {"id": "repeat", "type": "bar", "title": _("重复投诉（同一电话 90 天内再次投诉）"),
            "categories": [m.strftime(MONTH_FORMAT) for m in _months(f.first, f.last)],
            "series": [{"name": _("重复投诉"), "data": data}]}


def satisfaction(user, f: DashFilters) -> dict:
    cells = _cells(user, f)
    data = []
    for field, label in SATISFACTION_DIMENSIONS:
        n = sum(getattr(r, f"{field}_n") for r in cells)
        data.append(_point(round(sum(getattr(r, f"{field}_sum") for r in cells) / n, 2) if n else 0,
                           f.url(state=State.CLOSED.value), _(label)))
    return {"id": "satisfaction", "type": "bar", "title": _("回访满意度（各维度平均分）"),
            "categories": [d["name"] for d in data], "series": [{"name": _("平均分"), "data": data}]}


def rate_per_million(user, f: DashFilters) -> dict | None:
    """Complaints per million units produced, per month, from helper H's production volumes
    (portal.reports.volumes, units_by_month: units_produced per month in two queries); None
    (no chart) until that exists or knows no volumes for the period."""
    try:
        from portal.reports.volumes import units_by_month
    except ImportError:
        return None
    counts = {m: r.n for m, r in _monthly(user, f).items()}
    products = [int(f.product)] if f.product.isdigit() else None
    units = units_by_month(f.first, f.last, products)
    data, any_volume = [], bool(units)
    for m in _months(f.first, f.last):
        n_units = units.get(m)
        data.append(_point(round(1_000_000 * int(counts.get(m) or 0) / n_units, 2) if n_units else 0,
                           f.url(m, m)))
    if not any_volume:
        return None
    return {"id": "per_million", "type": "line", "title": _("每百万件产品投诉率"),
            "categories": [m.strftime(MONTH_FORMAT) for m in _months(f.first, f.last)],
            "series": [{"name": _("每百万件投诉"), "data": data}]}


def attainment(user, f: DashFilters) -> list[dict]:
    """The open cases within their time limit now, per step and per responsible department,
    against the target (REPORT_ON_TIME_TARGET, percent). Counted on the cases' current steps,
    any receipt date: the portal keeps no per-step history of closed cases (their steps'
    times are in the audit trail only)."""
    target = current_app.config.get("REPORT_ON_TIME_TARGET", 90)
    rows = _open_cases(user, f)
    units = {uid: u.name for uid, u in unit_tree().units.items()}
    charts = []
    for chart_id, title, key, param, names in (
            ("on_time_step", _("各环节时限达成率（未结案件）"), lambda r: r.step, "step",
             {s: _(s.label) for s in Step}),
            ("on_time_unit", _("各责任部门时限达成率（未结案件）"), lambda r: r.responsible_unit_id, "unit", units)):
        n, late = _total(rows, key), _total(rows, key, "late")
        order = list(names)
        on_time, overdue, cats = [], [], []
        for k in sorted(n, key=lambda k: (k is None, order.index(k) if k in names else 0)):
            value = k.value if isinstance(k, Step) else str(k) if k else "none"
            cats.append(names.get(k) or _("未指定"))
            on_time.append(_point(round(100 * (n[k] - late[k]) / n[k], 1),
                                  f.url(dated=False, state="open", **{param: value})))
            overdue.append(_point(int(late[k]), f.url(dated=False, state="open", overdue="1", **{param: value})))
        charts.append({"id": chart_id, "type": "bar", "title": title, "categories": cats, "target": target,
                       "series": [{"name": _("按时率"), "data": on_time, "percent": True},
                                  {"name": _("已超时限（件）"), "data": overdue, "axis": 1}]})
    return charts


def clusters(user, f: DashFilters) -> dict:
    """The batches that formed a cluster, with the cases on each within the filters."""
    where = filter_clauses(user, f.case_filters())
    rows = db.session.execute(
        sa.select(Case.batch_no, sa.func.count()).where(
            *where, Case.batch_no.in_(sa.select(BatchCluster.batch_no)))
        .group_by(Case.batch_no).order_by(sa.func.count().desc(), Case.batch_no).limit(TOP)).all()
    data = [_point(int(n), f.url(batch=batch), batch) for batch, n in rows]
    return {"id": "clusters", "type": "bar", "title": _("批号聚集：各批号投诉量"),
            "categories": [d["name"] for d in data], "series": [{"name": _("投诉量"), "data": data}]}


def kpis(user, f: DashFilters) -> list[dict]:
    """Open and overdue now (the filters but any receipt date), closed this calendar month,
    and the mean time to close of the period's closed cases."""
    any_date = f.case_filters(dated=False)
    rows = _open_cases(user, f)
    n_open, n_late = sum(r.n for r in rows), sum(r.late for r in rows)
    today = local(utcnow()).date()
    month = CaseFilters(**{**vars(any_date), "state": State.CLOSED.value,
                           "closed_from": today.replace(day=1).isoformat(),
                           "closed_to": _month_end(today).isoformat()})
    n_closed = db.session.execute(sa.select(sa.func.count()).where(*filter_clauses(user, month))).scalar_one()
    cells = _cells(user, f)
    closed, seconds = sum(r.closed for r in cells), sum(r.close_seconds for r in cells)
    hours = round(seconds / closed / 3600, 1) if closed else None

    def link(cf):
        return url_for("cases.index", **cf.as_args())
    return [
        {"id": "open", "label": _("未结案件"), "value": n_open, "url": link(replace(any_date, state="open"))},
        {"id": "overdue", "label": _("已超时限"), "value": int(n_late or 0),
         "url": link(replace(any_date, state="open", overdue="1"))},
        {"id": "closed_month", "label": _("本月结案"), "value": n_closed, "url": link(month)},
        {"id": "mean_close", "label": _("平均结案时长（小时）"), "value": hours if hours is not None else "—",
         "url": f.url(state=State.CLOSED.value)},
    ]


def dashboard(user, f: DashFilters) -> dict:
    """Every chart's data and the tiles, as the page embeds them (JSON)."""
    charts = [year_over_year(user, f), pareto(user, f), *by_dimension(user, f), *attainment(user, f),
              completion_48h(user, f), rate_per_million(user, f), repeats(user, f), clusters(user, f),
              satisfaction(user, f)]
    return {"kpis": kpis(user, f), "charts": [c for c in charts if c is not None]}

"""Figure: the leaders' dashboard at 1M cases on PostgreSQL, every chart's data (issue 13).

    python bench/dashboard_bench.py --database-url postgresql://postgres@127.0.0.1/portal_bench

The database needs the rollup once after a bulk load (`generate.py` runs it; or
`flask reports rollup`). Measures, in this order:

1. **Exactness**: figures of the dashboard against COUNTs of the case table made here
   (monthly counts of the last two years, the cause Pareto, by branch / product / department,
   closed within 48 hours, repeat complaints, the open cases), for quality (everything) and leader_prod1 (scoped).
2. **Each chart's data in process** (`portal.reports.dashboard`, one app context per call, as a
   request has): p50 / p95 of every chart function and of the whole dashboard, for quality
   with no filter, with a branch, with a product and a category, over 12 months, and for
   leader_prod1 (scoped to 生产一部). Target: p95 ≤ 200 ms for every chart's data.
3. **The page over HTTP** under gunicorn (`serve:portal_app()`, Server-Timing): GET /reports/
   sequentially, server and client p50 / p95.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

import benchlib as B

VIEWS = [  # name, user, query
    ("quality, this year", "quality", {}),
    ("quality, 12 months, 成都分公司", "quality", {"month_from": "last12", "branch": "BR-CD"}),
    ("quality, product P001 + 产品质量", "quality", {"product": "P001", "category": "quality"}),
    ("leader_prod1 (scoped), this year", "leader_prod1", {}),
]


def setup(db_url: str):
    B.use_app_root()
    os.environ["DATABASE_URL"] = B.sa_url(db_url)
    from portal import create_app
    return create_app()


def resolve(query: dict) -> dict:
    """Codes in VIEWS to the ids the form sends."""
    import sqlalchemy as sa
    from portal.batches.models import Product
    from portal.cases.models import Category
    from portal.extensions import db
    from portal.org.models import OrgUnit
    out = dict(query)
    if out.get("month_from") == "last12":
        today = date.today().replace(day=1)
        out["month_from"] = (today - timedelta(days=335)).strftime("%Y-%m")
        out["month_to"] = today.strftime("%Y-%m")
    for key, model in (("branch", OrgUnit), ("product", Product), ("category", Category)):
        if key in out:
            out[key] = str(db.session.execute(sa.select(model.id).where(model.code == out[key])).scalar_one())
    return out


def user(name: str):
    import sqlalchemy as sa
    from portal.extensions import db
    from portal.org.models import User
    return db.session.execute(sa.select(User).where(User.username == name)).unique().scalar_one()


def chart_functions():
    from portal.reports import dashboard as d
    return {"kpis": d.kpis, "year_over_year": d.year_over_year, "pareto": d.pareto,
            "by_dimension (3 charts)": d.by_dimension, "attainment (2 charts)": d.attainment,
            "completion_48h": d.completion_48h, "rate_per_million": d.rate_per_million, "repeats": d.repeats,
            "clusters": d.clusters, "satisfaction": d.satisfaction, "whole dashboard": d.dashboard}


def exactness(app) -> list[str]:
    """Dashboard figures against direct counts of the case table; returns the mismatches."""
    import sqlalchemy as sa
    from portal.cases import access
    from portal.cases.models import Case, Category
    from portal.cases.states import State
    from portal.extensions import db
    from portal.reports import dashboard as d
    bad = []
    with app.test_request_context("/reports/"):
        year = date.today().year
        f = d.DashFilters.from_args({"month_from": f"{year - 1}-01", "month_to": f"{year}-12"})
        since = datetime(year - 1, 1, 1, tzinfo=SHANGHAI)
        for name in ("quality", "leader_prod1"):
            u = user(name)
            where = [c for c in [access.visible_clause(u)] if c is not None]
            month = sa.func.date_trunc("month", sa.func.timezone("Asia/Shanghai", Case.received_at))
            rows = db.session.execute(sa.select(month, sa.func.count()).where(
                *where, Case.received_at >= since).group_by(month)).all()
            direct = {(m.year, m.month): n for m, n in rows}
            yoy = d.year_over_year(u, f)
            for series, y in zip(yoy["series"], (year, year - 1)):
                got = [p["value"] for p in series["data"]]
                want = [direct.get((y, m), 0) for m in range(1, 13)]
                if got != want:
                    bad.append(f"{name} yoy {y}: {got} != {want}")
            period = [*where, Case.received_at >= since]
            roots = {c.id: c.root.id for c in db.session.execute(sa.select(Category)).scalars()}
            pareto = Counter()
            for cid, n in db.session.execute(sa.select(Case.category_id, sa.func.count()).where(*period)
                                             .group_by(Case.category_id)).all():
                pareto[roots.get(cid, 0)] += n
            got = sum(p["value"] for p in d.pareto(u, f)["series"][0]["data"])
            if got != sum(pareto.values()):
                bad.append(f"{name} pareto total {got} != {sum(pareto.values())}")
            for chart in d.by_dimension(u, f):
                column = {"branch": Case.branch_id, "product": Case.product_id,
                          "unit": Case.responsible_unit_id}[chart["id"]]
                want = sorted((n for _k, n in db.session.execute(
                    sa.select(column, sa.func.count()).where(*period).group_by(column)).all()), reverse=True)
                got = [p["value"] for p in chart["series"][0]["data"]]
                if got != want[:len(got)]:
                    bad.append(f"{name} {chart['id']}: {got} != {want}")
            fast = db.session.execute(sa.select(sa.func.count()).where(
                *period, Case.state == State.CLOSED,
                Case.closed_at <= Case.received_at + timedelta(hours=48))).scalar_one()
            rollup = sum(r.closed_48h for r in d._cells(u, f))
            if fast != rollup:
                bad.append(f"{name} closed within 48 h: {rollup} != {fast}")
            from portal.cases.queries import repeat_clause
            repeat = db.session.execute(sa.select(sa.func.count()).where(*period, repeat_clause())).scalar_one()
            rollup = sum(r.repeat for r in d._cells(u, f))
            if repeat != rollup:
                bad.append(f"{name} repeat complaints: {rollup} != {repeat}")
            kpis = {k["id"]: k["value"] for k in d.kpis(u, f)}
            n_open = db.session.execute(sa.select(sa.func.count()).where(
                *where, Case.state.notin_([State.CLOSED, State.REJECTED]))).scalar_one()
            if kpis["open"] != n_open:
                bad.append(f"{name} open: {kpis['open']} != {n_open}")
            print(f"  {name}: yoy, pareto ({sum(pareto.values()):,} cases), branch/product/unit, "
                  f"48 h ({fast:,}), repeats ({repeat:,}), open ({n_open:,}) checked", flush=True)
    return bad


def in_process(app, rounds: int) -> dict:
    out = {}
    for view, username, query in VIEWS:
        with app.test_request_context("/reports/"):
            args = resolve(query)
        from portal.reports import dashboard as d
        times: dict[str, list[float]] = {k: [] for k in chart_functions()}
        for _ in range(rounds):
            for name, fn in chart_functions().items():
                with app.test_request_context("/reports/", query_string=args):
                    u = user(username)
                    f = d.DashFilters.from_args(args)
                    t = time.perf_counter()
                    fn(u, f)
                    times[name].append(time.perf_counter() - t)
        out[view] = {k: B.summary_ms(v) for k, v in times.items()}
        print(f"  {view}", flush=True)
        for k, s in out[view].items():
            print(f"    {k:<26} p50 {s['p50']:7.1f}  p95 {s['p95']:7.1f} ms", flush=True)
    return out


def over_http(db_url: str, n: int) -> dict:
    out = {}
    cfg = B.ServerConfig(workers=2, worker_class="sync")
    with B.gunicorn("serve:portal_app()", db_url, cfg) as (base, _proc):
        for view, username, query in VIEWS[:1] + VIEWS[-1:]:
            c = B.Client(base).login(username)
            for _ in range(10):
                c.get("/reports/")
            server, client = [], []
            for _ in range(n):
                r = c.get("/reports/")
                if r.status != 200:
                    raise RuntimeError(f"GET /reports/ as {username}: HTTP {r.status}: {r.text()[:300]}")
                client.append(r.seconds)
                if r.server_ms is not None:
                    server.append(r.server_ms / 1000)
            out[view] = {"server": B.summary_ms(server), "client": B.summary_ms(client), "bytes": len(r.body)}
            s = out[view]
            print(f"  GET /reports/ {view:<34} server p50 {s['server']['p50']:.1f} p95 {s['server']['p95']:.1f} | "
                  f"client p95 {s['client']['p95']:.1f} ms | {s['bytes']:,} bytes", flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=B.DEFAULT_DB)
    ap.add_argument("--rounds", type=int, default=40, help="calls of each chart function per view")
    ap.add_argument("--requests", type=int, default=60, help="sequential GETs of the page per user")
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args(argv)

    result = {"machine": B.machine_conditions(), "args": vars(args)}
    print(f"machine: {result['machine']}", flush=True)
    app = setup(args.database_url)
    print("exactness against COUNTs of the case table:", flush=True)
    result["mismatches"] = exactness(app)
    for line in result["mismatches"]:
        print("  MISMATCH " + line, flush=True)
    print("each chart's data, in process:", flush=True)
    result["in_process"] = in_process(app, args.rounds)
    if not args.skip_http:
        result["http"] = over_http(args.database_url, args.requests)
    result["top_processes_after"] = B.top_other_processes()
    B.save_json("dashboard.json", result)
    return 1 if result["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())

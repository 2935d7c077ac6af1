"""Timing of the dashboard's two contracts of portal/reports/history.py and volumes.py on the
bench database (1M cases, ~4,000 batches): monthly_counts for a year, units_produced for a
month, twelve units_produced calls (one a month, as a chart would) against one units_by_month.

    PYTHONPATH=. DATABASE_URL=postgresql://postgres@127.0.0.1/portal_bench .venv/bin/python bench/history_bench.py
"""
from __future__ import annotations

import time
from datetime import date

from portal import create_app


def timed(fn, n: int = 30) -> str:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return f"p50 {times[len(times) // 2]:.1f} ms, p95 {times[max(int(len(times) * .95) - 1, 0)]:.1f} ms"


def main() -> None:
    with create_app().app_context():
        from portal.reports.dashboard import DashFilters
        from portal.reports.history import monthly_counts
        from portal.reports.volumes import units_by_month, units_produced
        f = DashFilters.from_args({})
        year = date.today().year
        months = [date(year, m, 1) for m in range(1, 13)]
        print("monthly_counts(year, filters):", timed(lambda: monthly_counts(year, f)))
        print("units_produced(one month):", timed(lambda: units_produced(months[0], months[0])))
        print("12 × units_produced:", timed(lambda: [units_produced(m, m) for m in months], 10))
        print("units_by_month(12 months):", timed(lambda: units_by_month(months[0], months[-1])))
        per_month = {m: units_produced(m, m) for m in months}
        assert units_by_month(months[0], months[-1]) == {m: u for m, u in per_month.items() if u is not None}
        print("units_by_month agrees with units_produced month by month")


if __name__ == "__main__":
    main()

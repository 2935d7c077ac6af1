"""Export figure (issue 13): the case list exported as CSV and XLSX, ~100k rows out of the
1M-case bench database: time to the first byte, the whole, and the peak memory of the process.

    .venv/bin/python bench/export_bench.py [--db URL] [--from 2026-08-06 --to 2026-11-30]
                                           [--formats csv,xlsx] [--job]

Each measurement runs in a fresh process of its own (this script with --child), so its peak
resident memory (ru_maxrss, VmHWM) is that one export's, the app and its imports included
(reported beside the RSS just before the export started), after one small warm-up export of
a single day in the same process (a worker that has served pages: connection, lazy imports).
The export is the list's own route, `GET /reports/export/cases.<fmt>?date_from=…&date_to=…`
as the desk (every case in scope, phones whole), called in a request context with the desk
signed in by Flask-Login alone (no login POST, so no session row) and its audit event left
out (nothing is written to the bench database), with the stream limit raised so the 100k
rows stream in the request; the response body is read chunk by chunk as a WSGI server would
send it. `--job` also runs the same export as the worker does (portal.reports.export.run_export,
writing the file; Redis database BENCH_REDIS_URL, default redis://127.0.0.1:6379/13, the
bench's, its record and RQ job deleted afterwards).

Read only: the bench database is not changed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql://postgres@127.0.0.1/portal_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
OUT = ROOT / "bench" / "out"


def rss_kib(key: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def child(args) -> dict:
    os.environ.setdefault("SECRET_KEY", "export-bench")
    sys.path.insert(0, str(ROOT))
    from flask_login import login_user
    import sqlalchemy as sa

    from portal import create_app
    from portal.extensions import db
    from portal.org.models import User
    from portal.reports import export
    # The one write of an export, its audit event (an INSERT before the first byte), is left
    # out: the bench database stays as generated.
    export.record_export = lambda *args: None
    uploads = tempfile.mkdtemp(prefix="export-bench-")
    app = create_app(SQLALCHEMY_DATABASE_URI=args.db.replace("postgresql://", "postgresql+psycopg://", 1),
                     REDIS_URL=args.redis, UPLOAD_DIR=uploads, EXPORT_STREAM_MAX=10_000_000)
    query = f"date_from={args.date_from}&date_to={args.date_to}"
    with app.app_context():
        desk = db.session.execute(sa.select(User).where(User.username == "desk")).unique().scalar_one()
        desk_id = desk.id
    result = {"format": args.fmt, "mode": args.mode, "filters": query}
    if args.mode == "stream":
        # A warm process, as a gunicorn worker that has served pages: the first request's
        # connection, lazy imports and caches are paid by a small export of one day first.
        with app.test_request_context(f"/reports/export/cases.{args.fmt}?date_from={args.date_to}"
                                      f"&date_to={args.date_to}"):
            login_user(db.session.get(User, desk_id))
            for _ in app.view_functions["reports_export.cases"](fmt=args.fmt).response:
                pass
        with app.test_request_context(f"/reports/export/cases.{args.fmt}?{query}"):
            login_user(db.session.get(User, desk_id))
            result["rss_before_kib"] = rss_kib()
            t0, c0 = time.perf_counter(), time.process_time()
            resp = app.view_functions["reports_export.cases"](fmt=args.fmt)
            stamps = []  # when each non-empty chunk was ready: the header, then the rows
            size = 0
            for chunk in resp.response:
                if chunk:
                    stamps.append(time.perf_counter() - t0)
                size += len(chunk)
            total, cpu = time.perf_counter() - t0, time.process_time() - c0
        result.update(first_byte_s=round(stamps[0], 3), first_rows_s=round(stamps[1], 3), total_s=round(total, 2),
                      cpu_s=round(cpu, 2), bytes=size, chunks=len(stamps))
    else:  # the worker's way: a file
        from urllib.parse import parse_qsl

        from werkzeug.datastructures import MultiDict

        from portal import queues
        from portal.cases.queries import CaseFilters
        with app.test_request_context():
            desk = db.session.get(User, desk_id)
            f = CaseFilters.from_args(MultiDict(parse_qsl(query)))
            token = export.start_export(desk, f, args.fmt, "zh_CN")
            assert token, "Redis did not take the job"
            queues.queue("default").remove(export._rq_id(token))  # run here, not by a worker
            result["rss_before_kib"] = rss_kib()
            t0, c0 = time.perf_counter(), time.process_time()
            export.run_export(token)
            total, cpu = time.perf_counter() - t0, time.process_time() - c0
            job = export.export_job(token)
            path = export.export_path(token, job)
            result.update(total_s=round(total, 2), cpu_s=round(cpu, 2), bytes=path.stat().st_size,
                          status=job["status"])
            path.unlink()
            queues.redis().delete(export._key(token))
            from rq.job import Job
            try:
                Job.fetch(export._rq_id(token), connection=queues.redis()).delete()
            except Exception:  # noqa: BLE001 - already gone
                pass
    result["rows"] = count_rows(app, query)
    result["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["vm_hwm_kib"] = rss_kib("VmHWM")
    return result


def count_rows(app, query: str) -> int:
    from urllib.parse import parse_qsl

    import sqlalchemy as sa
    from werkzeug.datastructures import MultiDict

    from portal.cases.models import Case
    from portal.cases.queries import CaseFilters, filter_clauses
    from portal.extensions import db
    from portal.org.models import User
    with app.app_context():
        desk = db.session.execute(sa.select(User).where(User.username == "desk")).unique().scalar_one()
        f = CaseFilters.from_args(MultiDict(parse_qsl(query)))
        return db.session.execute(sa.select(sa.func.count()).select_from(Case)
                                  .where(*filter_clauses(desk, f))).scalar_one()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    p.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    p.add_argument("--from", dest="date_from", default="2026-08-06")
    p.add_argument("--to", dest="date_to", default="2026-11-30")
    p.add_argument("--formats", default="csv,xlsx")
    p.add_argument("--job", action="store_true", help="also the worker's way (a file)")
    p.add_argument("--child", dest="fmt", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="stream", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.fmt:
        print(json.dumps(child(args)))
        return 0
    results = []
    for fmt in args.formats.split(","):
        for mode in ("stream", "job") if args.job else ("stream",):
            out = subprocess.run([sys.executable, __file__, "--child", fmt, "--mode", mode, "--db", args.db,
                                  "--redis", args.redis, "--from", args.date_from, "--to", args.date_to],
                                 capture_output=True, text=True, cwd=ROOT, env={**os.environ, "TZ": "Asia/Shanghai"})
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            first = (f"first byte {r['first_byte_s']:.3f} s, first rows {r['first_rows_s']:.3f} s, "
                     if "first_byte_s" in r else "")
            print(f"{fmt:4} {mode:6} {r['rows']:,} rows: {first}all {r['total_s']:.2f} s (cpu {r['cpu_s']:.2f}), "
                  f"{r['bytes'] / 1e6:.1f} MB, peak RSS {r['peak_rss_kib'] / 1024:.0f} MB "
                  f"(before the export {r['rss_before_kib'] / 1024:.0f} MB)", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "export_bench.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

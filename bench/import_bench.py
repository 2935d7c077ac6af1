"""Import figure (issue 12): 100,000 batch rows imported from a file by the RQ job, its time
and the peak memory of the process that ran it.

    .venv/bin/python bench/import_bench.py [--rows 100000] [--formats csv,xlsx] [--db URL]

For each format: a file of ROWS good batch rows (8 demo products, both production
departments, shift, line, quantity, shipped regions) goes through the path an admin's
upload takes (portal.catalog.importing.start_import: stored, job row, enqueued), then one
`rq worker --burst --worker-class jobs.worker.PortalWorker default` process runs the job as
production does (the worker builds the app, then forks a work-horse for the job). Reported: the job's time in the work-horse (RQ's started_at → ended_at),
split into the check pass and the write pass (from the job row's status, polled); the
work-horse's peak resident memory (VmHWM from /proc, read every 20 ms while it runs), the
worker's own before it forked (the app with WeasyPrint's fonts warm), and, from a second run
of the same file in this process under tracemalloc, the peak of the Python heap the job
itself allocates (--no-heap skips it). The rows are
deleted again before each run (each run inserts all ROWS).

Uses its own PostgreSQL database (default portal_import_bench, created, migrated and seeded
if missing) and Redis database (BENCH_REDIS_URL, default redis://127.0.0.1:6379/1, its
default queue emptied first).
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1/portal_import_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/1"
PREFIX = "BENCH"


def rows(n: int):
    products = ["P001", "P002", "P003", "P004", "P005", "P006", "P007", "P008"]
    shifts = ("早班", "中班", "晚班")
    regions = ("四川、河南", "北京", "四川、重庆、贵州", "河南、河北、山东、天津")
    for i in range(n):
        yield [f"{PREFIX}{i:07d}", products[i % 8], (date(2025, 1, 1) + timedelta(days=i % 600)).isoformat(),
               "生产一部" if i % 2 else "PROD2", f"{i % 3 + 1}号线", shifts[i % 3], 10_000 + i % 50_000,
               regions[i % 4]]


def make_file(fmt: str, n: int, header: list[str]) -> bytes:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows(n))
        return out.getvalue().encode("utf-8-sig")
    from openpyxl import Workbook
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for row in rows(n):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def vm_kib(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def run_one(app, env: dict, fmt: str, n: int, redis_url: str, heap: bool) -> dict:
    import sqlalchemy as sa
    from redis import Redis
    from rq.job import Job
    from werkzeug.datastructures import FileStorage

    from portal.batches.models import Batch
    from portal.catalog.importing import start_import, template_header
    from portal.catalog.models import ImportJob, ImportKind
    from portal.extensions import db
    from portal.org.models import User

    with app.app_context():
        db.session.execute(sa.delete(Batch).where(Batch.batch_no.like(f"{PREFIX}%")))
        db.session.commit()
        t0 = time.monotonic()
        content = make_file(fmt, n, template_header(ImportKind.BATCHES))
        made = time.monotonic() - t0
        admin = db.session.execute(sa.select(User).where(User.username == "admin")).unique().scalar_one()
        job = start_import(admin, "batches", FileStorage(io.BytesIO(content), filename=f"bench.{fmt}"))
        job_id = job.id

    log = open(benchlib.OUT / f"import_bench_worker_{fmt}.log", "w")
    worker = subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", redis_url,
                               "--worker-class", "jobs.worker.PortalWorker", "default"],
                              cwd=benchlib.APP_ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    horse_peak = worker_rss = 0
    horse_pid = None
    phases: dict[str, float] = {}
    last_status = None
    engine = sa.create_engine(env["DATABASE_URL"])
    try:
        while worker.poll() is None:
            kids = children(worker.pid)
            if kids:
                horse_pid = kids[0]
                horse_peak = max(horse_peak, vm_kib(horse_pid, "VmHWM") or 0)
            else:
                worker_rss = vm_kib(worker.pid, "VmRSS") or worker_rss  # before the fork
            with engine.connect() as conn:
                status = conn.execute(sa.text("SELECT status FROM import_job WHERE id = :i"), {"i": job_id}).scalar()
            if status != last_status:
                phases[status] = time.monotonic()
                last_status = status
            time.sleep(0.02)
    finally:
        if worker.poll() is None:
            worker.kill()
        engine.dispose()
    rq_job = Job.fetch(f"catalog-import-{job_id}", connection=Redis.from_url(redis_url))
    with app.app_context():
        job = db.session.get(ImportJob, job_id)
        imported = db.session.execute(sa.select(sa.func.count()).select_from(Batch)
                                      .where(Batch.batch_no.like(f"{PREFIX}%"))).scalar_one()
        result = {
            "format": fmt, "rows": n, "file_bytes": len(content), "file_made_seconds": round(made, 2),
            "status": job.status.value, "created_rows": job.created_rows, "rows_in_register": imported,
            "message": job.message, "errors": job.error_count,
            "job_seconds": round((rq_job.ended_at - rq_job.started_at).total_seconds(), 2)
            if rq_job.started_at and rq_job.ended_at else None,
            "check_seconds": round(phases["writing"] - phases["checking"], 2)
            if "checking" in phases and "writing" in phases else None,
            "write_seconds": round(phases["done"] - phases["writing"], 2)
            if "writing" in phases and "done" in phases else None,
            "horse_peak_rss_mib": round(horse_peak / 1024, 1),
            "worker_rss_before_fork_mib": round(worker_rss / 1024, 1),
        }
    if heap:
        result.update(heap_peak(app, content, fmt, redis_url))
    return result


def heap_peak(app, content: bytes, fmt: str, redis_url: str) -> dict:
    """The same import run in this process under tracemalloc: the peak of the Python heap the
    job itself allocates (the work-horse's RSS also holds the app and WeasyPrint's fonts)."""
    import tracemalloc

    import sqlalchemy as sa
    from redis import Redis
    from rq import Queue
    from werkzeug.datastructures import FileStorage

    from portal.batches.models import Batch
    from portal.catalog.importing import run_import, start_import
    from portal.extensions import db
    from portal.org.models import User

    with app.app_context():
        db.session.execute(sa.delete(Batch).where(Batch.batch_no.like(f"{PREFIX}%")))
        db.session.commit()
        admin = db.session.execute(sa.select(User).where(User.username == "admin")).unique().scalar_one()
        job_id = start_import(admin, "batches", FileStorage(io.BytesIO(content), filename=f"bench.{fmt}")).id
        Queue("default", connection=Redis.from_url(redis_url)).empty()  # run here, not by a worker
        db.session.remove()
        tracemalloc.start()
        t0 = time.monotonic()
        status = run_import(job_id)
        seconds = time.monotonic() - t0
        _size, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {"in_process_status": status.value, "in_process_seconds_traced": round(seconds, 2),
            "python_heap_peak_mib": round(peak / 2**20, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--db", default=os.environ.get("BENCH_IMPORT_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--no-heap", action="store_true", help="skip the in-process tracemalloc run")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                        help="first wait up to S seconds for the machine to go quiet")
    args = parser.parse_args()
    quiet = benchlib.wait_quiet(args.wait_quiet) if args.wait_quiet else None

    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    env = {**benchlib.app_env(args.db), "REDIS_URL": redis_url}
    for key in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "PORTAL_INSTANCE", "UPLOAD_DIR", "TZ"):
        os.environ[key] = env[key]
    sys.path.insert(0, str(benchlib.APP_ROOT))
    benchlib.ensure_database(args.db)

    from flask_migrate import upgrade
    from redis import Redis
    from rq import Queue

    from portal import create_app
    from portal.extensions import db
    from portal.seed import seed_demo

    Queue("default", connection=Redis.from_url(redis_url)).empty()
    app = create_app()
    with app.app_context():
        upgrade(directory=str(benchlib.APP_ROOT / "portal" / "migrations"))
        seed_demo()
        db.session.commit()

    runs = []
    with benchlib.CpuWatch(lambda: benchlib.postgres_pids(benchlib.db_name(args.db))) as cpu:
        for fmt in args.formats.split(","):
            runs.append(run_one(app, env, fmt.strip(), args.rows, redis_url, not args.no_heap))
            print(runs[-1], flush=True)
    result = {"runs": runs, "cpu": cpu.result, "quiet_wait": quiet,
              "machine": benchlib.machine_conditions(), "busiest_processes": benchlib.top_other_processes()}
    path = benchlib.save_json("import_bench.json", result)
    print(f"saved {path}")
    return 0 if all(r["status"] == "done" and r["rows_in_register"] == args.rows for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())

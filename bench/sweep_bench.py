"""Figures of the escalation ladder (issue 11):

1. Reminder lateness with the worker running: cases registered through the intake operation
   with a short verify limit (60 s) get their reminders written as future outbox rows (50 % and
   80 %); a real `rq worker --with-scheduler` delivers them to a local SMTP sink (aiosmtpd).
   Lateness = sent_at - send_after of each reminder mail. Target: p95 <= 5 s.
2. One timer sweep (portal.escalation.operations.sweep_timers: find the pending timers past
   their time, hand them to the workers in one Redis pipeline) over 100k open cases of which
   1,000 have a timer due, then the same with 1M open cases and the same 1,000 due.
   Target: <= 300 ms, and within 20 % between the two sizes.

    .venv/bin/python bench/sweep_bench.py [--database-url postgresql://postgres@127.0.0.1/portal_sweep_bench]
        [--sizes 100000,1000000] [--due 1000] [--runs 41] [--lateness-cases 30] [--lateness-spread 60] [--lateness-limit 60] [--reuse] [--skip-lateness]

Each part has a database of its own (<base>_lateness, <base>_100000, <base>_1000000), made afresh
(migrations + demo seed) unless --reuse finds a size's database already filled. Open cases for
the sweep are written in bulk by SQL, each with its pending breach timer and two timers already
fired or cancelled (the history a real table holds); no worker runs during the sweeps, which
alternate between the sizes round by round so the machine's other load falls on both. Redis:
database 5 unless BENCH_REDIS_URL says otherwise (flushed: run nothing else on it meanwhile).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
DEFAULT_DB = "postgresql://postgres@127.0.0.1/portal_sweep_bench"


def sa_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


def fresh_database(url: str) -> None:
    import psycopg
    info = psycopg.conninfo.conninfo_to_dict(url)
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{info["dbname"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{info["dbname"]}"')
    env = {**os.environ, "DATABASE_URL": sa_url(url), "REDIS_URL": REDIS_URL, "SECRET_KEY": "bench-secret",
           "TZ": "Asia/Shanghai", "PYTHONPATH": str(ROOT), "PORTAL_INSTANCE": str(ROOT / "bench" / "out" / "instance")}
    flask = ROOT / ".venv" / "bin" / "flask"
    for args in (("db", "upgrade"), ("seed-demo",)):
        subprocess.run([str(flask), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


# ---------------------------------------------------------------- 1. lateness

class Sink:
    def __init__(self):
        from aiosmtpd.controller import Controller
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.count = 0
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 2.0.0 Ok: queued"


def lateness(app, url: str, cases: int, spread_s: float, limit_s: float) -> dict:
    import sqlalchemy as sa
    from redis import Redis

    from portal.cases.enums import Channel, CustomerType
    from portal.cases.operations import register_case
    from portal.extensions import db
    from portal.notify.models import OutboxMessage
    from portal.org.models import User
    from portal.sla.models import SlaPolicy
    from portal.steps import Step
    from portal.clock import as_utc

    Redis.from_url(REDIS_URL).flushdb()
    sink = Sink()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
    env = {**os.environ, "DATABASE_URL": sa_url(url), "REDIS_URL": REDIS_URL, "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(sink.port), "SECRET_KEY": "bench-secret", "TZ": "Asia/Shanghai",
           "PYTHONPATH": str(ROOT), "PORTAL_INSTANCE": str(ROOT / "bench" / "out" / "instance")}
    log = open(ROOT / "bench" / "out" / "sweep_bench_worker.log", "wb")
    worker = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "rq"), "worker", "--with-scheduler", "--worker-class",
         "jobs.worker.PortalWorker", "--url", REDIS_URL, "notify"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0)
    try:
        with app.app_context():
            policy = db.session.execute(sa.select(SlaPolicy).where(SlaPolicy.step == Step.VERIFY)).scalars().all()
            for row in policy:
                row.minutes, row.reminder_percents = limit_s / 60, [50, 80]
            db.session.commit()
            time.sleep(5)  # the worker builds the app
            start = time.monotonic()
            for i in range(cases):
                desk = db.session.execute(sa.select(User).where(User.username == "desk")).unique().scalar_one()
                register_case(desk, {
                    "customer_name": f"顾客{i}", "customer_phone": f"139{i:08d}", "customer_type": CustomerType.CONSUMER,
                    "product_name": "三鲜水饺", "description": "水饺里有异物", "urgent": False,
                    "threatens_media": False}, [], channel=Channel.HOTLINE)
                db.session.remove()
                # Spread evenly over spread_s (a busy hotline registers one every few minutes).
                time.sleep(max(0.0, start + (i + 1) * spread_s / cases - time.monotonic()))
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                left = db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.kind == "reminder", OutboxMessage.channel == "email",
                    OutboxMessage.status != "sent")).scalar_one()
                db.session.commit()
                if not left:
                    break
                time.sleep(1)
            rows = db.session.execute(sa.select(OutboxMessage.send_after, OutboxMessage.sent_at).where(
                OutboxMessage.kind == "reminder", OutboxMessage.channel == "email",
                OutboxMessage.status == "sent")).all()
            total = db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
                OutboxMessage.kind == "reminder", OutboxMessage.channel == "email")).scalar_one()
            db.session.commit()
    finally:
        os.killpg(worker.pid, 9)
        worker.wait()
        log.close()
        sink.controller.stop()
    late = [(as_utc(s) - as_utc(a)).total_seconds() for a, s in rows]
    return {"cases": cases, "over_s": spread_s, "verify_limit_s": limit_s, "reminder_mails": total, "sent": len(late), "received_by_sink": sink.count,
            "lateness_s": {"p50": round(percentile(late, 50), 3), "p95": round(percentile(late, 95), 3),
                           "max": round(max(late), 3)} if late else None}


# ---------------------------------------------------------------- 2. the sweep

CASES_SQL = """
WITH c AS (
  INSERT INTO "case" (number, version, received_at, channel, kind, registered_by_id, customer_name,
      customer_phone, customer_type, product_name, description, urgent, threatens_media, validity, state,
      step, step_unit_id, responsible_unit_id, step_started_at, due_at, ladder_level, callback_rejections,
      needs_approval, settled_on_spot, callback_count, reopen_count, created_at, updated_at)
  SELECT 'SB' || lpad(g::text, 10, '0'), 1, now() - interval '2 hours', 'hotline', 'complaint', :uid,
      '顾客' || g, '139' || lpad((g % 100000000)::text, 8, '0'), 'consumer', '三鲜水饺', '批量生成', false, false,
      'valid', 'investigating', 'investigate', :unit, :unit, now() - interval '2 hours',
      CASE WHEN g <= CAST(:due AS integer) THEN now() - interval '30 seconds' - (g % 30) * interval '1 second'
           ELSE now() + interval '1 hour' + (g % 172800) * interval '1 second' END,
      0, 0, false, false, 0, 0, now(), now()
  FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) AS g
  RETURNING id, step_started_at, due_at
), pending AS (
  INSERT INTO case_timer (case_id, kind, step, step_started_at, fire_at, key, created_at)
  SELECT id, 'breach', 'investigate', step_started_at, due_at, 'bench:breach:' || id, now() FROM c
)
INSERT INTO case_timer (case_id, kind, step, step_started_at, fire_at, fired_at, cancelled_at, outcome, key, created_at)
SELECT id, k.kind, 'dispatch', step_started_at - interval '1 hour', step_started_at - interval '30 minutes',
       CASE WHEN k.kind = 'breach' THEN NULL ELSE step_started_at - interval '30 minutes' END,
       CASE WHEN k.kind = 'breach' THEN step_started_at ELSE NULL END, 'bench', 'bench:' || k.kind || ':old:' || id, now()
FROM c CROSS JOIN (VALUES ('breach'), ('ladder')) AS k(kind)
"""


def add_open_cases(app, first: int, last: int, due: int) -> None:
    import sqlalchemy as sa
    from portal.extensions import db
    from portal.org.models import OrgUnit, User
    with app.app_context():
        uid = db.session.execute(sa.select(User.id).where(User.username == "desk")).scalar_one()
        unit = db.session.execute(sa.select(OrgUnit.id).where(OrgUnit.code == "PROD1")).scalar_one()
        step = 100_000
        for a in range(first, last + 1, step):
            b = min(last, a + step - 1)
            db.session.execute(sa.text(CASES_SQL), {"uid": uid, "unit": unit, "due": due, "a": a, "b": b})
            db.session.commit()
        db.session.execute(sa.text("ANALYZE case_timer"))
        db.session.execute(sa.text('ANALYZE "case"'))
        db.session.commit()


def measure_sweep(app, runs: int, due: int, count: bool = True) -> dict:
    import sqlalchemy as sa
    from redis import Redis
    from portal.escalation.models import CaseTimer
    from portal.escalation.operations import due_timer_ids, sweep_timers
    from portal.extensions import db
    redis = Redis.from_url(REDIS_URL)
    totals, selects = [], []
    with app.app_context():
        # Counted once, before the rounds: a count over millions of rows right before a timed
        # sweep would charge its cache misses to the larger database.
        open_cases = timers = None
        if count:
            open_cases = db.session.execute(sa.text(
                "SELECT count(*) FROM \"case\" WHERE state NOT IN ('closed', 'rejected')")).scalar_one()
            timers = db.session.execute(sa.select(sa.func.count()).select_from(CaseTimer)).scalar_one()
        db.session.commit()
        for i in range(runs + 1):
            redis.flushdb()
            t0 = time.perf_counter()
            ids = due_timer_ids()
            db.session.commit()
            t1 = time.perf_counter()
            handed = sweep_timers()
            t2 = time.perf_counter()
            assert len(ids) == due and handed == due, (len(ids), handed)
            if i:  # the first warms the connection and the caches
                selects.append((t1 - t0) * 1000)
                totals.append((t2 - t1) * 1000)
        queued = redis.llen("rq:queue:notify")
        plan = "\n".join(r[0] for r in db.session.execute(sa.text(
            "EXPLAIN SELECT id FROM case_timer WHERE fired_at IS NULL AND cancelled_at IS NULL "
            "AND fire_at <= now() ORDER BY fire_at LIMIT 1000")))
        db.session.commit()
    redis.flushdb()
    return {"open_cases": open_cases, "timer_rows": timers, "due": due, "jobs_queued": queued,
            "sweep_ms": {"median": round(statistics.median(totals), 1), "min": round(min(totals), 1),
                         "max": round(max(totals), 1)},
            "select_only_ms": {"median": round(statistics.median(selects), 2)}, "plan": plan}


def _url_for(base: str, suffix: str) -> str:
    return base.rsplit("/", 1)[0] + "/" + base.rsplit("/", 1)[1] + "_" + suffix


def _app(url: str):
    from portal import create_app
    return create_app({"SQLALCHEMY_DATABASE_URI": sa_url(url), "REDIS_URL": REDIS_URL, "SECRET_KEY": "bench-secret"})


def _open_cases(url: str) -> int | None:
    import psycopg
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM \"case\" WHERE number LIKE 'SB%%'").fetchone()[0]
    except Exception:  # noqa: BLE001 - no such database yet
        return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default=DEFAULT_DB, help="the base name; each part adds _<size> / _lateness")
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--due", type=int, default=1000)
    p.add_argument("--runs", type=int, default=41)
    p.add_argument("--lateness-cases", type=int, default=30)
    p.add_argument("--lateness-spread", type=float, default=60, help="seconds over which the cases are registered")
    p.add_argument("--lateness-limit", type=float, default=60, help="the verify limit in seconds")
    p.add_argument("--skip-lateness", action="store_true")
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--reuse", action="store_true", help="keep a size's database if it already holds that many cases")
    args = p.parse_args(argv)
    os.environ.update(TZ="Asia/Shanghai", REDIS_URL=REDIS_URL)
    out = {}
    if not args.skip_lateness:
        url = _url_for(args.database_url, "lateness")
        fresh_database(url)
        out["lateness"] = lateness(_app(url), url, args.lateness_cases, args.lateness_spread, args.lateness_limit)
        print(json.dumps(out["lateness"], ensure_ascii=False), flush=True)
    sizes = [] if args.skip_sweep else [int(x) for x in args.sizes.split(",")]
    apps = {}
    for size in sizes:
        url = _url_for(args.database_url, str(size))
        if not (args.reuse and _open_cases(url) == size):
            t = time.monotonic()
            fresh_database(url)
            add_open_cases(_app(url), 1, size, args.due)
            print(f"{size} open cases written in {time.monotonic() - t:.1f} s", flush=True)
        apps[size] = _app(url)
    # Alternating one sweep of each size per round, so the machine's other load falls on both.
    rounds: dict[int, list] = {size: [] for size in sizes}
    counted = {size: measure_sweep(apps[size], 1, args.due) for size in sizes}
    for _ in range(args.runs):
        for size in sizes:
            rounds[size].append(measure_sweep(apps[size], 1, args.due, count=False))
    out["sweep"] = []
    for size in sizes:
        runs = rounds[size]
        totals = [r["sweep_ms"]["median"] for r in runs]
        selects = [r["select_only_ms"]["median"] for r in runs]
        result = {"open_cases": counted[size]["open_cases"], "timer_rows": counted[size]["timer_rows"], "due": args.due,
                  "jobs_queued": runs[0]["jobs_queued"],
                  "sweep_ms": {"median": round(statistics.median(totals), 1), "min": round(min(totals), 1),
                               "max": round(max(totals), 1)},
                  "select_only_ms": {"median": round(statistics.median(selects), 2)}, "plan": runs[0]["plan"]}
        out["sweep"].append(result)
        print(json.dumps({k: v for k, v in result.items() if k != "plan"}, ensure_ascii=False), flush=True)
    if not sizes:
        (ROOT / "bench" / "out" / "sweep_bench_lateness.json").write_text(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    if len(sizes) > 1:
        a, b = out["sweep"][0]["sweep_ms"]["median"], out["sweep"][-1]["sweep_ms"]["median"]
        out["ratio_largest_to_smallest"] = round(b / a, 3)
        print(f"ratio {b / a:.3f}")
    print(out["sweep"][-1]["plan"])
    out["load_average"] = os.getloadavg()
    print(f"load average {out['load_average']}")
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "sweep_bench.json").write_text(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

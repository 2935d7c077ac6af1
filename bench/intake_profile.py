"""Registering a case, in process: SQL statements per create (grouped by statement), Redis
round trips, and the time spent after the commit handing work to the workers.

    python bench/intake_profile.py --cases 30                          # API and form, no files
    python bench/intake_profile.py --cases 20 --photo 3                # each with one 3 MB JPEG
    python bench/intake_profile.py --database-url postgresql://postgres@127.0.0.1/portal_h5 \
        --redis-url redis://127.0.0.1:6379/3 --only api --show 40

Two paths, each after `--warm` unmeasured creates:
  api   POST /api/v1/cases with a bearer token (issued here through portal.api.tokens as admin),
        JSON, or multipart (`data` + `files`) with --photo;
  form  POST /cases/new as the desk (htmx, as the page sends it), with --photo as `photos`.
Flask test client: no gunicorn, no network, so it shows the application's own statements and
time. Statement counts do not depend on the machine's load; milliseconds do (the machine's busy
cores are printed). The database must be migrated and seeded (`flask db upgrade`, `seed-demo`);
every run adds real cases (and their audit events) to it: use a database of your own.

Timed inside each create: `escalation.hand_over` (timers and reminders to RQ's scheduler),
`outbox.hand_to_workers` (messages due now), and `portal.queues.enqueue` (every job), plus
the Redis round trips (packed commands sent: a pipeline counts once).
"""
from __future__ import annotations

import argparse
import io
import os
import re
import sys
import time
from collections import defaultdict
from contextlib import contextmanager

import benchlib as B

DEFAULT_DB = "postgresql://postgres@127.0.0.1/portal_h5"
DEFAULT_REDIS = "redis://127.0.0.1:6379/3"


class SqlLog:
    """Statements and their time while `on` (SQLAlchemy engine events)."""

    def __init__(self, engine):
        import sqlalchemy as sa
        self.rows: list[tuple[str, float]] = []
        self.where: dict[str, set[str]] = defaultdict(set)
        self.trace = False
        self.on = False

        @sa.event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, executemany):
            conn.info.setdefault("t0", []).append(time.perf_counter())

        @sa.event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, executemany):
            t0 = conn.info["t0"].pop()
            if self.on:
                self.rows.append((statement, time.perf_counter() - t0))
                if self.trace:
                    self.where[shape(statement)].add(caller())


def caller() -> str:
    """The innermost frames of the application (portal/, forms/) that led to a statement."""
    import traceback
    frames = [f for f in traceback.extract_stack()[:-3]
              if ("/portal/" in f.filename or "/forms/" in f.filename) and "/bench/" not in f.filename]
    return " < ".join(f"{f.filename.split('/portal/')[-1]}:{f.lineno} {f.name}" for f in frames[::-1][:3])


class Timers:
    """Wall time inside named functions (patched where they are looked up) while `on`."""

    def __init__(self):
        self.total: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.on = False

    def wrap(self, name: str, places: list[tuple[object, str]]):
        if not hasattr(*places[0]):
            return  # not in this tree (BENCH_APP_ROOT = an older commit)
        original = getattr(*places[0])

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.on:
                    self.total[name] += time.perf_counter() - t0
                    self.calls[name] += 1
        for obj, attr in places:
            if hasattr(obj, attr):
                setattr(obj, attr, timed)


def patch_redis(timers: Timers) -> None:
    """Count packed sends to Redis (one per command, one per pipeline) and their wall time."""
    from redis.connection import Connection
    send, read = Connection.send_packed_command, Connection.read_response

    def counted_send(self, *args, **kwargs):
        if timers.on:
            timers.calls["redis round trips"] += 1
        return send(self, *args, **kwargs)

    def timed_read(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return read(self, *args, **kwargs)
        finally:
            if timers.on:
                timers.total["redis round trips"] += time.perf_counter() - t0
    Connection.send_packed_command = counted_send
    Connection.read_response = timed_read


def shape(statement: str) -> str:
    """A statement without its literal values, whitespace folded, for grouping."""
    s = " ".join(statement.split())
    s = re.sub(r"'(?:[^']|'')*'", "'…'", s)
    s = re.sub(r"\b\d+\b", "N", s)
    s = re.sub(r"(%\(\w+\)s|\$\d+|\?)(\s*,\s*(%\(\w+\)s|\$\d+|\?))+", r"\1, …", s)
    s = re.sub(r"(\((?:'…'|N|%\(\w+\)s|\?)(?:, …)?\))(?:\s*,\s*\((?:[^()]*)\))+", r"\1, …", s)
    return s[:200]


def make_app(db_url: str, redis_url: str):
    B.use_app_root()
    os.environ["DATABASE_URL"] = B.sa_url(db_url)
    os.environ["REDIS_URL"] = redis_url
    from portal import create_app
    return create_app()


def photo_bytes(mb: float) -> bytes:
    """A photo-like JPEG of about `mb` MB (noise compresses badly, as a phone's sensor does)."""
    from PIL import Image
    side = 1200
    while True:
        img = Image.effect_noise((side, side * 3 // 4), 60).convert("RGB")
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=92)
        if buf.tell() >= mb * 1024 * 1024 or side > 6000:
            return buf.getvalue()
        side = int(side * 1.25)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    ap.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    ap.add_argument("--cases", type=int, default=30, help="measured creates per path")
    ap.add_argument("--warm", type=int, default=3, help="unmeasured creates per path first")
    ap.add_argument("--only", choices=["api", "form"], default=None)
    ap.add_argument("--photo", type=float, default=0, help="attach one JPEG of about this many MB")
    ap.add_argument("--batch", action="store_true", help="give a batch number from the register")
    ap.add_argument("--show", type=int, default=30, help="statement groups listed per path")
    ap.add_argument("--profile", action="store_true",
                    help="a pyinstrument tree of the measured creates (pip install pyinstrument for the session)")
    ap.add_argument("--trace", action="store_true", help="list where in the application each statement comes from")
    args = ap.parse_args(argv)

    app = make_app(args.database_url, args.redis_url)
    import portal.cases.operations as ops
    import portal.escalation.operations as esc
    import portal.notify.outbox as outbox
    import portal.queues as queues
    from portal.extensions import db

    timers = Timers()
    timers.wrap("escalation.hand_over", [(esc, "hand_over")])
    timers.wrap("outbox.hand_to_workers", [(outbox, "hand_to_workers"), (ops, "hand_to_workers"),
                                           (esc, "hand_to_workers")])
    timers.wrap("queues.enqueue (one job)", [(queues, "enqueue")])
    timers.wrap("queues.enqueue_many (one pipeline)", [(queues, "enqueue_many")])
    patch_redis(timers)
    with app.app_context():
        sql = SqlLog(db.engine)
        sql.trace = args.trace
        from portal.api import tokens
        from portal.org.models import User
        import sqlalchemy as sa
        admin = db.session.execute(sa.select(User).where(User.username == "admin")).unique().scalar_one()
        _row, token = tokens.issue_token(admin, {"name": f"intake-profile-{os.getpid()}",
                                                 "channels": ["hotline", "wechat"], "branch_ids": [], "hq": True,
                                                 "read_only": False, "rate_per_minute": 6000})
        batch_no = None
        if args.batch:
            from portal.batches.models import Batch
            batch_no = db.session.execute(sa.select(Batch.batch_no).limit(1)).scalar()
        db.session.remove()
    photo = photo_bytes(args.photo) if args.photo else None
    if photo:
        print(f"photo: one JPEG of {len(photo) / 1048576:.2f} MB")
    busy = B.busy_cores(2.0)
    print(f"machine: {busy:.2f} of {os.cpu_count()} cores busy before the run; app root {B.APP_ROOT}")

    case = {"channel": "hotline", "customer_name": "王秀英", "customer_phone": "13912345678",
            "product_name": "三鲜水饺", "product_spec": "500g/袋", "description": "水饺中吃出一根头发",
            "demand": "退货并赔偿", **({"batch_no": batch_no} if batch_no else {})}

    def api_create(client, i):
        import json
        headers = {"Authorization": f"Bearer {token}", "User-Agent": B.USER_AGENT}
        body = {**case, "customer_phone": f"139{i:08d}"}
        if photo:
            data = {"data": json.dumps(body, ensure_ascii=False),
                    "files": (io.BytesIO(photo), "photo.jpg", "image/jpeg")}
            return lambda: client.post("/api/v1/cases", data=data, headers=headers,
                                       content_type="multipart/form-data"), (201,)
        return lambda: client.post("/api/v1/cases", json=body, headers=headers), (201,)

    form_client_state = {}

    def form_create(client, i):
        if "logged_in" not in form_client_state:
            page = client.get("/auth/login").get_data(as_text=True)
            r = client.post("/auth/login", data={"username": "desk", "password": B.PASSWORD,
                                                 "csrf_token": B.csrf_from(page)},
                            headers={"User-Agent": B.USER_AGENT})
            assert r.status_code in (302, 303), r.status_code
            form_client_state["logged_in"] = True
        page = client.get("/cases/new", headers={"User-Agent": B.USER_AGENT}).get_data(as_text=True)
        key = re.search(r'name="intake_key"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="intake_key"', page)
        data = {"csrf_token": B.csrf_from(page), "channel": "hotline", "branch_id": "",
                "customer_name": case["customer_name"], "customer_phone": f"139{i:08d}",
                "customer_type": "consumer", "product_id": "", "product_name": case["product_name"],
                "product_spec": case["product_spec"], "batch_no": batch_no or "",
                "description": case["description"], "demand": case["demand"]}
        if key:
            data["intake_key"] = key.group(1) or key.group(2)
        if photo:
            data["photos"] = (io.BytesIO(photo), "photo.jpg", "image/jpeg")
        headers = {"User-Agent": B.USER_AGENT, "HX-Request": "true"}
        return lambda: client.post("/cases/new", data=data, headers=headers,
                                   content_type="multipart/form-data"), (204, 302, 303)

    paths = {"api": api_create, "form": form_create}
    for name, make in paths.items():
        if args.only and name != args.only:
            continue
        client = app.test_client()
        for i in range(args.warm):
            send, ok = make(client, 10_000 * (1 + list(paths).index(name)) + i)
            r = send()
            assert r.status_code in ok, (name, r.status_code, r.get_data(as_text=True)[:500])
        sql.rows.clear()
        sql.where.clear()
        timers.total.clear()
        timers.calls.clear()
        wall, cpu = [], []
        profiler = None
        if args.profile:
            from pyinstrument import Profiler
            profiler = Profiler(interval=0.0005)
            profiler.start()
        for i in range(args.cases):
            send, ok = make(client, 20_000 * (1 + list(paths).index(name)) + i)
            c0, t0 = time.thread_time(), time.perf_counter()
            sql.on = timers.on = True
            r = send()
            sql.on = timers.on = False
            wall.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
            assert r.status_code in ok, (name, r.status_code, r.get_data(as_text=True)[:500])
        if profiler is not None:
            profiler.stop()
            out = B.OUT / f"intake-profile-{name}{'-photo' if photo else ''}.txt"
            B.OUT.mkdir(parents=True, exist_ok=True)
            out.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
            print(f"pyinstrument tree → {out}")
        n = args.cases
        per = defaultdict(lambda: [0, 0.0])
        for stmt, dt in sql.rows:
            per[shape(stmt)][0] += 1
            per[shape(stmt)][1] += dt
        w, c = B.summary_ms(wall), B.summary_ms(cpu)
        print(f"\n== {name}{' + photo' if photo else ''}: {n} creates")
        print(f"in-process wall p50 {w['p50']:.1f} / p95 {w['p95']:.1f} / mean {w['mean']:.1f} ms; "
              f"CPU p50 {c['p50']:.1f} ms; SQL {len(sql.rows) / n:.1f} statements, "
              f"{sum(d for _, d in sql.rows) / n * 1000:.1f} ms per create")
        for k in sorted(timers.calls):
            print(f"  {k}: {timers.calls[k] / n:.1f} per create, {timers.total[k] / n * 1000:.2f} ms")
        print(f"  statements ({len(per)} kinds; count per create × mean ms):")
        for stmt, (count, total) in sorted(per.items(), key=lambda kv: (-kv[1][0], -kv[1][1]))[:args.show]:
            print(f"  {count / n:5.1f} × {total / count * 1000:6.2f}  {stmt}")
            for where in sorted(sql.where.get(stmt, ())):
                print(f"           from {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

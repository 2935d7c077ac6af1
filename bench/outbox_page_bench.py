"""The admin's outbox page against a large outbox (issue 11, operations): how long each filter
takes in process (Flask test client, no network), on a PostgreSQL database of its own.

    .venv/bin/python bench/outbox_page_bench.py --rows 500000

Creates `portal_outbox_page_bench` (dropped at the end unless --keep), migrates and seeds it,
writes ROWS outbox rows in one INSERT … SELECT (mostly sent mail and read in-app rows, a few
failed, given up and pending; kinds and channels mixed; one in 50 on one of 20 cases), then
times each page N times and prints the median and p95 in milliseconds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TZ", "Asia/Shanghai")

import sqlalchemy as sa  # noqa: E402

BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NAME = "portal_outbox_page_bench"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="leave the database for another run")
    ap.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"))
    args = ap.parse_args(argv)

    admin = sa.create_engine(BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": NAME}).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{NAME}"'))
    url = BASE.rsplit("/", 1)[0] + "/" + NAME

    from flask_migrate import upgrade
    from portal import create_app
    from portal.config import TestConfig
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, REDIS_URL=args.redis_url,
                     WTF_CSRF_ENABLED=False)
    from portal.extensions import db
    with app.app_context():
        upgrade(directory=str(ROOT / "portal" / "migrations"))
        from portal.notify.models import OutboxMessage
        have = db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar_one()
        if have < args.rows:
            _fill(db, args.rows - have)
        number = db.session.execute(sa.text('SELECT number FROM "case" ORDER BY id LIMIT 1')).scalar_one()

    client = app.test_client()
    with app.app_context():
        resp = client.post("/auth/login", data={"username": "admin", "password": "demo1234"})
        assert resp.status_code == 302, resp.status_code
    pages = ["/admin/outbox", "/admin/outbox?status=dead", "/admin/outbox?status=failed&channel=sms",
             "/admin/outbox?kind=customer", "/admin/outbox?channel=robot", f"/admin/outbox?case={number}",
             "/admin/outbox?page=200", "/admin/queues", "/admin/users"]  # the last: a plain admin page
    print(f"outbox rows: {args.rows}; {args.repeat} requests per page, in process")
    for page in pages:
        times = []
        for _ in range(args.repeat):
            with app.app_context():
                started = time.perf_counter()
                resp = client.get(page)
                times.append((time.perf_counter() - started) * 1000)
            assert resp.status_code == 200, (page, resp.status_code)
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(f"{page:45s} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms")

    if not args.keep:
        sa.create_engine(url).dispose()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": NAME})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{NAME}"'))
    return 0


def _fill(db, n: int) -> None:
    from portal.seed import seed_demo
    from portal.org.models import User
    if not db.session.execute(sa.select(User.id).limit(1)).first():
        seed_demo()
    from tests.conftest import make_case  # the intake operation, as the tests use it
    cases = db.session.execute(sa.text('SELECT id FROM "case"')).scalars().all()
    while len(cases) < 20:
        cases.append(make_case().id)
    db.session.commit()
    case_list = "ARRAY[" + ",".join(map(str, cases)) + "]"
    user_id = db.session.execute(sa.select(User.id).limit(1)).scalar_one()
    # Statuses by share: 80 % sent, 15 % read in-app, then pending, failed, dead, cancelled.
    db.session.execute(sa.text(f"""
        INSERT INTO outbox_message (key, kind, channel, recipient_id, address, subject, body, case_id,
                                    created_at, send_after, status, attempts, retries_from,
                                    provider_response, sent_at, last_attempt_at)
        SELECT 'bench:' || g || ':' || md5(random()::text),
               (ARRAY['step','step','step','reminder','reminder','escalation','hurry','customer'])[1 + g % 8],
               CASE WHEN g % 100 < 15 THEN 'inapp' WHEN g % 100 < 75 THEN 'email'
                    WHEN g % 100 < 99 THEN 'sms' ELSE 'robot' END,
               :uid, 'someone@example.com', '【客诉】第' || g || '条', '正文',
               CASE WHEN g % 50 = 0 THEN ({case_list})[1 + (g / 50) % {len(cases)}] END,
               now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval,
               CASE WHEN g % 100 < 15 THEN 'read' WHEN g % 1000 = 999 THEN 'dead'
                    WHEN g % 1000 >= 990 THEN 'failed' WHEN g % 1000 >= 985 THEN 'pending'
                    WHEN g % 1000 >= 980 THEN 'cancelled' ELSE 'sent' END,
               1, 0, '250 2.0.0 Ok: queued', now(), now()
        FROM generate_series(1, :n) AS g"""), {"n": n, "uid": user_id})
    db.session.commit()
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE outbox_message"))  # as autovacuum would, soon


if __name__ == "__main__":
    raise SystemExit(main())

"""Profile one page in-process: SQL statements per request with their time, and a
pyinstrument call tree over many requests (pip install pyinstrument into the venv for the
session; it is not a project requirement).

    python bench/profile_view.py --user desk --path /cases/ --requests 200
    python bench/profile_view.py --user leader_prod1 --path /work --requests 200
    python bench/profile_view.py --user leader_prod2 --post /cases/KS2026-000001/act/approve \
        --form approve-version=3 --form approve-password=demo1234

Writes bench/out/profile-<name>.txt (and .html). Uses the Flask test client against the
bench database: no gunicorn, no network, so what it shows is the application's own time.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import defaultdict

import benchlib as B


def make_app(db_url: str):
    B.use_app_root()
    os.environ["DATABASE_URL"] = B.sa_url(db_url)
    from portal import create_app
    return create_app()


class SqlLog:
    """Statements and their time, per request (SQLAlchemy engine events)."""

    def __init__(self, engine):
        import sqlalchemy as sa
        self.rows: list[tuple[str, float]] = []
        self.on = False

        @sa.event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, executemany):
            conn.info.setdefault("t0", []).append(time.perf_counter())

        @sa.event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, executemany):
            t0 = conn.info["t0"].pop()
            if self.on:
                self.rows.append((statement, time.perf_counter() - t0))


def login(client, username: str) -> None:
    page = client.get("/auth/login").get_data(as_text=True)
    token = B.csrf_from(page)
    r = client.post("/auth/login", data={"username": username, "password": B.PASSWORD, "csrf_token": token},
                    headers={"User-Agent": B.USER_AGENT})
    assert r.status_code in (302, 303), r.status_code


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=B.DEFAULT_DB)
    ap.add_argument("--user", required=True)
    ap.add_argument("--path", help="GET this path")
    ap.add_argument("--post", help="POST to this path once (with --form fields and the CSRF token)")
    ap.add_argument("--form", action="append", default=[], help="name=value for --post")
    ap.add_argument("--file", action="append", default=[], help="field=path to upload with --post (multipart)")
    ap.add_argument("--csrf-from", default="/work", help="page to read the CSRF token from before --post")
    ap.add_argument("--htmx", action="store_true", help="send HX-Request: true")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--name", default=None)
    ap.add_argument("--cpu-only", action="store_true",
                    help="no profiler: report the CPU time per request (thread time), e.g. to compare two trees")
    args = ap.parse_args(argv)

    app = make_app(args.database_url)
    from portal.extensions import db
    with app.app_context():
        sql = SqlLog(db.engine)
    client = app.test_client()
    login(client, args.user)
    headers = {"User-Agent": B.USER_AGENT}
    if args.htmx:
        headers["HX-Request"] = "true"
    name = args.name or re.sub(r"[^A-Za-z0-9]+", "_", f"{args.user}_{args.post or args.path}").strip("_")

    def once():
        if args.post:
            page = client.get(args.csrf_from, headers=headers).get_data(as_text=True)
            token = B.csrf_from(page)
            data = dict(f.split("=", 1) for f in args.form)
            data["csrf_token"] = token
            if args.file:
                import io
                from pathlib import Path
                from werkzeug.datastructures import MultiDict
                data = MultiDict(data)
                for spec in args.file:
                    field, path = spec.split("=", 1)
                    data.add(field, (io.BytesIO(Path(path).read_bytes()), Path(path).name))
            t = time.perf_counter()
            sql.on = True
            r = client.post(args.post, data=data, headers=headers)
            sql.on = False
            return r, time.perf_counter() - t
        t = time.perf_counter()
        sql.on = True
        r = client.get(args.path, headers=headers)
        sql.on = False
        return r, time.perf_counter() - t

    n = 1 if args.post else args.requests
    if not args.post:
        for _ in range(20):  # warm
            once()
    sql.rows.clear()
    if args.cpu_only:
        cpu, wall = [], []
        for _ in range(n):
            c0, t0 = time.thread_time(), time.perf_counter()
            r, _dt = once()
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - t0)
        c, w = B.summary_ms(cpu), B.summary_ms(wall)
        print(f"{args.post or args.path} as {args.user} ({B.APP_ROOT.name}): HTTP {r.status_code}, {len(r.data)} bytes; "
              f"CPU per request p50 {c['p50']:.2f} mean {c['mean']:.2f} ms; wall p50 {w['p50']:.2f} ms; "
              f"SQL {len(sql.rows) / n:.1f} statements, {sum(d for _, d in sql.rows) / n * 1000:.2f} ms")
        return 0
    from pyinstrument import Profiler
    profiler = Profiler(interval=0.0005)
    times = []
    profiler.start()
    for _ in range(n):
        r, dt = once()
        times.append(dt)
    profiler.stop()
    per_stmt = defaultdict(lambda: [0, 0.0])
    for stmt, dt in sql.rows:
        key = " ".join(stmt.split())[:220]
        per_stmt[key][0] += 1
        per_stmt[key][1] += dt
    sql_total = sum(dt for _, dt in sql.rows)
    lines = [f"{args.post or args.path} as {args.user}: HTTP {r.status_code}, {len(r.data)} bytes",
             f"{n} requests, in-process mean {sum(times) / n * 1000:.1f} ms, "
             f"SQL {len(sql.rows) / n:.1f} statements / {sql_total / n * 1000:.1f} ms per request", "",
             "SQL per request (count, mean ms, statement):"]
    for stmt, (count, total) in sorted(per_stmt.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"  {count / n:5.1f} × {total / count * 1000:7.2f} ms  {stmt}")
    lines += ["", profiler.output_text(unicode=True, color=False, show_all=False)]
    out = B.OUT / f"profile-{name}.txt"
    out.write_text("\n".join(lines))
    (B.OUT / f"profile-{name}.html").write_text(profiler.output_html())
    print("\n".join(lines[:4 + min(25, len(per_stmt))]))
    print(f"→ {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Phone search at a million cases: does "the last four digits" (and a landline with its
dash) go through the reversed-digits index on PostgreSQL and on SQLite? (issue 10, item 3)

Builds a throw-away database (PostgreSQL `portal_phone_plan`, dropped at the end, or a
SQLite file in a temporary folder), migrates and seeds it, copies one registered case N
times with varied numbers and phones, then prints the plan and the time of the list's
search as the desk runs it.

    .venv/bin/python bench/phone_search_plan.py [--db postgresql|sqlite] [--cases 1000000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_NAME = "portal_phone_plan"


def phone_sql(dialect: str) -> str:
    # Mobiles and Zhengzhou landlines (with the dash), spread over the whole number range.
    if dialect == "postgresql":
        return ("CASE WHEN g % 5 = 0 THEN '0371-' || lpad(((g::bigint * 7919) % 100000000)::text, 8, '0') "
                "ELSE '13' || lpad(((g::bigint * 7919) % 1000000000)::text, 9, '0') END")
    return ("CASE WHEN g % 5 = 0 THEN '0371-' || printf('%08d', (g * 7919) % 100000000) "
            "ELSE '13' || printf('%09d', (g * 7919) % 1000000000) END")


def fill(conn, dialect: str, n: int, template_id: int) -> None:
    import sqlalchemy as sa
    cols = [c["name"] for c in sa.inspect(conn).get_columns("case") if c["name"] != "id"]
    fixed = {"number": "'B' || g", "customer_phone": "p.phone",
             "customer_phone_digits": "replace(p.phone, '-', '')",
             "customer_phone_rev": "reverse(replace(p.phone, '-', ''))"}
    if dialect == "postgresql":
        fixed["received_at"] = "received_at - g * interval '1 minute'"
        series = f"generate_series(1, {n}) AS s(g)"
        phone = f"(SELECT {phone_sql(dialect)} AS phone) p"
        sql = (f'INSERT INTO "case" ({", ".join(cols)}) SELECT {", ".join(fixed.get(c, c) for c in cols)} '
               f'FROM "case", {series}, LATERAL {phone} WHERE id = {template_id}')
    else:
        conn.connection.driver_connection.create_function("reverse", 1, lambda s: s[::-1] if s else s)
        fixed["received_at"] = "datetime(received_at, '-' || g || ' minutes')"
        sql = (f'WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) '
               f'INSERT INTO "case" ({", ".join(cols)}) SELECT {", ".join(fixed.get(c, c) for c in cols)} '
               f'FROM "case", s, (SELECT {phone_sql(dialect)} AS phone) p WHERE "case".id = {template_id}')
        # SQLite cannot refer to s.g inside the derived table: inline the phone instead.
        sql = sql.replace(f", (SELECT {phone_sql(dialect)} AS phone) p", "").replace("p.phone", f"({phone_sql(dialect)})")
    conn.execute(sa.text(sql))
    conn.execute(sa.text('ANALYZE "case"' if dialect == "postgresql" else "ANALYZE"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--cases", type=int, default=1_000_000)
    args = ap.parse_args()
    import sqlalchemy as sa
    tmp = tempfile.mkdtemp(prefix="phoneplan")
    if args.db == "postgresql":
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_NAME}"'))
            c.execute(sa.text(f'CREATE DATABASE "{PG_NAME}"'))
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_NAME
    else:
        url = f"sqlite:///{tmp}/portal.db"
    os.environ.update(DATABASE_URL=url, SECRET_KEY="bench", UPLOAD_DIR=f"{tmp}/uploads",
                      PDF_CACHE_DIR=f"{tmp}/pdf", PORTAL_INSTANCE=tmp, REDIS_URL="redis://127.0.0.1:1/0")
    try:
        from flask_migrate import upgrade
        from portal import create_app
        from portal.cases.queries import _LIST_SELECT, SORTS, CaseFilters, list_cases, search_clause
        from portal.extensions import db
        from portal.seed import seed_demo
        from tests.conftest import make_case, user
        app = create_app()
        with app.app_context():
            upgrade(directory=str(ROOT / "portal" / "migrations"))
            seed_demo()
            template = make_case()
            t = time.perf_counter()
            with db.engine.begin() as conn:
                fill(conn, args.db, args.cases, template.id)
            print(f"{args.db}: {args.cases:,} cases copied in {time.perf_counter() - t:.0f} s")
            desk = user("desk")
            for q in ("1234", "0371-55551234", "13912345678"):
                stmt = _LIST_SELECT.where(search_clause(q)).order_by(*SORTS["-received"]).limit(51)
                sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
                explain = "EXPLAIN (ANALYZE, BUFFERS OFF) " if args.db == "postgresql" else "EXPLAIN QUERY PLAN "
                plan = [" ".join(str(c) for c in r) for r in db.session.execute(sa.text(explain + sql)).all()]
                db.session.rollback()
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    rows, _more = list_cases(desk, CaseFilters(q=q))
                    times.append(time.perf_counter() - t)
                print(f"\nq={q!r}: {len(rows)} rows on the first page, list_cases best of 5 "
                      f"{min(times) * 1000:.1f} ms; index used: {any('ix_case_phone_rev' in p for p in plan)}")
                print("\n".join("   " + p for p in plan))
    finally:
        if args.db == "postgresql":
            from portal.extensions import db as _db
            try:
                with app.app_context():
                    _db.engine.dispose()
            except Exception:  # noqa: BLE001
                pass
            with admin.connect() as c:
                c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                                  "AND pid <> pg_backend_pid()"), {"n": PG_NAME})
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_NAME}"'))


if __name__ == "__main__":
    main()

"""Terms of a case and their upkeep in the case transactions.

pg_trgm does not index Chinese under this machine's C.UTF-8 ctype and SQLite has no word
index for Chinese, so the index is a plain table of terms, kept in the flush that writes the
case (so a case is found the moment it is saved, rolled back with it):

- every two adjacent Chinese characters of the customer's name, the product and the
  description (水饺 in 三鲜水饺袋内…) — never across fields or punctuation;
- Latin words and numbers whole, lower-cased and NFKC-folded (ＸＬ → xl, 500g);
- the first character of the customer's name alone, so one character finds a surname (王).

A query is split the same way and a case must hold all its terms; a Chinese run longer than
two characters is then checked as a substring, since its bigrams need not be adjacent.
Other single characters and one-letter words are not searchable (they would match most cases).
After a bulk load that bypasses the ORM (bench/generate.py's COPY), `flask search-reindex`.
"""
from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.cases.models import Case
from portal.extensions import db
from portal.search.models import TERM_LEN, CaseTerm

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN_RE = re.compile(f"[{_CJK}]+|[0-9a-z]+")
_CJK_RE = re.compile(f"^[{_CJK}]")
FIELDS = ("customer_name", "product_name", "description")
RARE = 2000  # a term with at most this many cases gives its ids to the query (see matching)


def _runs(text: str | None) -> list[str]:
    return _RUN_RE.findall(unicodedata.normalize("NFKC", text or "").lower())


def _run_terms(run: str) -> list[str]:
    if _CJK_RE.match(run):
        return [run[i:i + 2] for i in range(len(run) - 1)]
    return [run[:TERM_LEN]] if len(run) > 1 else []


def case_terms(customer_name: str | None, product_name: str | None, description: str | None) -> set[str]:
    """Every term a case is found by."""
    out = set()
    name = _runs(customer_name)
    if name and _CJK_RE.match(name[0]):
        out.add(name[0][0])
    for field in (name, _runs(product_name), _runs(description)):
        for run in field:
            out.update(_run_terms(run))
    return out


def has_chinese(text: str) -> bool:
    return any(_CJK_RE.match(run) for run in _runs(text))


def query_terms(text: str) -> tuple[list[str], list[str]]:
    """The terms a query needs, and the Chinese runs to check as substrings afterwards."""
    terms, recheck = [], []
    for run in _runs(text):
        if _CJK_RE.match(run) and len(run) == 1:
            terms.append(run)  # a surname
            continue
        terms.extend(_run_terms(run))
        if _CJK_RE.match(run) and len(run) > 2:
            recheck.append(run)
    return list(dict.fromkeys(terms)), recheck


def _fewest_ids(terms: list[str]) -> list[int] | None:
    """The case ids of the rarest term if it has at most RARE cases; None if every term is
    common. Each term is counted up to RARE + 1 first (an index-only read returning one row:
    fetching 2,000 ids of a common word cost four times as much)."""
    def capped(term):
        return sa.select(CaseTerm.case_id).where(CaseTerm.term == term).limit(RARE + 1)

    counts = {t: db.session.execute(sa.select(sa.func.count()).select_from(capped(t).subquery())).scalar_one()
              for t in terms}
    rarest = min(terms, key=counts.get)
    if counts[rarest] > RARE:
        return None
    return db.session.execute(capped(rarest)).scalars().all() if counts[rarest] else []


def matching(text: str):
    """A WHERE clause: the cases holding every term of `text` (false if it has none)."""
    terms, recheck = query_terms(text)
    if not terms:
        return sa.false()
    clauses = []
    few = _fewest_ids(terms)
    if few is not None:
        # Its ids drive the query: the planner cannot know that common words (白菜, 猪肉)
        # may have few or no cases in common, and would walk every case looking for them.
        clauses.append(Case.id.in_(few))
    clauses += [Case.id.in_(sa.select(CaseTerm.case_id).where(CaseTerm.term == t)) for t in terms]
    # strpos/instr rather than LIKE '%…%': PostgreSQL thinks LIKE so selective that it would
    # scan every case with it (1.3 s at 1M) instead of going through the terms first.
    position = sa.func.strpos if db.engine.dialect.name == "postgresql" else sa.func.instr
    for run in recheck:
        clauses.append(sa.or_(*[position(getattr(Case, f), run) > 0 for f in FIELDS]))
    return sa.and_(*clauses)


def _insert(conn, rows: list[dict]):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(CaseTerm.__table__).on_conflict_do_nothing(), rows)


def _fields(case: Case, old: bool) -> list:
    state = sa.inspect(case)
    out = []
    for name in FIELDS:
        hist = state.attrs[name].history
        out.append(hist.deleted[0] if old and hist.deleted else getattr(case, name))
    return out


def _keep_old_value(target, value, oldvalue, initiator):
    """A no-op whose registration makes SQLAlchemy load a field's old value before it is
    overwritten (active history), so the flush knows which terms to drop."""
    return value


for _field in FIELDS:
    event.listen(getattr(Case, _field), "set", _keep_old_value, active_history=True, retval=True)


@event.listens_for(Session, "after_flush")
def _maintain(session, _ctx) -> None:
    """Add the terms of new cases; for changed ones, the difference (a pair already there, as
    after a load not yet reindexed, is left alone)."""
    add, drop = [], []
    for obj in session.new:
        if isinstance(obj, Case):
            add += [{"term": t, "case_id": obj.id} for t in case_terms(*_fields(obj, old=False))]
    for obj in session.dirty:
        if isinstance(obj, Case) and any(sa.inspect(obj).attrs[f].history.has_changes() for f in FIELDS):
            before, after = case_terms(*_fields(obj, old=True)), case_terms(*_fields(obj, old=False))
            add += [{"term": t, "case_id": obj.id} for t in sorted(after - before)]
            drop += [(t, obj.id) for t in sorted(before - after)]
    if not (add or drop):
        return
    conn = session.connection()
    if drop:
        table = CaseTerm.__table__
        conn.execute(table.delete().where(sa.tuple_(table.c.term, table.c.case_id).in_(drop)))
    if add:
        _insert(conn, add)


def reindex(batch: int = 20_000) -> tuple[int, int]:
    """Rebuild the whole index from the cases, in one transaction; returns (cases, terms).

    On PostgreSQL the rows go in by COPY with the primary key dropped and built once after
    (minutes instead of an hour of row-by-row inserts at 1M cases), then VACUUM sets the
    visibility map so reading a term's ids touches only the index."""
    conn = db.session.connection()
    table = CaseTerm.__table__
    pg = conn.dialect.name == "postgresql"
    if pg:
        conn.execute(sa.text("TRUNCATE case_term"))
        conn.execute(sa.text("ALTER TABLE case_term DROP CONSTRAINT pk_case_term"))
    else:
        conn.execute(table.delete())
    cases = terms = last = 0
    select = sa.select(Case.id, *[getattr(Case, f) for f in FIELDS]).order_by(Case.id).limit(batch)
    while chunk := conn.execute(select.where(Case.id > last)).all():
        last = chunk[-1][0]
        cases += len(chunk)
        rows = [(t, case_id) for case_id, *fields in chunk for t in case_terms(*fields)]
        terms += len(rows)
        if pg:
            with conn.connection.driver_connection.cursor() as cur, \
                    cur.copy("COPY case_term (term, case_id) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        elif rows:
            conn.execute(table.insert(), [{"term": t, "case_id": c} for t, c in rows])
    if pg:
        conn.execute(sa.text("ALTER TABLE case_term ADD CONSTRAINT pk_case_term PRIMARY KEY (term, case_id)"))
    db.session.commit()
    if pg:
        # On the driver's own connection: VACUUM cannot run in a transaction, and the engine's
        # hook (portal/dbreads.py) opens one before any statement that is not a SELECT.
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute("VACUUM ANALYZE case_term")
        finally:
            raw.driver_connection.autocommit = False
            raw.close()
    return cases, terms

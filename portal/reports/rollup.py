"""Monthly counts of cases kept exact in the case transactions, so the dashboard reads a few
thousand rollup rows instead of grouping a million cases (4 s on PostgreSQL at 1M).

One row per (local month received, branch, product, cause category, responsible unit) with
sums the charts divide. Every flush that inserts or changes a case moves its contribution
from its old key/measures to its new ones, in the same transaction as the change: a case
counted twice or not at all would need a flush that did not happen. Statements that bypass
the ORM must not touch the columns read here (today: only version and ladder_level do).
After a bulk load (bench/generate.py COPY), `flask reports rollup` rebuilds it."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.cases.enums import SATISFACTION_DIMENSIONS
from portal.cases.models import Case
from portal.cases.states import State
from portal.clock import as_utc, local
from portal.extensions import db

KEY = ("month", "branch_id", "product_id", "category_id", "unit_id")
SCORES = [field for field, _label in SATISFACTION_DIMENSIONS]
MEASURES = (["n", "rejected", "closed", "closed_48h", "close_seconds", "repeat"]
            + [f"{s}_sum" for s in SCORES] + [f"{s}_n" for s in SCORES])
# The case columns a contribution is made of.
SOURCE = ["received_at", "branch_id", "product_id", "category_id", "responsible_unit_id", "state",
          "closed_at", "customer_phone_rev"] + SCORES
FORTY_EIGHT_HOURS = timedelta(hours=48)  # as queries.closed_within(48)
REPEAT_WINDOW = timedelta(days=90)  # as queries.repeat_clause


class ReportMonth(db.Model):
    """The ids are 0 where the case has none: NULLs in a primary key would never collide."""
    __tablename__ = "report_month"
    month = sa.Column(sa.Date, primary_key=True)  # first day of the Asia/Shanghai month
    branch_id = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    product_id = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    category_id = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    unit_id = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    locals().update({m: sa.Column(sa.BigInteger, nullable=False, default=0) for m in MEASURES if m != "repeat"})
    repeat = sa.Column(sa.BigInteger, nullable=False, default=0, server_default="0")  # added later


def contribution(v: dict) -> tuple[tuple, dict]:
    """The key and measures one case adds, from its column values `v` (SOURCE, and "repeat":
    an earlier case from the same phone within REPEAT_WINDOW)."""
    received = local(v["received_at"])
    key = (date(received.year, received.month, 1), v["branch_id"] or 0, v["product_id"] or 0,
           v["category_id"] or 0, v["responsible_unit_id"] or 0)
    m = dict.fromkeys(MEASURES, 0)
    m["n"] = 1
    state = v["state"]
    m["rejected"] = int(state == State.REJECTED)
    m["repeat"] = int(bool(v.get("repeat")))
    if state == State.CLOSED and v["closed_at"] is not None:
        took = as_utc(v["closed_at"]) - as_utc(v["received_at"])
        m["closed"], m["close_seconds"] = 1, int(took.total_seconds())
        m["closed_48h"] = int(took <= FORTY_EIGHT_HOURS)
    for s in SCORES:
        if v[s] is not None:
            m[f"{s}_sum"], m[f"{s}_n"] = v[s], 1
    return key, m


def _values(case: Case, old: bool) -> dict:
    """The case's SOURCE values now, or as they were before this flush."""
    state = sa.inspect(case)
    values = {}
    for name in SOURCE:
        hist = state.attrs[name].history
        values[name] = (hist.deleted[0] if old and hist.deleted else
                        hist.added[0] if not old and hist.added else getattr(case, name))
    return values


def _add(totals: dict, v: dict, sign: int) -> None:
    key, m = contribution(v)
    row = totals[key]
    for name, value in m.items():
        row[name] += sign * value


def _keep_old_value(_target, value, _old, _initiator):
    return value


# Load the value a column had before it is set, even on an expired case: after_flush needs it
# to take the case's old contribution away.
for _name in SOURCE:
    event.listen(getattr(Case, _name), "set", _keep_old_value, active_history=True, retval=True)


def _is_repeat(conn, case_id, v: dict) -> bool:
    """Is there an earlier case (received before, within REPEAT_WINDOW) from the same phone?"""
    if not v["customer_phone_rev"]:
        return False
    received = as_utc(v["received_at"])
    c = Case.__table__.c
    return conn.execute(sa.select(c.id).where(
        c.customer_phone_rev == v["customer_phone_rev"], c.id != case_id, c.received_at < received,
        c.received_at >= received - REPEAT_WINDOW).limit(1)).first() is not None


def _next_flips(conn, case_id, v: dict, skip: set) -> dict | None:
    """The case that `v` (being there, or being gone) decides is a repeat or not: the first
    later case of the phone within the window, if no other earlier case makes it one. A later
    one again has that first one before it. The cases of this flush are left to themselves."""
    if not v["customer_phone_rev"]:
        return None
    received = as_utc(v["received_at"])
    c = Case.__table__.c
    after = conn.execute(sa.select(c.id, *[c[name] for name in SOURCE]).where(
        c.customer_phone_rev == v["customer_phone_rev"], c.id != case_id, c.received_at > received,
        c.received_at <= received + REPEAT_WINDOW).order_by(c.received_at, c.id).limit(1)).first()
    if after is None or after.id in skip:
        return None
    nxt = {name: getattr(after, name) for name in SOURCE}
    other = conn.execute(sa.select(c.id).where(
        c.customer_phone_rev == v["customer_phone_rev"], c.id.notin_([case_id, after.id]),
        c.received_at < as_utc(nxt["received_at"]),
        c.received_at >= as_utc(nxt["received_at"]) - REPEAT_WINDOW).limit(1)).first()
    return None if other is not None else nxt


def _flip(totals: dict, conn, case_id, v: dict, sign: int, skip: set) -> None:
    """`sign` 1: `v` arrives (its next case becomes a repeat); -1: it leaves (it stops being one)."""
    nxt = _next_flips(conn, case_id, v, skip)
    if nxt is not None:
        key, _m = contribution(nxt)
        totals[key]["repeat"] += sign


def _moved(before: dict, after: dict) -> bool:
    return any(before[k] != after[k] for k in ("customer_phone_rev", "received_at"))


@event.listens_for(Session, "after_flush")
def _maintain(session, _ctx) -> None:
    totals: dict = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    conn = session.connection()
    new = {obj.id for obj in session.new if isinstance(obj, Case)}
    for obj in session.new:
        if isinstance(obj, Case):
            v = _values(obj, old=False)
            _add(totals, {**v, "repeat": _is_repeat(conn, obj.id, v)}, 1)
            # A letter back-dated by the desk can come before a case already counted.
            _flip(totals, conn, obj.id, v, 1, new)
    for obj in session.dirty:
        if isinstance(obj, Case) and session.is_modified(obj, include_collections=False):
            before, after = _values(obj, old=True), _values(obj, old=False)
            if before != after:
                # Being a repeat depends on the phone and the time only: unchanged, it cancels out.
                moved = _moved(before, after)
                _add(totals, {**before, "repeat": moved and _is_repeat(conn, obj.id, before)}, -1)
                _add(totals, {**after, "repeat": moved and _is_repeat(conn, obj.id, after)}, 1)
                if moved:
                    _flip(totals, conn, obj.id, before, -1, new)
                    _flip(totals, conn, obj.id, after, 1, new)
    for obj in session.deleted:
        if isinstance(obj, Case):
            v = _values(obj, old=True)
            _add(totals, {**v, "repeat": _is_repeat(conn, obj.id, v)}, -1)
            _flip(totals, conn, obj.id, v, -1, new)
    changes = [(k, m) for k, m in sorted(totals.items()) if any(m.values())]
    if changes:
        _upsert(conn, changes)


def _upsert(conn, changes) -> None:
    """Add the deltas to their rows (created at zero when missing), keys in order so two
    transactions lock shared rows in the same order."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = ReportMonth.__table__
    for key, m in changes:
        stmt = insert(table).values(**dict(zip(KEY, key)), **m)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=list(KEY), set_={name: table.c[name] + stmt.excluded[name] for name in MEASURES}))


def rebuild(batch: int = 20_000) -> int:
    """Recompute every row from the cases (after a bulk load); returns the number of cases."""
    totals: dict = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    cases, phone, times = 0, None, []
    # In phone and time order: a case is a repeat if the latest earlier time of its phone
    # (strictly earlier, as _is_repeat) is within the window.
    result = db.session.execute(sa.select(*[getattr(Case, c) for c in SOURCE])
                                .order_by(Case.customer_phone_rev, Case.received_at, Case.id)
                                .execution_options(yield_per=batch))
    for row in result:
        v = row._asdict()
        received = as_utc(v["received_at"])
        if v["customer_phone_rev"] != phone:
            phone, times = v["customer_phone_rev"], []
        earlier = next((t for t in reversed(times) if t < received), None)
        v["repeat"] = bool(phone) and earlier is not None and earlier >= received - REPEAT_WINDOW
        times = [t for t in times[-8:] if t >= received - REPEAT_WINDOW] + [received]
        _add(totals, v, 1)
        cases += 1
    db.session.execute(ReportMonth.__table__.delete())
    rows = [{**dict(zip(KEY, k)), **m} for k, m in sorted(totals.items())]
    for i in range(0, len(rows), 1000):
        db.session.execute(ReportMonth.__table__.insert(), rows[i:i + 1000])
    db.session.commit()
    return cases

"""Pages read without BEGIN / ROLLBACK on PostgreSQL, and a GET that writes still writes in
one transaction (portal/dbreads.py)."""
import psycopg
import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.org.models import OrgUnit

IDLE, INTRANS = psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS


@pytest.fixture
def pg(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL transactions")
    return app


def _request(app, method: str):
    """A request of `method` in its own app context (own session), its hooks run."""
    ctx = app.app_context()
    ctx.push()
    req = app.test_request_context("/auth/login", method=method)
    req.push()
    try:
        app.preprocess_request()
    except BaseException:
        _end(ctx, req)
        raise
    return ctx, req


def _end(ctx, req):
    req.pop()
    ctx.pop()  # the session is removed, its connection goes back to the pool


def _dbapi():
    return db.session.connection().connection.dbapi_connection


def _names() -> dict:
    with db.engine.connect() as conn:
        return dict(conn.execute(sa.select(OrgUnit.id, OrgUnit.name)).all())


def test_a_get_reads_outside_a_transaction_block_and_the_connection_goes_back_as_it_was(pg):
    ctx, req = _request(pg, "GET")
    try:
        assert db.session.execute(sa.select(sa.func.count()).select_from(OrgUnit)).scalar_one() > 0
        conn = _dbapi()
        assert conn.info.transaction_status == IDLE  # no BEGIN went out
    finally:
        _end(ctx, req)
    assert conn.autocommit is False  # a POST that gets this connection next has its transaction


def test_a_post_reads_in_its_transaction(pg, monkeypatch):
    monkeypatch.setitem(pg.config, "WTF_CSRF_CHECK_DEFAULT", False)  # no form here, only the hooks
    ctx, req = _request(pg, "POST")
    try:
        db.session.execute(sa.select(OrgUnit.id).limit(1)).all()
        assert _dbapi().info.transaction_status == INTRANS
    finally:
        _end(ctx, req)


def test_a_get_that_writes_writes_in_one_transaction(pg):
    before = _names()
    first, second = sorted(before)[:2]
    ctx, req = _request(pg, "GET")
    try:
        db.session.execute(sa.select(OrgUnit.id).limit(1)).all()
        db.session.execute(sa.update(OrgUnit).where(OrgUnit.id == first).values(name="改名一"))
        assert _dbapi().info.transaction_status == INTRANS
        db.session.execute(sa.update(OrgUnit).where(OrgUnit.id == second).values(name="改名二"))
        assert _names() == before  # nothing visible before the commit
        db.session.rollback()
        assert _names() == before  # and both undone by the rollback

        db.session.execute(sa.update(OrgUnit).where(OrgUnit.id == first).values(name="改名一"))
        db.session.execute(sa.update(OrgUnit).where(OrgUnit.id == second).values(name="改名二"))
        db.session.commit()
        after = _names()
        assert (after[first], after[second]) == ("改名一", "改名二")
    finally:
        _end(ctx, req)


def test_a_get_locking_a_row_holds_the_lock_in_a_transaction(pg):
    """SELECT … FOR UPDATE is a write's first step: it must not run (and let go) on its own."""
    ctx, req = _request(pg, "GET")
    try:
        db.session.execute(sa.select(OrgUnit.id).limit(1).with_for_update()).all()
        assert _dbapi().info.transaction_status == INTRANS
    finally:
        db.session.rollback()
        _end(ctx, req)


def test_a_connection_in_autocommit_on_purpose_keeps_it_during_a_get(pg):
    """The outbox's recorder writes each outcome on a connection of its own in autocommit,
    committed as it runs; a GET in progress must not take that away."""
    before = _names()
    first = min(before)
    ctx, req = _request(pg, "GET")
    try:
        db.session.execute(sa.select(OrgUnit.id).limit(1)).all()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as own:
            own.execute(sa.update(OrgUnit).where(OrgUnit.id == first).values(name="改名一"))
            assert _names()[first] == "改名一"  # committed as it ran
    finally:
        _end(ctx, req)

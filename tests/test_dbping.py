"""A pooled PostgreSQL connection that died while idle (database restart, a firewall) is
replaced before a request uses it, without a ping on every request."""
import pytest
import sqlalchemy as sa

from portal import dbping
from portal.extensions import db


@pytest.fixture
def pg(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL pool behaviour")
    return app


def _backend_pid() -> int:
    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()


def _kill(pid: int) -> None:
    admin = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    admin.dispose()


def test_a_connection_killed_while_idle_is_replaced_before_use(pg, client, monkeypatch):
    db.engine.dispose()
    first = _backend_pid()  # the pool now holds this one connection, idle
    _kill(first)
    monkeypatch.setattr(dbping, "IDLE_SECONDS", 0.0)  # "idle a while" is now
    assert client.get("/auth/login").status_code == 200
    assert _backend_pid() != first


def test_a_connection_in_use_a_moment_ago_is_not_pinged(pg):
    """No round trip before a busy connection's next statement: one killed between two uses
    a moment apart fails that statement (and the pool is discarded for the next ones)."""
    db.engine.dispose()
    pid = _backend_pid()
    _kill(pid)
    with pytest.raises(sa.exc.DBAPIError) as failed:
        _backend_pid()
    assert failed.value.connection_invalidated
    assert _backend_pid() != pid

"""Shared fixtures: a migrated, seeded database (PostgreSQL when reachable, else SQLite),
a real Redis, the app, a client and a login helper. Factories are `make_*` functions."""
from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

os.environ.setdefault("TZ", "Asia/Shanghai")
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- database

def _pg_reachable(host="127.0.0.1", port=5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A fresh database for this run, dropped at the end."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit and explicit.startswith("sqlite"):
        yield explicit
        return
    if explicit or (os.environ.get("TEST_DB", "auto") != "sqlite" and _pg_reachable()):
        base = explicit or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        name = f"portal_test_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = base.rsplit("/", 1)[0] + "/" + name
        yield url
        sa.create_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"),
                {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "portal_test.db"
        yield f"sqlite:///{path}"


# ---------------------------------------------------------------- redis

def _redis_ok(url: str) -> bool:
    from redis import Redis
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis: $REDIS_URL, else the local one, else one we start (and stop)."""
    url = os.environ.get("REDIS_URL")
    if url and _redis_ok(url):
        yield url
        return
    if _redis_ok("redis://127.0.0.1:6379/0"):
        yield "redis://127.0.0.1:6379/14"  # a database of its own, flushed by the tests
        return
    from portal.runner import start_redis
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    proc.terminate()
    proc.wait(10)


# ---------------------------------------------------------------- app

@pytest.fixture(scope="session")
def _app(database_url, redis_url, tmp_path_factory):
    from portal import create_app
    from portal.config import TestConfig
    from portal.extensions import db
    from flask_migrate import upgrade

    uploads = tmp_path_factory.mktemp("uploads")
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url,
                     UPLOAD_DIR=uploads, PDF_CACHE_DIR=tmp_path_factory.mktemp("pdf"))
    with app.app_context():
        upgrade(directory=str(ROOT / "portal" / "migrations"))
    return app


def _wipe(db) -> None:
    """Empty every table (DELETE beats TRUNCATE on tables this small)."""
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


from flask.testing import FlaskClient


class IsolatedClient(FlaskClient):
    """Each request in its own app context (own `g`, own DB session), as in production;
    the test's session then forgets what it had loaded, so it reads what the request wrote."""

    def open(self, *args, **kwargs):
        from portal.extensions import db
        with self.application.app_context():
            resp = super().open(*args, **kwargs)
        db.session.expire_all()
        return resp


@pytest.fixture
def app(_app):
    """The app with a freshly wiped and seeded database and an app context pushed."""
    from portal import clock
    from portal.extensions import db
    from portal.seed import seed_demo
    from portal.org.tree import unit_tree  # noqa: F401
    from portal.cases.panels import _choices_cache
    _choices_cache.clear()  # cached filter options would name the last test's units
    with _app.app_context():
        _wipe(db)
        seed_demo()
        db.session.remove()
    _app.test_client_class = IsolatedClient
    ctx = _app.app_context()
    ctx.push()
    yield _app
    db.session.remove()
    ctx.pop()
    clock.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(client, url: str = "/auth/login") -> str:
    html = client.get(url).get_data(as_text=True)
    m = CSRF_RE.search(html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert m, f"no CSRF token on {url}"
    return m.group(1)


@pytest.fixture
def csrf():
    return csrf_from


def do_login(client, username: str, password: str = "demo1234"):
    token = csrf_from(client, "/auth/login")
    return client.post("/auth/login", data={"username": username, "password": password,
                                            "csrf_token": token})


@pytest.fixture
def login():
    def _login(client, username: str, password: str = "demo1234"):
        resp = do_login(client, username, password)
        assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:500]
        return client
    return _login


@pytest.fixture
def as_user(app, login):
    """A logged-in client for a demo username: `as_user("rep_cd")`."""
    def _as(username: str):
        return login(app.test_client(), username)
    return _as


# ---------------------------------------------------------------- factories

def user(username: str):
    from portal.extensions import db
    from portal.org.models import User
    return db.session.execute(sa.select(User).where(User.username == username)).unique().scalar_one()


def make_case(username: str = "rep_cd", files=(), **overrides):
    """Register a case through the intake operation, as the given user."""
    from portal.cases.operations import register_case
    data = {"customer_name": "王秀英", "customer_phone": "13912345678", "customer_address": "成都市武侯区",
            "region": "四川", "customer_type": None, "product_id": None, "product_name": "三鲜水饺",
            "product_spec": "500g/袋", "batch_no": "2026090110100",
            "production_date": None, "quantity": 2, "purchase_place": "红旗超市", "purchase_date": None,
            "description": "水饺中吃出一根头发", "demand": "退货并赔偿", "urgent": False,
            "threatens_media": False}
    channel = overrides.pop("channel", None)
    branch_id = overrides.pop("branch_id", None)
    data.update(overrides)
    from portal.enums import CustomerType
    data["customer_type"] = data["customer_type"] or CustomerType.CONSUMER
    return register_case(user(username), data, list(files), channel=channel, branch_id=branch_id)


def jpeg_bytes(size=(1200, 900), color=(200, 60, 60), exif=None) -> bytes:
    import io
    from PIL import Image
    buf = io.BytesIO()
    img = Image.new("RGB", size, color)
    if exif is not None:
        img.save(buf, "JPEG", quality=90, exif=exif)
    else:
        img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_bytes(size=(300, 200)) -> bytes:
    import io
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(buf, "PNG")
    return buf.getvalue()

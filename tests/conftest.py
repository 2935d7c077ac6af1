"""Shared fixtures: a migrated, seeded database (PostgreSQL when reachable, else SQLite),
a real Redis, the app, a client and a login helper. Factories are `make_*` functions."""
from __future__ import annotations

import os
import re
import socket
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
        # A database of its own, flushed by the tests; `make test` runs the PostgreSQL and
        # the SQLite suites at once, so each backend has its own.
        number = 13 if os.environ.get("TEST_DB") == "sqlite" else 14
        yield f"redis://127.0.0.1:6379/{number}"
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
    from flask_migrate import upgrade

    uploads = tmp_path_factory.mktemp("uploads")
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url,
                     UPLOAD_DIR=uploads, PDF_CACHE_DIR=tmp_path_factory.mktemp("pdf"))
    with app.app_context():
        upgrade(directory=str(ROOT / "portal" / "migrations"))
    return app


def _wipe(db) -> None:
    """Empty every table (DELETE beats TRUNCATE on tables this small); on PostgreSQL all the
    DELETEs go in one round trip (a statement without parameters may hold several)."""
    tables = list(reversed(db.metadata.sorted_tables))
    dialect = db.session.get_bind().dialect
    if dialect.name == "postgresql":
        quote = dialect.identifier_preparer.format_table
        db.session.execute(sa.text("; ".join(f"DELETE FROM {quote(table)}" for table in tables)))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


# The rows seed_demo() wrote into the wiped database, table by table (parents first), taken
# once per run: each test's database gets them back with one INSERT per table instead of
# seed_demo's ORM work (about 30 ms a test on PostgreSQL). Same rows, ids and password hashes
# as seeded (created_at is the first seeding's time). SQLite then takes the next rowid; on
# PostgreSQL each table's sequence is moved past the restored ids if it is not already (a
# migration test drops and recreates tables, and with them their sequences).
_seeded_rows: list | None = None
_seeded_sequences: str | None = None


def _seed(db) -> None:
    """The demo data of seed_demo() in the (wiped) database."""
    global _seeded_rows, _seeded_sequences
    from portal.seed import seed_demo
    if _seeded_rows is None:
        seed_demo()
        _seeded_rows, moves = [], []
        pg = db.session.get_bind().dialect.name == "postgresql"
        for table in db.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in db.session.execute(
                sa.select(table).order_by(*table.primary_key.columns))]
            if not rows:
                continue
            _seeded_rows.append((table, rows))
            key = table.autoincrement_column
            if pg and key is not None:
                sequence = db.session.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                              {"t": f'"{table.name}"', "c": key.name}).scalar()
                if sequence:
                    top = max(row[key.name] for row in rows)
                    moves.append(f"setval('{sequence}', GREATEST({top}, (SELECT last_value FROM {sequence})))")
        _seeded_sequences = f"SELECT {', '.join(moves)}" if moves else None
        db.session.commit()
        return
    for table, rows in _seeded_rows:
        db.session.execute(table.insert(), rows)
    if _seeded_sequences:
        db.session.execute(sa.text(_seeded_sequences))
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
    from portal.org.tree import unit_tree  # noqa: F401
    from portal import refcache
    refcache.clear()  # cached options would name the last test's units and categories
    # Case numbers restart at KS<year>-000001 in every test: last test's sign-off sheets
    # would be this test's cached PDFs.
    import shutil
    shutil.rmtree(_app.config["PDF_CACHE_DIR"], ignore_errors=True)
    with _app.app_context():
        _wipe(db)
        _seed(db)
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
    received_at = overrides.pop("received_at", None)  # desk only: when a letter arrived
    data.update(overrides)
    from portal.cases.enums import CustomerType
    data["customer_type"] = data["customer_type"] or CustomerType.CONSUMER
    return register_case(user(username), data, list(files), channel=channel, branch_id=branch_id,
                         received_at=received_at)


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


def make_stored_file(name: str = "现场照片.jpg", content: bytes | None = None):
    """An upload checked and stored as intake stores it, ready for `make_case(files=[…])`."""
    import io
    from werkzeug.datastructures import FileStorage
    from portal.cases.evidence import store_upload
    return store_upload(FileStorage(io.BytesIO(content or jpeg_bytes()), filename=name))


def png_bytes(size=(300, 200)) -> bytes:
    import io
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- workflow: a case at any stage

PASSWORD = "demo1234"  # every demo user's


def category(code: str):
    from portal.cases.models import Category
    from portal.extensions import db
    return db.session.execute(sa.select(Category).where(Category.code == code)).scalar_one()


def unit(code: str):
    from portal.extensions import db
    from portal.org.models import OrgUnit
    return db.session.execute(sa.select(OrgUnit).where(OrgUnit.code == code)).scalar_one()


def to_investigating(case, klass=None, cat="quality.taste"):
    """Verify (a general complaint unless `klass`), dispatch to 生产一部 and acknowledge."""
    from portal.cases import operations as ops
    from portal.cases.enums import Kind, Klass, Validity
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=klass or Klass.GENERAL, category_id=category(cat).id)
    ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD1").id)
    ops.acknowledge_case(case, user("handler_prod1"), case.version)
    return case


def propose(case, cash=None, multiple=None):
    """生产一部's handler proposes two bags of product (plus `cash` or a `multiple`)."""
    from portal.cases import operations as ops
    from portal.cases.enums import Responsibility, SettlementForm
    return ops.propose_solution(
        case, user("handler_prod1"), case.version, findings="当日生产记录正常", root_cause="包装工序人员未戴发帽",
        responsibility=Responsibility.DEPARTMENT, responsibility_note="生产一部",
        solution_form=SettlementForm.PRODUCT, solution_text="赔偿同款产品两袋",
        product_qty=2, multiple=multiple, cash=cash)


def _main_line():
    """The main line of a major foreign-object complaint, one operation per stage."""
    from portal.cases import operations as ops
    from portal.cases.enums import Kind, Klass, Responsibility, SettlementForm, Validity
    return [
        ("verified", lambda c: ops.verify_case(
            c, user("desk"), c.version, validity=Validity.VALID, kind=Kind.COMPLAINT, klass=Klass.MAJOR,
            category_id=category("quality.foreign_object").id)),
        ("dispatched", lambda c: ops.dispatch_case(c, user("desk"), c.version, unit_id=unit("PROD1").id)),
        ("acknowledged", lambda c: ops.acknowledge_case(c, user("handler_prod1"), c.version)),
        ("proposed", lambda c: ops.propose_solution(
            c, user("handler_prod1"), c.version, findings="当日包装工序记录缺失", root_cause="包装工人未戴发帽",
            responsibility=Responsibility.DEPARTMENT, responsibility_note="生产一部包装车间",
            solution_form=SettlementForm.PRODUCT, solution_text="赔偿同款产品十袋", product_qty=10)),
        ("approved", lambda c: ops.approve_proposal(c, user("leader_prod1"), c.version, password=PASSWORD,
                                                    comment="同意")),
        ("implemented", lambda c: ops.record_implementation(c, user("handler_prod1"), c.version,
                                                            text="已上门送达十袋产品")),
        ("called_back", lambda c: ops.record_callback(c, user("rep_cd"), c.version, reached=True,
                                                      satisfied=True, scores={"score_quality": 4},
                                                      comment=None)),
        ("closed", lambda c: ops.sign_off_case(c, user("leader_prod1"), c.version, password=PASSWORD)),
    ]


def make_case_at(stage: str, files=()):
    """A case of rep_cd (成都) driven through the operations up to `stage` (a major complaint,
    dispatched to 生产一部): new, info_requested, verified, dispatched, acknowledged, proposed,
    approved, implemented, called_back or closed."""
    from portal.cases import operations as ops
    case = make_case(files=files)
    if stage == "new":
        return case
    if stage == "info_requested":
        return ops.request_info(case, user("desk"), case.version, question="请补拍包装上的批号")
    for name, move in _main_line():
        move(case)
        if name == stage:
            return case
    raise ValueError(f"unknown stage {stage}")


# The stage of the case each transition acts on (stages as in `make_case_at`).
ACTS_ON = {"verify": "new", "request_info": "new", "settle": "new", "supply_info": "info_requested",
           "trace_batch": "verified", "dispatch": "verified", "acknowledge": "dispatched",
           "propose": "acknowledged", "approve": "proposed", "reject": "proposed",
           "implement": "approved", "callback": "implemented", "sign_off": "called_back",
           "reopen": "closed", "redispatch": "dispatched"}

# A minimal valid form for each step (field names without the `<panel>-` prefix).
FORMS = {
    "verify": lambda: {"validity": "valid", "kind": "complaint", "klass": "major",
                       "category_id": str(category("quality.foreign_object").id)},
    "request_info": lambda: {"question": "请补拍包装上的批号"},
    "settle": lambda: {"klass": "general", "category_id": str(category("quality.taste").id),
                       "solution_form": "product", "text": "当场赔偿同款水饺两袋，顾客接受", "multiple": "2"},
    "supply_info": lambda: {"reply": "批号为 2026090110100，照片已补"},
    "trace_batch": lambda: {},
    "dispatch": lambda: {"unit_id": str(unit("PROD1").id)},
    "acknowledge": lambda: {"note": "已电话联系顾客"},
    "propose": lambda: {"findings": "当日包装工序记录缺失", "root_cause": "包装工人未戴发帽",
                        "responsibility": "department", "solution_form": "product",
                        "solution_text": "赔偿同款产品十袋", "product_qty": "10"},
    "approve": lambda: {"password": PASSWORD, "comment": "同意"},
    "reject": lambda: {"password": PASSWORD, "comment": "补偿过高，请与顾客再协商"},
    "implement": lambda: {"text": "已上门送达十袋产品"},
    "callback": lambda: {"reached": "yes", "satisfied": "yes", "score_quality": "5"},
    "sign_off": lambda: {"password": PASSWORD, "comment": "同意结案"},
    "reopen": lambda: {"reason": "顾客再次投诉同一问题"},
    "redispatch": lambda: {"unit_id": str(unit("PROD2").id), "reason": "汤圆是生产二部的产品"},
}
# The decision panel shows approve and reject together; reject posts the approve form.
PREFIX = {"reject": "approve"}


def signed_in(app, username: str, password: str = PASSWORD):
    """A logged-in client and the CSRF token of its session (one page load fewer per test)."""
    client = app.test_client()
    token = csrf_from(client, "/auth/login")
    resp = client.post("/auth/login", data={"username": username, "password": password,
                                            "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    # The login renews the CSRF token: take the session's new one from a page.
    return client, csrf_from(client, "/work")


def post_step(client, token: str, case_or_number, action: str, *, version=None, **fields):
    """POST one step's form as the browser does (plain form post, not htmx)."""
    number = getattr(case_or_number, "number", case_or_number)
    prefix = PREFIX.get(action, action)
    if version is None:
        version = case_or_number.version
    data = {"csrf_token": token, f"{prefix}-version": str(version)}
    data.update({f"{prefix}-{k}": v for k, v in fields.items()})
    return client.post(f"/cases/{number}/act/{action}", data=data)


def footprint(case) -> tuple:
    """What a refused step must leave untouched: position, version, audit events, signatures."""
    from portal.cases.models import Case
    from portal.extensions import db
    from portal.signing.models import AuditEvent, Signature
    db.session.expire_all()
    fresh = db.session.get(Case, case.id)
    count = lambda model: db.session.execute(  # noqa: E731
        sa.select(sa.func.count()).select_from(model).where(model.case_id == case.id)).scalar_one()
    return fresh.state, fresh.step, fresh.version, count(AuditEvent), count(Signature)


def last_event(case):
    from portal.extensions import db
    from portal.signing.models import AuditEvent
    return db.session.execute(sa.select(AuditEvent).where(AuditEvent.case_id == case.id)
                              .order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()


# ---------------------------------------------------------------- intake through the web

INTAKE_FORM = {"customer_name": "王秀英", "customer_phone": "139 1234 5678", "customer_type": "consumer",
               "region": "四川", "customer_address": "成都市武侯区", "product_name": "三鲜水饺",
               "product_spec": "500g/袋", "batch_no": "2026090110100", "quantity": "2",
               "purchase_place": "红旗超市", "description": "水饺里有一根头发", "demand": "退货赔偿"}


def count(model) -> int:
    """Rows in a model's table."""
    from portal.extensions import db
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def post_intake(client, files=(), **overrides):
    """Submit the intake form as a phone does: `files` are (name, bytes) photos."""
    import io
    data = {**INTAKE_FORM, **overrides, "csrf_token": csrf_from(client, "/cases/new")}
    data["photos"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/cases/new", data=data, content_type="multipart/form-data")


def jpeg_of_size(size: int) -> bytes:
    """A real photo padded to exactly `size` bytes (bytes after the JPEG's end are ignored)."""
    data = jpeg_bytes((320, 240))
    return data + b"\0" * (size - len(data))


# ---------------------------------------------------------------- English pages

# Chinese text (ideographs, 、。「」 …), not the full-width symbols used as icons (＋).
HAN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Attributes a reader sees or hears: hints, tooltips, screen-reader names, confirm dialogs.
_READ_ATTRS = re.compile(r'\b(?:placeholder|title|aria-label|alt|hx-confirm|data-confirm)="([^"]*)"')


def stored_texts() -> list[str]:
    """Every Chinese text stored in the database (names, case facts, notes, …), longest first:
    data, shown as entered on English pages too."""
    from portal.extensions import db
    texts = set()
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (sa.String, sa.Text, sa.JSON))]
        if not columns:
            continue
        for row in db.session.execute(sa.select(*columns)):
            # A JSON list of names (a batch's shipped_regions) is data as much as a name column.
            values = [x for v in row for x in (v if isinstance(v, list) else [v])]
            texts.update(v for v in values if isinstance(v, str) and HAN.search(v))
    return sorted(texts, key=len, reverse=True)


def leftover_chinese(html: str, data: list[str]) -> list[str]:
    """The Chinese a reader of `html` would see once the stored data is taken out: each text
    node and readable attribute that still holds a Han character."""
    import html as html_lib
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    pieces = _READ_ATTRS.findall(html) + re.split(r"<[^>]+>", html)
    left = []
    for piece in pieces:
        text = html_lib.unescape(piece)
        for value in data:
            text = text.replace(value, " ")
        text = " ".join(text.split())
        if HAN.search(text):
            left.append(text)
    return left


# ---------------------------------------------------------------- sinks: mail, HTTP (SMS gateways, robots)

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every mail it accepts.
    `hold_next()` leaves the next DATA unanswered until `release()` (a mail server being
    written to while the worker is killed)."""

    def __init__(self, port: int):
        import threading
        self.port = port
        self.messages = []
        self.controller = None
        self.holding = threading.Event()
        self._hold_next = False
        self._released = threading.Event()

    def start(self):
        from aiosmtpd.controller import Controller
        # Controller(port=0) cannot report the port it got, hence a free port picked first.
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self._released.set()
        if self.controller:
            self.controller.stop()
            self.controller = None

    def hold_next(self):
        self._hold_next = True

    def release(self):
        self._released.set()

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        from email import message_from_bytes, policy
        if self._hold_next:
            self._hold_next = False
            self.holding.set()
            while not self._released.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Not accepted"
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 2.0.0 Ok: queued"

    def mails_for(self, message_id: int) -> list:
        return [m for m in self.messages if m["Message-ID"].startswith(f"<outbox-{message_id}.")]


@pytest.fixture
def smtp_sink(app, monkeypatch):
    """An SMTP sink the app's MAIL_SERVER points at."""
    sink = SmtpSink(free_port())
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", sink.port)
    sink.start()
    yield sink
    sink.stop()


class HttpSink:
    """A local HTTP server standing in for an SMS gateway or a chat robot's webhook: records
    each POST (path with query, headers, body) and answers with what the test queued, else
    `default` (status, JSON text)."""

    def __init__(self, default=(200, '{"errcode": 0, "errmsg": "ok"}')):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.requests = []
        self.answers = []
        self.default = default
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.requests.append((self.path, self.headers, body))
                status, answer = sink.answers.pop(0) if sink.answers else sink.default
                data = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        # close() waits until serve_forever next looks at its flag: once per poll_interval (0.5 s by default).
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, body, status=200):
        import json
        self.answers.append((status, body if isinstance(body, str) else json.dumps(body)))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_sink():
    sink = HttpSink()
    yield sink
    sink.close()


# ---------------------------------------------------------------- time limits and the ladder (H5)

def short_policy(target, minutes: float, **fields):
    """Make the default policy of a step or case clock `minutes` long (fractions for seconds),
    with any other policy fields (reminder_percents, breach_action, repeat_minutes, active)."""
    from portal.extensions import db
    from portal.sla.models import SlaPolicy
    from portal.steps import Step
    column = SlaPolicy.step if isinstance(target, Step) else SlaPolicy.clock
    row = db.session.execute(sa.select(SlaPolicy).where(column == target, SlaPolicy.klass.is_(None),
                                                        SlaPolicy.channel.is_(None))).scalars().first()
    if row is None:
        row = SlaPolicy(step=target if isinstance(target, Step) else None,
                        clock=None if isinstance(target, Step) else target, minutes=minutes)
        db.session.add(row)
    row.minutes = minutes
    for key, value in fields.items():
        setattr(row, key, value)
    db.session.commit()
    return row


def ladder_delays(*minutes: float):
    """Set the ladder's levels 2, 3, … to fire `minutes` after the level below."""
    from portal.escalation.models import LadderLevel
    from portal.extensions import db
    rows = db.session.execute(sa.select(LadderLevel).order_by(LadderLevel.level)).scalars().all()
    for row, value in zip(rows[1:], minutes):
        row.after_minutes = value
    db.session.commit()


# ---------------------------------------------------------------- organisation (H2)

def make_unit(code: str, name: str, kind: str, parent: str):
    """A unit under `parent` (a code), e.g. a workshop under 生产一部 or an office under a branch."""
    from flask import g
    from portal.extensions import db
    from portal.org.enums import UnitKind
    from portal.org.models import OrgUnit
    row = OrgUnit(code=code, name=name, kind=UnitKind(kind), parent=unit(parent))
    db.session.add(row)
    db.session.commit()
    g.pop("unit_tree", None)  # the tree is cached per app context
    return row


def make_user(username: str, unit_code: str, roles, name: str | None = None, active: bool = True):
    """A user of a unit (by code) with roles (values or Role members), password PASSWORD."""
    from portal.extensions import db
    from portal.org.models import User
    person = User(username=username, name=name or username, unit=unit(unit_code), phone="13900000000",
                  email=f"{username}@example.com", active=active)
    person.set_password(PASSWORD)
    person.roles = roles
    db.session.add(person)
    db.session.commit()
    return person


# ---------------------------------------------------------------- corrective-action sheets (issue 12)

SHEET_WHYS = ["水饺中混入头发", "包装工未戴发帽", "更衣室发帽用完未补", "领用记录无人核对", "班前检查表无此项"]


def make_sheet_at(stage: str, *, photos=(), owner=None, case_stage: str = "dispatched"):
    """A sheet issued by quality to 生产一部 for one case of rep_cd at `case_stage`, driven
    through the operations up to `stage`: issued, responded (with the 5-Why chain
    SHEET_WHYS and `photos`, stored files), approved or closed (verified effective 8 days on)."""
    from datetime import timedelta
    from portal import clock
    from portal.capa import operations as capa
    from portal.clock import local, utcnow
    case = make_case_at(case_stage)
    sheet = capa.issue_sheet(user("quality"), PASSWORD, receiving_unit_id=unit("PROD1").id,
                             nonconformity="顾客在三鲜水饺中吃出头发，同批号另有两起投诉。",
                             case_numbers=[case.number])
    if stage == "issued":
        return sheet
    capa.respond(sheet, user("handler_prod1"), sheet.version,
                 investigation="查当日包装车间早班记录，发帽领用缺两人。", whys=SHEET_WHYS,
                 correction="同批次库存复检，更换发帽供应。", prevention="班前检查表加发帽一项，组长签字。",
                 owner_id=(owner or user("handler_prod1")).id,
                 due_date=local(utcnow()).date() + timedelta(days=7), files=list(photos))
    if stage == "responded":
        return sheet
    capa.approve(sheet, user("leader_prod1"), sheet.version, password=PASSWORD, comment="同意整改方案")
    if stage == "approved":
        return sheet
    clock.travel(timedelta(days=8))  # the effect is seen after the owner's date
    capa.verify(sheet, user("quality"), sheet.version, password=PASSWORD, effective=True,
                evidence="连续两周抽检无异物投诉。", verified_on=local(utcnow()).date())
    if stage == "closed":
        return sheet
    raise ValueError(f"unknown stage {stage}")


# ---------------------------------------------------------------- a real RQ worker process

def start_burst_worker(app, tmp_path, *queues: str):
    """`rq worker --burst` (it stops once its queues are empty) in a process of its own,
    configured by the environment as production is, on this test's database, Redis and
    upload folder; the caller waits for it (`communicate()`)."""
    import os
    import subprocess
    import sys
    from portal.extensions import db
    url = db.engine.url
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False),
           "REDIS_URL": app.config["REDIS_URL"], "UPLOAD_DIR": str(app.config["UPLOAD_DIR"]),
           "PDF_CACHE_DIR": str(app.config["PDF_CACHE_DIR"]), "SECRET_KEY": "worker-test-secret",
           "PORTAL_INSTANCE": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT), "TZ": "Asia/Shanghai"}
    return subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--burst", "--url",
                             app.config["REDIS_URL"], *(queues or ("default",))],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)

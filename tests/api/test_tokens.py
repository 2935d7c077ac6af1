"""Tokens: only a hash is stored; unknown or revoked -> 401, out of scope -> 403, another
branch's case -> 404, read-only cannot write, the rate limit answers 429 with Retry-After;
every call is logged."""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from tests.api.conftest import CASE, Api, issue
from tests.conftest import count, make_case, unit, user


def _db():
    from portal.extensions import db
    return db


def test_only_the_hash_is_stored(app):
    from portal.api.models import ApiToken
    row, plain = issue()
    assert plain.startswith(f"kp_{row.prefix}_") and len(plain.split("_")[2]) >= 32
    stored = _db().session.get(ApiToken, row.id)
    secret = plain.split("_")[2]
    assert stored.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    for column in ApiToken.__table__.columns:
        value = getattr(stored, column.key)
        assert not (isinstance(value, str) and secret in value)


def test_missing_wrong_and_revoked_tokens_get_401(app):
    from portal.api import tokens
    from portal.cases.models import Case
    client = app.test_client()
    resp = client.post("/api/v1/cases", json=CASE)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    row, plain = issue()
    wrong = plain[:-1] + ("A" if plain[-1] != "A" else "B")
    assert Api(client, wrong).post("/cases", json=CASE).status_code == 401
    assert Api(client, plain).post("/cases", json=CASE).status_code == 201
    tokens.revoke_token(user("admin"), row)
    resp = Api(client, plain).post("/cases", json=CASE)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "token_revoked"
    assert resp.get_json()["error"]["message_en"]
    assert Api(client, plain).get("/products").status_code == 401
    assert count(Case) == 1


def test_out_of_scope_creates_get_403(app):
    from portal.cases.models import Case
    _row, plain = issue(channels=("wechat",), branches=("BR-CD",), hq=False)
    api = Api(app.test_client(), plain)
    resp = api.post("/cases", json={**CASE, "channel": "hotline", "branch_id": unit("BR-CD").id})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "channel_not_allowed"
    resp = api.post("/cases", json={**CASE, "channel": "wechat", "branch_id": unit("BR-ZZ").id})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "branch_not_allowed"
    resp = api.post("/cases", json={**CASE, "channel": "wechat"})  # headquarters: not this token's
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "branch_not_allowed"
    assert count(Case) == 0
    resp = api.post("/cases", json={**CASE, "channel": "wechat", "branch_id": unit("BR-CD").id})
    assert resp.status_code == 201
    case = _db().session.execute(sa.select(Case)).unique().scalar_one()
    assert case.branch_id == unit("BR-CD").id and case.channel.value == "wechat"


def test_a_branch_token_cannot_read_another_branchs_case(app):
    _row, cd = issue(name="成都小程序", channels=("wechat",), branches=("BR-CD",), hq=False)
    _row, zz = issue(name="郑州小程序", channels=("wechat",), branches=("BR-ZZ",), hq=False)
    client = app.test_client()
    made = Api(client, cd).post("/cases", json={**CASE, "channel": "wechat", "branch_id": unit("BR-CD").id})
    number = made.get_json()["number"]
    assert Api(client, cd).get(f"/cases/{number}").status_code == 200
    resp = Api(client, zz).get(f"/cases/{number}")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    # Exactly the answer for a number that does not exist: nothing revealed.
    missing = Api(client, zz).get("/cases/KS2026-999999")
    assert missing.get_json() == resp.get_json()
    # Nor can it add files to it.
    resp = Api(client, zz).client.post(f"/api/v1/cases/{number}/attachments", data=b"%PDF-1.4\n%%EOF",
                                       headers={"Authorization": f"Bearer {zz}", "Content-Type": "application/pdf"})
    assert resp.status_code == 404


def test_a_case_of_the_desk_is_out_of_a_wechat_tokens_reach(app):
    case = make_case("rep_cd")  # 业务员现场, 成都分公司
    _row, plain = issue(channels=("wechat",), branches=("BR-CD",), hq=False)
    assert Api(app.test_client(), plain).get(f"/cases/{case.number}").status_code == 404


def test_read_only_token_reads_but_cannot_write(app):
    from portal.cases.models import Case
    _row, writer = issue()
    client = app.test_client()
    number = Api(client, writer).post("/cases", json=CASE).get_json()["number"]
    _row, reader = issue(name="质量系统", read_only=True)
    api = Api(client, reader)
    assert api.get(f"/cases/{number}").status_code == 200
    assert api.get("/products").status_code == 200
    resp = api.post("/cases", json=CASE)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "read_only_token"
    resp = client.post(f"/api/v1/cases/{number}/attachments", data=b"%PDF-1.4\n%%EOF",
                       headers={"Authorization": f"Bearer {reader}", "Content-Type": "application/pdf"})
    assert resp.status_code == 403
    assert count(Case) == 1


def test_rate_limit_answers_429_with_retry_after(app):
    from portal.api import ratelimit
    ratelimit.reset_local()
    _row, plain = issue(rate=3)
    api = Api(app.test_client(), plain)
    answers = [api.get("/channels") for _i in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    last = answers[-1]
    assert last.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(last.headers["Retry-After"]) <= 60
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    # Another token has its own count.
    _row, other = issue(name="CRM", rate=3)
    assert Api(app.test_client(), other).get("/channels").status_code == 200


def test_rate_limit_without_redis_still_limits_and_never_500s(app, monkeypatch):
    from portal.api import ratelimit
    ratelimit.reset_local()
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    from portal import queues
    queues._connections.clear()
    _row, plain = issue(rate=2)
    api = Api(app.test_client(), plain)
    assert [api.get("/channels").status_code for _i in range(3)] == [200, 200, 429]
    queues._connections.clear()
    ratelimit.reset_local()


def test_every_call_is_logged(app):
    from portal.api.models import ApiCall, ApiToken
    row, plain = issue()
    client = app.test_client()
    api = Api(client, plain)
    made = api.post("/cases", json=CASE, headers={"Idempotency-Key": "order-1"})
    api.post("/cases", json={**CASE, "customer_phone": "x"})
    client.get("/api/v1/products", headers={"Authorization": "Bearer nonsense"})
    calls = _db().session.execute(sa.select(ApiCall).order_by(ApiCall.id)).scalars().all()
    assert [(c.method, c.path, c.status, c.code) for c in calls] == [
        ("POST", "/api/v1/cases", 201, None), ("POST", "/api/v1/cases", 422, "validation_failed"),
        ("GET", "/api/v1/products", 401, "unauthorized")]
    from portal.cases.models import Case
    case = _db().session.execute(sa.select(Case).where(Case.number == made.get_json()["number"])).unique().scalar_one()
    assert calls[0].token_id == row.id and calls[0].case_id == case.id and calls[0].idempotency_key == "order-1"
    assert calls[0].ip == "127.0.0.1" and calls[0].ms >= 0
    assert calls[2].token_id is None
    assert _db().session.get(ApiToken, row.id).last_used_at is not None

"""Idempotency-Key: a retried create answers with the first case, never a second one, also
when the retries arrive at the same moment over real HTTP; the same key with another body is
refused; a create that failed leaves the key free."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa

from tests.api.conftest import CASE, Api, issue
from tests.conftest import count


def test_same_key_twice_gives_the_first_case(app, api):
    from portal.cases.models import Case
    first = api.post("/cases", json=CASE, headers={"Idempotency-Key": "crm-4711"})
    again = api.post("/cases", json=CASE, headers={"Idempotency-Key": "crm-4711"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first.headers
    assert count(Case) == 1
    # Another key is another case.
    other = api.post("/cases", json=CASE, headers={"Idempotency-Key": "crm-4712"})
    assert other.status_code == 201 and other.get_json()["number"] != first.get_json()["number"]
    assert count(Case) == 2


def test_same_key_different_body_is_refused(app, api):
    from portal.cases.models import Case
    api.post("/cases", json=CASE, headers={"Idempotency-Key": "k-1"})
    resp = api.post("/cases", json={**CASE, "customer_name": "李四"}, headers={"Idempotency-Key": "k-1"})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "idempotency_key_reused"
    assert count(Case) == 1


def test_keys_belong_to_their_token(app, api):
    from portal.cases.models import Case
    _row, other = issue(name="CRM")
    a = api.post("/cases", json=CASE, headers={"Idempotency-Key": "shared"})
    b = Api(app.test_client(), other).post("/cases", json=CASE, headers={"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201 and a.get_json()["number"] != b.get_json()["number"]
    assert count(Case) == 2


def test_a_failed_create_leaves_the_key_free(app, api):
    from portal.cases.models import Case
    bad = api.post("/cases", json={**CASE, "customer_phone": "?"}, headers={"Idempotency-Key": "retry-me"})
    assert bad.status_code == 422
    good = api.post("/cases", json=CASE, headers={"Idempotency-Key": "retry-me"})
    assert good.status_code == 201 and "Idempotency-Replayed" not in good.headers
    assert count(Case) == 1


def test_malformed_key_is_refused(app, api):
    resp = api.post("/cases", json=CASE, headers={"Idempotency-Key": "x" * 101})
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "invalid_idempotency_key"


@pytest.fixture
def live_server(app):
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(10)


def _post(url: str, token: str, body: dict, key: str):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_parallel_retries_make_one_case(app, live_server):
    from portal.cases.models import Case, CaseCounter
    from portal.extensions import db
    _row, token = issue()
    n = 6
    start = threading.Barrier(n)
    results: list = [None] * n

    def send(i: int):
        start.wait(timeout=30)
        results[i] = _post(f"{live_server}/api/v1/cases", token, CASE, "parallel-key")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert all(r is not None for r in results)
    assert [r[0] for r in results] == [201] * n, results
    numbers = {r[2]["number"] for r in results}
    assert len(numbers) == 1
    assert sum(1 for r in results if r[1].get("Idempotency-Replayed") == "true") == n - 1
    db.session.expire_all()
    assert count(Case) == 1
    assert db.session.execute(sa.select(sa.func.sum(CaseCounter.last))).scalar_one() == 1


def test_parallel_different_bodies_with_one_key_make_one_case(app, live_server):
    from portal.cases.models import Case
    from portal.extensions import db
    _row, token = issue()
    start = threading.Barrier(2)
    results: list = [None, None]
    bodies = [CASE, {**CASE, "customer_name": "李四"}]

    def send(i: int):
        start.wait(timeout=30)
        results[i] = _post(f"{live_server}/api/v1/cases", token, bodies[i], "same-key")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert sorted(r[0] for r in results) == [201, 422], results
    db.session.expire_all()
    assert count(Case) == 1


def test_a_claim_is_let_go_after_a_day_and_the_same_key_still_finds_its_case(app, api):
    """The nightly purge (jobs/cleanup.purge_api_records): expired claims and old call-log rows
    go; a retry with the key after that still returns the first case, never a second."""
    from datetime import timedelta
    import sqlalchemy as sa
    from portal.api.housekeeping import purge
    from portal.api.models import ApiCall, ApiIdempotency
    from portal.cases.models import Case
    from portal.clock import utcnow
    from portal.extensions import db
    from tests.api.conftest import CASE
    first = api.post("/cases", json=CASE, headers={"Idempotency-Key": "crm-42"})
    assert first.status_code == 201
    assert purge() == (0, 0)  # nothing is old yet
    db.session.execute(sa.update(ApiIdempotency).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.execute(sa.update(ApiCall).values(at=utcnow() - timedelta(days=91)))
    db.session.commit()
    claims, calls = purge()
    assert claims == 1 and calls >= 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(ApiIdempotency)).scalar() == 0
    again = api.post("/cases", json=CASE, headers={"Idempotency-Key": "crm-42"})
    assert again.status_code == 201 and again.get_json()["number"] == first.get_json()["number"]
    assert db.session.execute(sa.select(sa.func.count()).select_from(Case)).scalar() == 1

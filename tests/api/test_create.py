"""POST /api/v1/cases: a case made with a token is registered like the desk's, checked like
the intake form, and shows up in the desk's list."""
from __future__ import annotations

import sqlalchemy as sa

from tests.api.conftest import CASE, issue
from tests.conftest import count, unit


def test_create_registers_a_case_the_desk_sees(app, api, as_user):
    from portal.cases.models import Case
    from portal.signing.models import AuditEvent
    resp = api.post("/cases", json={**CASE, "quantity": 2, "urgent": True})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    number = body["number"]
    assert body["status"] == {"code": "new", "label": "待核实", "label_en": body["status"]["label_en"]}
    assert body["status"]["label_en"] and body["status"]["label_en"] != "待核实"
    assert resp.headers["Location"] == f"/api/v1/cases/{number}"
    case = app.extensions["sqlalchemy"].session.execute(sa.select(Case).where(Case.number == number)).unique().scalar_one()
    assert case.channel.value == "hotline" and case.branch_id is None and case.quantity == 2 and case.urgent
    assert case.registered_by.username.startswith("svc:api:")
    event = app.extensions["sqlalchemy"].session.execute(
        sa.select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action == "registered")).scalar_one()
    assert event.actor_name == "接口：呼叫中心"
    # The desk's list shows it.
    desk = as_user("desk")
    html = desk.get("/cases/").get_data(as_text=True)
    assert number in html


def test_validation_messages_in_chinese_and_english(app, api):
    from portal.cases.models import Case
    resp = api.post("/cases", json={**CASE, "customer_phone": "abc", "description": "", "quantity": "two",
                                    "colour": "red"})
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "validation_failed"
    fields = err["fields"]
    assert fields["customer_phone"]["message"] == "请输入正确的电话号码（数字，可含 - 和空格）"
    assert "phone" in fields["customer_phone"]["message_en"].lower()
    assert fields["description"]["message"] == "请描述顾客反映的问题"
    assert fields["quantity"]["message"] == "须为整数"
    assert fields["colour"]["message"] == "未知字段"
    for f in fields.values():
        assert f["message_en"] and not any("\u4e00" <= ch <= "\u9fff" for ch in f["message_en"])
    assert count(Case) == 0


def test_deferred_channel_needs_received_at(app):
    from portal.api import ratelimit
    ratelimit.reset_local()
    from tests.api.conftest import Api
    _row, token = issue(channels=("email",))
    api = Api(app.test_client(), token)
    resp = api.post("/cases", json={**CASE, "channel": "email"})
    assert resp.status_code == 422
    f = resp.get_json()["error"]["fields"]["received_at"]
    assert "实际收到时间" in f["message"] and "Email" in f["message_en"] or "email" in f["message_en"].lower()
    resp = api.post("/cases", json={**CASE, "channel": "email", "received_at": "2020-01-01T09:00:00+08:00"})
    assert resp.status_code == 422
    resp = api.post("/cases", json={**CASE, "channel": "email",
                                    "received_at": __import__("portal.clock").clock.utcnow().isoformat()})
    assert resp.status_code == 201, resp.get_json()


def test_malformed_and_wrong_content_type(app, api):
    resp = api.client.post("/api/v1/cases", data=b"{not json", headers={**api._h(None), "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_json"
    resp = api.client.post("/api/v1/cases", data="x=1", headers={**api._h(None), "Content-Type": "text/plain"})
    assert resp.status_code == 415 and resp.get_json()["error"]["code"] == "unsupported_media_type"
    resp = api.post("/cases", json=[1, 2])
    assert resp.status_code == 422


def test_unknown_paths_and_methods_answer_json(app, api):
    resp = api.get("/nothing-here")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    resp = api.client.delete("/api/v1/cases", headers=api._h(None))
    assert resp.status_code == 405 and resp.get_json()["error"]["code"] == "method_not_allowed"
    # The portal's own pages keep their HTML error page.
    assert "text/html" in app.test_client().get("/no-such-page").content_type


def test_no_cookies(app, api):
    resp = api.post("/cases", json=CASE)
    assert resp.status_code == 201
    assert "Set-Cookie" not in resp.headers
    assert "no-store" in resp.headers["Cache-Control"]


def test_openapi_document_is_served(app, client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["schemas"]["CaseCreate"]["properties"]["customer_name"]["maxLength"] == 60
    assert set(doc["paths"]) >= {"/cases", "/cases/{number}", "/cases/{number}/attachments", "/products",
                                 "/categories", "/channels"}


def test_create_answers_the_customers_progress_link_to_pass_on(app, api):
    """A CRM or mini-program can show the customer the same link the acknowledgement SMS has."""
    from urllib.parse import urlsplit
    body = api.post("/cases", json=CASE).get_json()
    link = body["links"]["customer"]
    assert link and "/p/" in link
    page = app.test_client().get(urlsplit(link).path)
    assert page.status_code == 200 and body["number"] in page.get_data(as_text=True)
    assert api.get(f"/cases/{body['number']}").get_json()["links"]["customer"] == link

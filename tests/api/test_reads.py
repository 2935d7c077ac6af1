"""Reading with a token: a case's public status as staff move it (never internal notes, the
customer's phone or staff names), files attached by the API, reference data."""
from __future__ import annotations

import io

import sqlalchemy as sa

from tests.api.conftest import CASE, Api, issue
from tests.conftest import PASSWORD, category, jpeg_of_size, png_bytes, unit, user


def _case(number):
    from portal.cases.models import Case
    from portal.extensions import db
    db.session.expire_all()
    return db.session.execute(sa.select(Case).where(Case.number == number)).unique().scalar_one()


def test_status_follows_the_case_and_shows_nothing_internal(app, api):
    from portal.cases import operations as ops
    from portal.cases.enums import Kind, Klass, Responsibility, SettlementForm, Validity
    number = api.post("/cases", json=CASE).get_json()["number"]
    body = api.get(f"/cases/{number}").get_json()
    assert body["status"]["code"] == "new" and body["channel"]["code"] == "hotline"
    assert body["channel"]["label"] == "800热线" and body["result"] is None and body["closed_at"] is None
    assert body["received_at"].endswith("Z") and body["due_at"]
    case = _case(number)
    ops.verify_case(case, user("desk"), case.version, validity=Validity.VALID, kind=Kind.COMPLAINT,
                    klass=Klass.GENERAL, category_id=category("quality.taste").id, reason="内部备注：顾客情绪激动")
    ops.dispatch_case(case, user("desk"), case.version, unit_id=unit("PROD1").id, note="请生产一部王主管处理")
    ops.acknowledge_case(case, user("handler_prod1"), case.version)
    assert api.get(f"/cases/{number}").get_json()["status"]["code"] == "investigating"
    ops.propose_solution(case, user("handler_prod1"), case.version, findings="包装工序记录缺失",
                         root_cause="包装工人未戴发帽", responsibility=Responsibility.DEPARTMENT,
                         responsibility_note="生产一部", solution_form=SettlementForm.PRODUCT,
                         solution_text="赔偿同款产品两袋", product_qty=2)
    case = _case(number)
    if case.state.value == "proposed":
        ops.approve_proposal(case, user("leader_prod1"), case.version, password=PASSWORD)
    resp = api.get(f"/cases/{number}")
    body = resp.get_json()
    assert body["result"]["kind"] == "solution"
    assert body["result"]["solution_form"]["code"] == "product"
    assert body["result"]["text"] == "赔偿同款产品两袋" and "2" in body["result"]["compensation"]
    text = resp.get_data(as_text=True)
    for secret in ("13912345678", "内部备注", "王主管", "包装工人未戴发帽", "包装工序记录缺失",
                   user("handler_prod1").name, user("desk").name, "王秀英"):
        assert secret not in text


def test_rejected_case_says_why(app, api):
    from portal.cases import operations as ops
    from portal.cases.enums import Validity
    number = api.post("/cases", json=CASE).get_json()["number"]
    case = _case(number)
    ops.verify_case(case, user("desk"), case.version, validity=Validity.NOT_VALID, kind=None, klass=None,
                    category_id=None, reason="产品已过保质期")
    body = api.get(f"/cases/{number}").get_json()
    assert body["status"]["code"] == "rejected" and body["closed_at"]
    assert body["result"] == {"kind": "rejected", "solution_form": None, "text": "产品已过保质期", "compensation": None}


def test_create_with_a_3mb_photo_in_one_call(app, api):
    import json
    photo = jpeg_of_size(3 * 1024 * 1024)
    resp = api.client.post("/api/v1/cases", headers=api._h(None), content_type="multipart/form-data",
                           data={"data": json.dumps(CASE), "files": [(io.BytesIO(photo), "现场.jpg")]})
    assert resp.status_code == 201, resp.get_json()
    case = _case(resp.get_json()["number"])
    assert [(a.original_name, a.size, a.content_type) for a in case.attachments] == [
        ("现场.jpg", len(photo), "image/jpeg")]
    assert case.attachments[0].uploaded_by.username.startswith("svc:api:")


def test_attachments_multipart_and_raw(app, api):
    from portal.signing.models import AuditEvent
    from portal.extensions import db
    number = api.post("/cases", json=CASE).get_json()["number"]
    resp = api.client.post(f"/api/v1/cases/{number}/attachments", headers=api._h(None),
                           content_type="multipart/form-data",
                           data={"file": [(io.BytesIO(png_bytes()), "包装.png")]})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["attachments"][0]["content_type"] == "image/png"
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
    resp = api.client.post(f"/api/v1/cases/{number}/attachments", data=pdf,
                           headers=api._h({"Content-Type": "application/pdf", "X-Filename": "发票.pdf"}))
    assert resp.status_code == 201, resp.get_json()
    case = _case(number)
    assert [a.original_name for a in case.attachments] == ["包装.png", "发票.pdf"]
    events = db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.case_id == case.id)
                                .order_by(AuditEvent.seq)).scalars().all()
    assert events.count("files_added") == 2
    assert api.get(f"/cases/{number}").get_json()["attachments"] == 2


def test_attachments_are_checked_like_the_form(app, api):
    number = api.post("/cases", json=CASE).get_json()["number"]
    # Not what it claims to be.
    resp = api.client.post(f"/api/v1/cases/{number}/attachments", data=b"just text, not a photo",
                           headers=api._h({"Content-Type": "image/jpeg"}))
    assert resp.status_code in (415, 422) and resp.get_json()["error"]["fields"]["files"]["message"]
    # A type the portal does not take.
    resp = api.client.post(f"/api/v1/cases/{number}/attachments", data=b"GIF89a....",
                           headers=api._h({"Content-Type": "image/gif"}))
    assert resp.status_code == 415 and resp.get_json()["error"]["code"] == "unsupported_media_type"
    # Over the per-file limit.
    app.config["MAX_FILE_BYTES"], old = 1024 * 1024, app.config["MAX_FILE_BYTES"]
    try:
        resp = api.client.post(f"/api/v1/cases/{number}/attachments", data=jpeg_of_size(1024 * 1024 + 10),
                               headers=api._h({"Content-Type": "image/jpeg"}))
        assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"
    finally:
        app.config["MAX_FILE_BYTES"] = old
    # Too many pixels, refused from the header.
    from PIL import Image
    buf = io.BytesIO()
    Image.new("1", (9000, 6000)).save(buf, "PNG")
    resp = api.client.post(f"/api/v1/cases/{number}/attachments", data=buf.getvalue(),
                           headers=api._h({"Content-Type": "image/png"}))
    assert resp.status_code == 422 and "像素" in resp.get_json()["error"]["message"]
    assert resp.get_json()["error"]["message_en"] and "像素" not in resp.get_json()["error"]["message_en"]
    assert _case(number).attachments == []


def test_no_files_on_a_closed_case(app, api):
    from portal.cases import operations as ops
    from portal.cases.enums import Validity
    number = api.post("/cases", json=CASE).get_json()["number"]
    case = _case(number)
    ops.verify_case(case, user("desk"), case.version, validity=Validity.NOT_VALID, kind=None, klass=None,
                    category_id=None, reason="重复投诉")
    resp = api.client.post(f"/api/v1/cases/{number}/attachments", data=png_bytes(),
                           headers=api._h({"Content-Type": "image/png"}))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "case_closed"


def test_reference_data(app, api):
    products = api.get("/products").get_json()["items"]
    assert products and {"id", "code", "name", "spec"} <= set(products[0])
    cats = api.get("/categories").get_json()["items"]
    assert any(c["code"] == "quality.taste" for c in cats)
    channels = {c["code"]: c for c in api.get("/channels").get_json()["items"]}
    assert channels["hotline"]["allowed"] and not channels["email"]["allowed"]
    assert "field" not in channels and "api" not in channels
    branches = api.get("/branches").get_json()
    assert branches["hq"] is True and [b["code"] for b in branches["items"]] == ["BR-CD"]
    # A product from the catalogue names itself.
    product = products[0]
    body = {k: v for k, v in CASE.items() if k not in ("product_name", "product_spec")}
    resp = api.post("/cases", json={**body, "product_id": product["id"]})
    assert resp.status_code == 201, resp.get_json()
    assert _case(resp.get_json()["number"]).product_name == product["name"]
    resp = api.post("/cases", json={**body, "product_id": 999999})
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"]["product_id"]["message"] == "产品目录中没有这个产品"

"""The admin pages (/admin/webhooks): add an endpoint (its secret shown), a bad address or no
event refused beside the field with nothing saved, edit, stop, rotate the secret, send a test
ping that a real receiver verifies, every attempt with its status code and time, retry."""
import re

import sqlalchemy as sa

from portal.extensions import db
from portal.notify.delivery import deliver_due
from portal.notify.models import OutboxMessage
from portal.signing.models import AuditEvent
from portal.webhooks.models import WebhookEndpoint
from tests.conftest import csrf_from


def endpoints():
    return db.session.execute(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars().all()


def add(client, receiver, events=("case.created", "case.closed"), name="ERP 补偿"):
    token = csrf_from(client, "/admin/webhooks/new")
    return client.post("/admin/webhooks/new", data={"csrf_token": token, "name": name, "url": receiver.url,
                                                    "events": list(events)})


def test_admin_adds_an_endpoint_and_sees_its_secret(as_user, receiver):
    admin = as_user("admin")
    resp = add(admin, receiver)
    assert resp.status_code in (302, 303)
    [endpoint] = endpoints()
    assert endpoint.events == ["case.created", "case.closed"] and endpoint.active
    page = admin.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    assert endpoint.secret in page and endpoint.secret.startswith("whsec_")
    listing = admin.get("/admin/webhooks").get_data(as_text=True)
    assert "ERP 补偿" in listing and "投诉已登记" in listing
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "webhook_added")).scalar_one()
    assert endpoint.secret not in str(event.after)  # the trail never holds the secret


def test_bad_address_and_no_event_are_refused_beside_the_fields(as_user, receiver):
    admin = as_user("admin")
    token = csrf_from(admin, "/admin/webhooks/new")
    resp = admin.post("/admin/webhooks/new", data={"csrf_token": token, "name": "CRM", "url": "ftp://crm.local/x"})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "接收地址应以 https:// 或 http:// 开头" in html
    assert "请至少选择一个事件" in html
    assert 'value="CRM"' in html  # what was typed is kept
    assert endpoints() == []


def test_only_an_admin_may_open_the_pages(as_user):
    resp = as_user("desk").get("/admin/webhooks")
    assert resp.status_code == 403


def test_ping_reaches_the_receiver_signed_and_the_attempt_is_shown(as_user, receiver):
    admin = as_user("admin")
    add(admin, receiver)
    [endpoint] = endpoints()
    receiver.secret = endpoint.secret
    token = csrf_from(admin, f"/admin/webhooks/{endpoint.id}")
    assert admin.post(f"/admin/webhooks/{endpoint.id}/ping", data={"csrf_token": token}).status_code in (302, 303)
    deliver_due()
    [got] = receiver.received
    assert got["verified"] and got["json"]["type"] == "ping"
    page = admin.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    assert got["json"]["id"] in page  # X-Portal-Delivery
    assert re.search(r'<td data-label="状态码" class="num">200</td>', page)
    assert "毫秒" in page and "已发送" in page


def test_failed_delivery_shows_each_attempt_and_is_retried_by_hand(as_user, receiver):
    from tests.conftest import make_case
    admin = as_user("admin")
    add(admin, receiver)
    [endpoint] = endpoints()
    receiver.secret = endpoint.secret
    receiver.status = 500
    make_case()
    deliver_due()
    [row] = db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.channel == "webhook")).scalars().all()
    assert row.status == "failed"
    page = admin.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    assert re.search(r'<td data-label="状态码" class="num">500</td>', page)
    assert "service unavailable" in page and "立即重试" in page

    receiver.status = 200
    token = csrf_from(admin, f"/admin/webhooks/{endpoint.id}")
    resp = admin.post(f"/admin/webhooks/{endpoint.id}/deliveries/{row.id}/retry", data={"csrf_token": token})
    assert resp.status_code in (302, 303)
    deliver_due()
    assert db.session.get(OutboxMessage, row.id, populate_existing=True).status == "sent"
    assert len(receiver.received) == 2 and receiver.received[-1]["verified"]
    # A second retry of a delivered row is refused, visibly.
    resp = admin.post(f"/admin/webhooks/{endpoint.id}/deliveries/{row.id}/retry", data={"csrf_token": token})
    assert resp.status_code == 409 and "无需重试" in resp.get_data(as_text=True)


def test_rotating_the_secret_signs_the_next_delivery_with_the_new_one(as_user, receiver):
    from tests.conftest import make_case
    admin = as_user("admin")
    add(admin, receiver)
    [endpoint] = endpoints()
    old = endpoint.secret
    token = csrf_from(admin, f"/admin/webhooks/{endpoint.id}")
    admin.post(f"/admin/webhooks/{endpoint.id}/rotate", data={"csrf_token": token})
    new = db.session.get(WebhookEndpoint, endpoint.id, populate_existing=True).secret
    assert new != old
    receiver.secret = new
    make_case()
    deliver_due()
    [got] = receiver.received
    assert got["verified"]


def test_edit_and_stop(as_user, receiver):
    admin = as_user("admin")
    add(admin, receiver)
    [endpoint] = endpoints()
    token = csrf_from(admin, f"/admin/webhooks/{endpoint.id}")
    resp = admin.post(f"/admin/webhooks/{endpoint.id}", data={"csrf_token": token, "name": "质量系统",
                                                             "url": receiver.url, "events": ["capa.issued"]})
    assert resp.status_code in (302, 303)
    endpoint = db.session.get(WebhookEndpoint, endpoint.id, populate_existing=True)
    assert (endpoint.name, endpoint.events) == ("质量系统", ["capa.issued"])
    admin.post(f"/admin/webhooks/{endpoint.id}/active", data={"csrf_token": token, "active": "0"})
    assert not db.session.get(WebhookEndpoint, endpoint.id, populate_existing=True).active
    assert "已停用" in admin.get("/admin/webhooks").get_data(as_text=True)

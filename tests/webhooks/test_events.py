"""Webhook events fire on the real operations, in the change's transaction, and a real local
HTTP receiver gets each one signed (it checks every signature as an integrator would)."""
import json

import sqlalchemy as sa

from portal.extensions import db
from portal.notify.delivery import deliver_due
from portal.notify.models import OutboxMessage
from portal.webhooks import signing
from tests.conftest import PASSWORD, make_case, make_case_at, make_sheet_at, user


def webhook_rows():
    return db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.channel == "webhook")
                              .order_by(OutboxMessage.id)).scalars().all()


def test_case_created_is_delivered_signed_without_the_customers_phone(app, receiver, make_endpoint):
    make_endpoint(receiver, events=["case.created"])
    case = make_case()

    [row] = webhook_rows()  # written with the case
    assert row.case_id == case.id and row.status == "pending"
    deliver_due()

    [got] = receiver.received
    assert got["verified"], got["headers"]
    body = got["json"]
    assert body["type"] == "case.created"
    assert got["headers"][signing.HEADER_EVENT] == "case.created"
    assert got["headers"][signing.HEADER_DELIVERY] == body["id"]
    assert body["data"]["number"] == case.number
    assert body["data"]["state"] == "new" and body["data"]["state_label"] == "待核实"
    assert body["data"]["channel"] == case.channel.value
    raw = got["body"].decode()
    for private in ("13912345678", "王秀英", "成都市武侯区", "水饺中吃出一根头发"):
        assert private not in raw
    assert db.session.get(OutboxMessage, row.id, populate_existing=True).status == "sent"


def test_a_wrong_secret_fails_the_receivers_check(app, receiver, make_endpoint):
    make_endpoint(receiver, events=["case.created"])
    receiver.secret = "whsec_not_the_one"
    make_case()
    deliver_due()
    [got] = receiver.received
    assert not got["verified"]


def test_only_subscribed_endpoints_hear_an_event(app, receiver, make_endpoint):
    from tests.webhooks.receiver import Receiver
    other = Receiver().start()
    try:
        make_endpoint(receiver, events=["case.closed"], name="质量系统")
        make_endpoint(other, events=["case.created"], name="CRM")
        make_case()
        deliver_due()
        assert receiver.received == []
        assert [r["json"]["type"] for r in other.received] == ["case.created"]
        assert other.received[0]["verified"]
    finally:
        other.stop()


def test_the_main_line_sends_state_changes_and_closed(app, receiver, make_endpoint):
    make_endpoint(receiver)
    case = make_case_at("closed")
    deliver_due()

    assert all(r["verified"] for r in receiver.received)
    created = receiver.of_type("case.created")
    assert len(created) == 1
    changes = [(r["json"]["data"]["previous_state"], r["json"]["data"]["state"])
               for r in receiver.of_type("case.state_changed")]
    assert changes[0] == ("new", "verified")
    assert changes[-1] == ("confirming", "closed")
    assert ("verified", "investigating") in changes  # dispatched
    [closed] = receiver.of_type("case.closed")
    assert closed["json"]["data"]["number"] == case.number
    assert closed["json"]["data"]["closed_at"]
    # Each delivery once, each with its own id.
    ids = receiver.deliveries()
    assert len(ids) == len(set(ids))


def test_a_change_that_does_not_move_the_state_sends_nothing(app, receiver, make_endpoint):
    from portal.cases import operations as ops
    make_endpoint(receiver, events=["case.state_changed"])
    case = make_case_at("dispatched")
    deliver_due()
    before = len(receiver.received)
    ops.acknowledge_case(case, user("handler_prod1"), case.version)  # same state, the step moves
    deliver_due()
    assert len(receiver.received) == before


def test_escalation_by_hand_sends_case_escalated(app, receiver, make_endpoint):
    from portal.escalation.manual import escalate_by_hand
    make_endpoint(receiver, events=["case.escalated"])
    case = make_case_at("dispatched")
    deliver_due()
    receiver.received.clear()

    escalate_by_hand(case, user("desk"), reason="顾客情绪激动，要求领导出面")
    deliver_due()

    [got] = receiver.of_type("case.escalated")
    assert got["verified"]
    data = got["json"]["data"]
    assert data["number"] == case.number
    assert data["level"] == case.ladder_level >= 1
    assert data["previous_level"] == data["level"] - 1
    assert data["trigger"] == "manual"


def test_corrective_action_sheet_issued_and_closed(app, receiver, make_endpoint):
    make_endpoint(receiver, events=["capa.issued", "capa.closed"])
    sheet = make_sheet_at("closed")
    deliver_due()
    types = [r["json"]["type"] for r in receiver.received]
    assert types == ["capa.issued", "capa.closed"]
    assert all(r["verified"] for r in receiver.received)
    closed = receiver.received[-1]["json"]["data"]
    assert closed["number"] == sheet.number and closed["effective"] is True
    assert closed["cases"] == [c.number for c in sheet.cases]


def test_a_refused_change_writes_no_delivery(app, receiver, make_endpoint):
    """The rows are part of the change's transaction: a conflict leaves none behind."""
    import pytest
    from portal.cases import operations as ops
    from portal.errors import Conflict
    make_endpoint(receiver, events=["case.state_changed"])
    case = make_case()
    stale = case.version
    ops.request_info(case, user("desk"), case.version, question="请补拍包装上的批号")
    n = len(webhook_rows())
    with pytest.raises(Conflict):
        ops.request_info(case, user("desk"), stale, question="再问一次")
    assert len(webhook_rows()) == n


def test_a_stopped_endpoint_gets_nothing_and_its_waiting_deliveries_are_cancelled(app, receiver, make_endpoint):
    from portal.webhooks import operations
    endpoint = make_endpoint(receiver, events=["case.created"])
    make_case()
    operations.set_active(user("admin"), endpoint, False)
    make_case()
    deliver_due()
    assert receiver.received == []
    assert [r.status for r in webhook_rows()] == ["cancelled"]


def test_payload_is_the_documented_shape(app, receiver, make_endpoint):
    from portal.webhooks.events import DATA_FIELDS
    make_endpoint(receiver)
    make_case_at("closed")
    deliver_due()
    for r in receiver.received:
        body = r["json"]
        assert set(body) == {"id", "type", "occurred_at", "data"}
        assert set(body["data"]) == set(DATA_FIELDS[body["type"]]), body["type"]
        json.dumps(body)

"""Writing webhook events: one outbox row per subscribed, active endpoint, in the caller's
transaction (the change and its deliveries commit together, or neither does).

The hooks are called from the operations' commit helpers: portal/cases/operations._commit
(case.created, case.state_changed, case.closed), portal/escalation/operations.escalate
(case.escalated, when the case's ladder level rises) and portal/capa/operations._commit
(capa.issued, capa.closed). Each returns the rows it wrote; the caller hands them to the
workers after commit with its other messages.

A row's key is `webhook:<endpoint>:<event>:<what happened>` (the audit event's seq, or the
escalation's key), so a retried transaction cannot write a delivery twice. Its body is the
exact JSON that is signed and POSTed; its `id` is the delivery id (X-Portal-Delivery).
"""
from __future__ import annotations

import json
import uuid

import sqlalchemy as sa
from flask_babel import gettext
from portal.i18n import force_locale

from portal.clock import utcnow
from portal.extensions import db
from portal.jsonutil import jsonable
from portal.notify.outbox import add_message
from portal.webhooks.events import EVENTS, PING
from portal.webhooks.models import WebhookEndpoint


def _active() -> list[tuple[int, list[str]]]:
    """(id, events) of every active endpoint: one small query per change."""
    return [(r.id, r.events or []) for r in db.session.execute(
        sa.select(WebhookEndpoint.id, WebhookEndpoint.events)
        .where(WebhookEndpoint.active.is_(True)).order_by(WebhookEndpoint.id)).all()]


def subscribed(event_type: str, active=None) -> list[int]:
    """Ids of the active endpoints that asked for this event."""
    return [i for i, events in (_active() if active is None else active) if event_type in events]


def payload(delivery_id: str, event_type: str, occurred_at, data: dict) -> str:
    """The body as POSTed: compact UTF-8 JSON, "id" first."""
    return json.dumps({"id": delivery_id, "type": event_type, "occurred_at": jsonable(occurred_at),
                       "data": jsonable(data)}, ensure_ascii=False, separators=(",", ":"))


def new_delivery_id() -> str:
    return f"whd_{uuid.uuid4().hex}"


def emit(event_type: str, data: dict, *, key: str, case_id: int | None = None,
         occurred_at=None, endpoint_ids: list[int] | None = None) -> list:
    """One outbox row per endpoint subscribed to `event_type` (or the given endpoints)."""
    if event_type not in EVENTS and event_type != PING:
        raise ValueError(f"unknown webhook event {event_type!r}")
    ids = subscribed(event_type) if endpoint_ids is None else endpoint_ids
    occurred_at = occurred_at or utcnow()
    out = []
    for endpoint_id in ids:
        body = payload(new_delivery_id(), event_type, occurred_at, data)
        msg = add_message(key=f"webhook:{endpoint_id}:{event_type}:{key}"[:200], channel="webhook",
                          address=str(endpoint_id), subject=event_type, body=body, case_id=case_id,
                          kind="webhook", send_after=utcnow())
        if msg is not None:
            out.append(msg)
    return out


# -- What each event carries (public-ish facts only: no customer name, phone or address) ---------

def _state_label(state) -> str:
    with force_locale("zh_CN"):
        return gettext(state.label) if state is not None else None


def case_data(case, **extra) -> dict:
    from portal.notify.delivery import case_link
    data = {"number": case.number, "state": jsonable(case.state),
            "state_label": _state_label(case.state), "channel": jsonable(case.channel),
            "received_at": case.received_at, "due_at": case.due_at,
            "closed_at": case.closed_at, "url": case_link(case.number)}
    data.update(extra)
    return data


def on_case_commit(case, action: str, before: dict, after: dict, event) -> list:
    """portal/cases/operations._commit: the case was registered, or its state changed."""
    if action == "registered":
        wanted = [("case.created", {})]
    elif "state" in after:
        wanted = [("case.state_changed", {"previous_state": before.get("state")})]
        if after["state"] == "closed":
            wanted.append(("case.closed", {}))
    else:
        return []
    active = _active()
    out = []
    for kind, extra in wanted:
        if ids := subscribed(kind, active):
            out += emit(kind, case_data(case, **extra), key=str(event.seq), case_id=case.id,
                        occurred_at=event.at, endpoint_ids=ids)
    return out


def on_escalated(case, level: int, level_name: str, trigger, key: str, now) -> list:
    """portal/escalation/operations.escalate: the case's ladder level rises to `level`."""
    if not (ids := subscribed("case.escalated")):
        return []
    data = case_data(case, level=level, previous_level=case.ladder_level, level_name=level_name,
                     trigger=jsonable(trigger))
    return emit("case.escalated", data, key=key, case_id=case.id, occurred_at=now, endpoint_ids=ids)


def sheet_data(sheet) -> dict:
    return {"number": sheet.number, "state": jsonable(sheet.state), "effective": sheet.effective,
            "cases": [c.number for c in sheet.cases], "issued_at": sheet.issued_at,
            "due_date": sheet.due_date, "closed_at": sheet.closed_at}


def on_sheet_commit(sheet, action: str, before: dict, after: dict, event) -> list:
    """portal/capa/operations._commit: a 纠正预防单 was issued or closed."""
    if action == "ca_issued":
        kind = "capa.issued"
    elif after.get("state") == "closed":
        kind = "capa.closed"
    else:
        return []
    if not (ids := subscribed(kind)):
        return []
    return emit(kind, sheet_data(sheet), key=str(event.seq), occurred_at=event.at, endpoint_ids=ids)

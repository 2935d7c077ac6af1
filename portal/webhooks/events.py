"""The events a webhook endpoint may subscribe to: code -> Chinese label (the docs list them).

Every delivery's JSON body is
    {"id": "<delivery id, = X-Portal-Delivery>", "type": "<code>", "occurred_at": "<ISO 8601 UTC>",
     "data": {...}}
and `data` carries public-ish facts only (case number, state, channel, dates, ladder level, the
sheet's number and cases), never the customer's name, phone or address, nor internal notes.
"""
from portal.labels import N_

EVENTS: dict[str, str] = {
    "case.created": N_("投诉已登记"),
    "case.state_changed": N_("投诉状态变化"),
    "case.escalated": N_("投诉已升级"),
    "case.closed": N_("投诉已结案"),
    "capa.issued": N_("纠正预防单已下发"),
    "capa.closed": N_("纠正预防单已关闭"),
}

# Sent only by the admin page's 发送测试 button, to one endpoint; not subscribable.
PING = "ping"

# What `data` holds per event (the docs' payload table; portal/webhooks/emit.py builds it).
DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "case.created": ("number", "state", "state_label", "channel", "received_at", "due_at", "url"),
    "case.state_changed": ("number", "state", "state_label", "previous_state", "channel",
                           "received_at", "due_at", "closed_at", "url"),
    "case.escalated": ("number", "state", "state_label", "level", "previous_level", "level_name",
                       "trigger", "url"),
    "case.closed": ("number", "state", "state_label", "channel", "received_at", "closed_at", "url"),
    "capa.issued": ("number", "state", "cases", "issued_at", "due_date"),
    "capa.closed": ("number", "state", "effective", "cases", "issued_at", "closed_at"),
    PING: ("message",),
}

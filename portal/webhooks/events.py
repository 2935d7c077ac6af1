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
# Dates are ISO 8601 in UTC; `state` is the code, `state_label` its Chinese name; `url` is the
# case's page in the portal (staff sign in), or null without PORTAL_BASE_URL.
_CASE = ("number", "state", "state_label", "channel", "received_at", "due_at", "closed_at", "url")
_SHEET = ("number", "state", "effective", "cases", "issued_at", "due_date", "closed_at")
DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "case.created": _CASE,
    "case.state_changed": _CASE + ("previous_state",),
    "case.escalated": _CASE + ("level", "previous_level", "level_name", "trigger"),
    "case.closed": _CASE,
    "capa.issued": _SHEET,
    "capa.closed": _SHEET,
    PING: ("message", "endpoint"),
}

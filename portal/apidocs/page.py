"""What the integrators' page shows, built from the API's OpenAPI document and the webhook
catalogue: the runnable curl commands, the operation tables, the error codes, the events and
their payload, and the receiver snippets (files beside this module, shown as they are and
run by the tests as they are)."""
from __future__ import annotations

import json
from pathlib import Path

from portal.apidocs.reference import Reference

SNIPPETS = Path(__file__).resolve().parent / "snippets"
CREATE_PATH = "/cases"  # paths as the document gives them, under its server URL (…/api/v1)
IDEMPOTENCY_KEY = "crm-20261202-000001"  # the integrator's own id of the complaint is a good key


def snippet(name: str) -> str:
    return (SNIPPETS / name).read_text(encoding="utf-8")


def _shell_quote_heredoc(body: str) -> str:
    # A quoted heredoc delimiter: the shell leaves the JSON exactly as written.
    return f"--data-binary @- <<'JSON'\n{body}\nJSON"


def curl_commands(api: str, ref: Reference) -> dict[str, str]:
    """The page's commands, in the order a newcomer runs them, against the document's server
    URL `api`. `$PORTAL_TOKEN` holds the token (exported once), `$NUMBER` the case number the
    create answered. The create body is the document's own example of the request."""
    create = ref.operation(method="POST", path=CREATE_PATH)
    body = create.example if create and create.example else "{}"
    compact = json.dumps(json.loads(body), ensure_ascii=False)
    auth = '-H "Authorization: Bearer $PORTAL_TOKEN"'
    return {
        "token": "export PORTAL_TOKEN='kp_xxxxxxxx_…'   # 管理员签发时只显示一次的令牌",
        "create": (f'curl -sS -X POST "{api}{CREATE_PATH}" \\\n  {auth} \\\n'
                   f'  -H "Content-Type: application/json" \\\n'
                   f'  -H "Idempotency-Key: {IDEMPOTENCY_KEY}" \\\n  {_shell_quote_heredoc(body)}'),
        "attach": (f'curl -sS -X POST "{api}/cases/$NUMBER/attachments" \\\n  {auth} \\\n'
                   f'  -F "file=@现场照片.jpg;type=image/jpeg"'),
        "attach_raw": (f'curl -sS -X POST "{api}/cases/$NUMBER/attachments" \\\n  {auth} \\\n'
                       f'  -H "Content-Type: image/jpeg" --data-binary @现场照片.jpg'),
        "create_with_photo": (f'curl -sS -X POST "{api}{CREATE_PATH}" \\\n  {auth} \\\n'
                              f'  -H "Idempotency-Key: {IDEMPOTENCY_KEY}-p" \\\n'
                              f"  -F 'data={compact};type=application/json' \\\n"
                              f'  -F "files=@现场照片.jpg;type=image/jpeg"'),
        "status": f'curl -sS "{api}/cases/$NUMBER" \\\n  {auth}',
        "reference": "\n".join(f'curl -sS "{api}/{what}" {auth}'
                               for what in ("channels", "branches", "categories", "products")),
        "openapi": f'curl -sS "{api}/openapi.json" -o portal-openapi.json',
    }


# ---------------------------------------------------------------- webhooks

# Example values of the payload's `data` fields (the docs' example; the field list itself is
# portal.webhooks.events.DATA_FIELDS, so a new field shows up here as "…" until given one).
SAMPLE_DATA = {
    "number": "KS2026-000123", "state": "investigating", "state_label": "处理中",
    "previous_state": "verified", "channel": "hotline", "received_at": "2026-12-02T01:15:00Z",
    "due_at": "2026-12-09T01:15:00Z", "closed_at": None, "url": "https://portal.example.com/cases/KS2026-000123",
    "level": 1, "previous_level": 0, "level_name": "分公司负责人", "trigger": "overdue",
    "cases": ["KS2026-000123", "KS2026-000131"], "issued_at": "2026-12-03T02:00:00Z",
    "due_date": "2026-12-17", "effective": True, "message": "ping",
}


def webhook_events() -> list[dict]:
    from portal.webhooks.events import DATA_FIELDS, EVENTS
    return [{"code": code, "label": label, "fields": DATA_FIELDS.get(code, ())} for code, label in EVENTS.items()]


EXAMPLE_DELIVERY = "whd_5f1c2a9e0b7d4e21a8c3f6b0d9e14c27"


def payload_example(event: str = "case.state_changed") -> str:
    """The body as the webhooks build it (portal.webhooks.emit.payload), indented for reading."""
    from datetime import datetime, timezone
    from portal.webhooks.emit import payload
    from portal.webhooks.events import DATA_FIELDS
    data = {f: SAMPLE_DATA.get(f, "…") for f in DATA_FIELDS.get(event, ())}
    body = payload(EXAMPLE_DELIVERY, event, datetime(2026, 12, 2, 3, 4, 5, tzinfo=timezone.utc), data)
    return json.dumps(json.loads(body), ensure_ascii=False, indent=2)


def webhook_headers() -> list[tuple[str, str]]:
    from portal.webhooks import signing as s
    return [(s.HEADER_EVENT, "case.state_changed"), (s.HEADER_DELIVERY, EXAMPLE_DELIVERY),
            (s.HEADER_TIMESTAMP, "1764644645"), (s.HEADER_SIGNATURE, "v1=3b1f…（64 位十六进制）")]


def retry_schedule() -> list[tuple[int, str]]:
    """The wait before each retry of a webhook delivery, as (n, unit) with unit d/h/m/s."""
    from portal.webhooks.delivery import RETRY_AFTER
    return [_in_words(int(wait.total_seconds())) for wait in RETRY_AFTER]


def _in_words(seconds: int) -> tuple[int, str]:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size and seconds % size == 0:
            return seconds // size, unit
    return seconds, "s"


def context(doc: dict) -> dict:
    from portal.webhooks.signing import TOLERANCE_SECONDS
    ref = Reference(doc)
    from urllib.parse import urlsplit
    return {"api": ref.server, "api_path": urlsplit(ref.server).path, "ref": ref, "operations": ref.operations(), "errors": ref.error_codes(),
            "curl": curl_commands(ref.server, ref), "events": webhook_events(),
            "payload": payload_example(), "headers": webhook_headers(), "tolerance": TOLERANCE_SECONDS,
            "retries": retry_schedule(),
            "receiver_py": snippet("receiver.py"), "receiver_js": snippet("receiver.js")}

"""The receivers the integrators' page shows (portal/apidocs/snippets/, the files the page prints
and offers for download) run as they are, as their own processes, and take the portal's real
signed deliveries (portal.webhooks.delivery.WebhookSender, as the outbox's workers send them):
a genuine one is accepted and acted on, a tampered, stale or unsigned one refused."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from portal.apidocs.page import SNIPPETS
from tests.conftest import make_case, user

RUNTIMES = {"receiver.py": [sys.executable], "receiver.js": [shutil.which("node") or "node"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=sorted(RUNTIMES))
def snippet_receiver(request, app):
    """The snippet started as the docs say (WEBHOOK_SECRET=… python receiver.py <port>), with an
    endpoint registered for it through the admin operation."""
    name = request.param
    if name.endswith(".js") and not shutil.which("node"):
        pytest.skip("node is not installed")
    from portal.webhooks import operations
    from portal.webhooks.events import EVENTS
    port = _free_port()
    endpoint = operations.add_endpoint(user("admin"), name="质量系统", url=f"http://127.0.0.1:{port}/hooks",
                                       events=list(EVENTS))
    proc = subprocess.Popen([*RUNTIMES[name], str(SNIPPETS / name), str(port)],
                            env={**os.environ, "WEBHOOK_SECRET": endpoint.secret},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"{name} did not start: {proc.communicate()[1]}")
            time.sleep(0.05)
    r = SimpleNamespace(name=name, port=port, endpoint=endpoint, proc=proc)
    yield r
    proc.terminate()
    proc.wait(10)


def _printed(r) -> list[str]:
    r.proc.terminate()
    out, _err = r.proc.communicate(timeout=10)
    return [line for line in out.splitlines() if line.strip()]


def _post(port: int, body: bytes, headers: dict) -> int:
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/hooks", body=body, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


def test_docs_receiver_accepts_the_portals_signed_delivery(app, snippet_receiver):
    from portal.webhooks.delivery import WebhookSender
    from portal.webhooks.emit import case_data, new_delivery_id, payload
    case = make_case("rep_cd")
    delivery_id = new_delivery_id()
    body = payload(delivery_id, "case.created", case.received_at, case_data(case))
    row = SimpleNamespace(address=str(snippet_receiver.endpoint.id), body=body, subject="case.created")

    sender = WebhookSender()
    try:
        answer = sender.send(row)  # raises WebhookError unless the receiver answered 2xx
    finally:
        sender.close()

    assert answer.startswith("HTTP 204")
    printed = _printed(snippet_receiver)
    assert len(printed) == 1
    got_id, got_type, got_data = printed[0].split(" ", 2)
    assert (got_id, got_type) == (delivery_id, "case.created")
    assert json.loads(got_data)["number"] == case.number


def test_docs_receiver_refuses_tampered_stale_and_unsigned_deliveries(app, snippet_receiver):
    from portal.webhooks.delivery import headers_for
    from portal.webhooks.signing import TOLERANCE_SECONDS
    secret = snippet_receiver.endpoint.secret
    body = json.dumps({"id": "whd_1", "type": "case.closed", "occurred_at": "2026-12-02T03:04:05Z",
                       "data": {"number": "KS2026-000001", "state": "closed"}}, ensure_ascii=False).encode()
    now = int(time.time())
    good = headers_for(secret, body, "case.closed", "whd_1", now)

    tampered = body.replace(b"closed", b"rejected")
    assert _post(snippet_receiver.port, tampered, {**good, "Content-Length": str(len(tampered))}) == 401
    stale = headers_for(secret, body, "case.closed", "whd_1", now - TOLERANCE_SECONDS - 60)
    assert _post(snippet_receiver.port, body, stale) == 401
    other_secret = headers_for("not-the-secret", body, "case.closed", "whd_1", now)
    assert _post(snippet_receiver.port, body, other_secret) == 401
    unsigned = {k: v for k, v in good.items() if k != "X-Portal-Signature"}
    assert _post(snippet_receiver.port, body, unsigned) == 401
    # During a rotation the header may carry the old and the new signature: one matching is enough.
    rotating = {**good, "X-Portal-Signature": "v1=" + "0" * 64 + ", " + good["X-Portal-Signature"]}
    assert _post(snippet_receiver.port, body, rotating) == 204

    printed = _printed(snippet_receiver)
    assert len(printed) == 1 and printed[0].startswith("whd_1 case.closed ")  # only the genuine one acted on

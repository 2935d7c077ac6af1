"""The integrators' page (/api/docs): open without login, its operation tables are the OpenAPI
document's, and its curl commands, run as printed by a real shell and curl against a live
server with a real token, register a case the desk sees, replay it by the Idempotency-Key,
attach a photo and read the status."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import threading

import pytest

from portal.apidocs.page import SNIPPETS
from tests.conftest import jpeg_bytes, user

SNIPPET_RE = re.compile(r'<pre class="code"[^>]*? data-snippet="([a-z_]+)"><code>(.*?)</code></pre>', re.S)


def snippets(page_html: str) -> dict[str, str]:
    """The code blocks as a reader copies them (the text, unescaped)."""
    return {name: html.unescape(body) for name, body in SNIPPET_RE.findall(page_html)}


def test_docs_page_is_open_and_lists_every_operation_of_the_document(app, client):
    from portal.api.errors import CODES
    from portal.api.openapi import document
    from portal.webhooks.delivery import RETRY_AFTER
    from portal.webhooks.events import EVENTS

    resp = client.get("/api/docs/")  # no login
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "<h1>接口文档</h1>" in page

    doc = document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            block = re.search(rf'<section class="apidocs-op" id="op-{op["operationId"]}">(.*?)</section>', page, re.S)
            assert block, f"{method.upper()} {path} is not on the page"
            text = html.unescape(block.group(1))
            assert f"/api/v1{path}" in text and method.upper() in text
            assert op["summary"] in text
            for status in op["responses"]:
                assert f'class="num">{status}</td>' in text, f"{op['operationId']} {status}"
    create = re.search(r'id="op-createCase">(.*?)</section>', page, re.S).group(1)
    # An error answer lists its codes, each linked to its row of the error table.
    assert re.search(r'class="num">422</td>\s*<td[^>]*>.*?<a href="#error-validation_failed"><code>validation_failed</code></a>',
                     create)
    assert '<tr id="error-validation_failed">' in page
    for name in doc["components"]["schemas"]["CaseCreate"]["properties"]:
        assert f"<code>{name}</code>" in create  # each create field in the table

    errors = html.unescape(re.search(r'<table class="list" id="error-codes">(.*?)</table>', page, re.S).group(1))
    for code, (status, zh, _en) in CODES.items():
        assert re.search(rf"<code>{code}</code></td>\s*<td[^>]*>{status}</td>\s*<td[^>]*>{re.escape(zh)}</td>", errors), code

    events = re.search(r'id="webhook-events">(.*?)</table>', page, re.S).group(1)
    for code, label in EVENTS.items():
        assert f"<code>{code}</code>" in events and label in events
    retries = re.search(r'id="webhook-retries">(.*?)</table>', page, re.S).group(1)
    assert retries.count("<tr>") == len(RETRY_AFTER) + 1  # the header row and one per retry
    assert "10秒" in retries and "1天" in retries


def test_docs_page_in_english(app, client):
    page = client.get("/api/docs/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "<h1>API documentation</h1>" in page
    assert "Verify the signature" in page


def test_docs_page_shows_the_receivers_as_the_files_are(app, client):
    shown = snippets(client.get("/api/docs/").get_data(as_text=True))
    for name, key in (("receiver.py", "receiver_py"), ("receiver.js", "receiver_js")):
        source = (SNIPPETS / name).read_text(encoding="utf-8")
        assert shown[key] == source
        download = client.get(f"/api/docs/{name}")
        assert download.status_code == 200 and download.get_data(as_text=True) == source
        assert "attachment" in download.headers["Content-Disposition"]
    assert client.get("/api/docs/secrets.txt").status_code == 404


@pytest.fixture
def live(app):
    """The app served on a free port, the documents' server URL pointing at it."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base, before = f"http://127.0.0.1:{server.server_port}", app.config["PORTAL_BASE_URL"]
    app.config["PORTAL_BASE_URL"] = base
    try:
        yield base
    finally:
        app.config["PORTAL_BASE_URL"] = before
        server.shutdown()
        server.server_close()
        thread.join(10)


def _run(command: str, cwd, **env) -> dict:
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, capture_output=True, text=True,
                         timeout=60, env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_the_pages_curl_commands_work_as_printed(app, live, as_user, tmp_path):
    import urllib.request
    from portal.api.tokens import issue_token
    from portal.cases.enums import Channel
    from portal.org.models import OrgUnit
    import sqlalchemy as sa
    from portal.extensions import db

    branches = [u.id for u in db.session.scalars(sa.select(OrgUnit).where(OrgUnit.kind == "branch"))]
    _token, plain = issue_token(user("admin"), {
        "name": "呼叫中心", "channels": [c.value for c in Channel if c.value not in ("field", "api")],
        "branch_ids": branches, "hq": True, "rate_per_minute": 600})
    page = urllib.request.urlopen(f"{live}/api/docs/").read().decode()
    cmd = snippets(page)
    assert cmd["token"].startswith("export PORTAL_TOKEN=")
    (tmp_path / "现场照片.jpg").write_bytes(jpeg_bytes())

    created = _run(cmd["create"], tmp_path, PORTAL_TOKEN=plain)
    number = created["number"]
    assert re.fullmatch(r"KS\d{4}-\d{6}", number)
    assert _run(cmd["create"], tmp_path, PORTAL_TOKEN=plain)["number"] == number  # the same key: the same case
    desk_list = as_user("desk").get("/cases/").get_data(as_text=True)
    assert number in desk_list

    status = _run(cmd["status"], tmp_path, PORTAL_TOKEN=plain, NUMBER=number)
    assert status["number"] == number and status["status"]["code"] == "new"
    attached = _run(cmd["attach"], tmp_path, PORTAL_TOKEN=plain, NUMBER=number)
    assert [a["name"] for a in attached["attachments"]] == ["现场照片.jpg"]
    _run(cmd["attach_raw"], tmp_path, PORTAL_TOKEN=plain, NUMBER=number)
    assert _run(cmd["status"], tmp_path, PORTAL_TOKEN=plain, NUMBER=number)["attachments"] == 2

    with_photo = _run(cmd["create_with_photo"], tmp_path, PORTAL_TOKEN=plain)
    assert with_photo["number"] != number
    assert _run(cmd["status"], tmp_path, PORTAL_TOKEN=plain, NUMBER=with_photo["number"])["attachments"] == 1

    # The reference lists: one JSON document per line of the block.
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", cmd["reference"]], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PORTAL_TOKEN": plain})
    decoder, text, answers = json.JSONDecoder(), out.stdout.strip(), []
    while text:
        obj, end = decoder.raw_decode(text)
        answers.append(obj)
        text = text[end:].lstrip()
    assert len(answers) == 4 and all("items" in a for a in answers)
    spec = _run(cmd["openapi"].replace(" -o portal-openapi.json", ""), tmp_path)
    assert spec["openapi"].startswith("3.1")

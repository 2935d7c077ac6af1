"""The OpenAPI document is the API's contract: schemathesis reads it from the running app
(GET /api/v1/openapi.json) and sends property-based requests, valid and invalid, to every
operation with a real token; every answer must be a documented status with a JSON body that
matches its schema, never a 5xx. A real case (the document's own example), a real photo and a
status read make sure the success answers are checked too, not only the refusals."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import jpeg_bytes, user  # noqa: E402

# The API takes these files as they are (raw body, or a multipart part): bytes on the wire, as
# schemathesis already sends JPEG, PNG and WebP.
schemathesis.serializer.alias(["application/pdf", "image/heic"], "application/octet-stream")

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# Invalid data must be refused with a 4xx; an operation that needs a token must not answer without one.
NEGATIVE_CHECKS = CHECKS + [negative_data_rejection]
EXAMPLES = {"createCase": 40, "addAttachments": 25}  # per mode; the rest below
DEFAULT_EXAMPLES = 15
BUDGET_S = 60


@pytest.fixture
def token(app):
    """A token for every channel, every branch and headquarters, with room for the whole run."""
    import sqlalchemy as sa
    from portal.api.tokens import API_CHANNELS, MAX_RATE, issue_token
    from portal.extensions import db
    from portal.org.enums import UnitKind
    from portal.org.models import OrgUnit
    branches = list(db.session.scalars(sa.select(OrgUnit.id).where(OrgUnit.kind == UnitKind.BRANCH)))
    _row, plain = issue_token(user("admin"), {"name": "契约测试", "channels": [c.value for c in API_CHANNELS],
                                               "branch_ids": branches, "hq": True, "rate_per_minute": MAX_RATE})
    return plain


def _failures(run) -> list[str]:
    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation's, then fail once
        # A FailureGroup's text names each failure and the curl command that reproduces it.
        return [f"{type(exc).__name__}: {exc}"[:4000]]
    return []


def _fuzz(strategy, n: int, auth: dict, checks: list, statuses: set):
    """n generated requests of one operation, each answer checked against the document."""
    @settings(max_examples=n, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],  # no shrinking: the failure as found
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        # Schemathesis makes up a bearer token of its own: ours instead, so the requests reach
        # the operation (without a token is checked once per operation, below).
        case.headers = {**(case.headers or {}), **auth}
        statuses.add(case.call_and_validate(headers=auth, checks=checks).status_code)
    return run


@pytest.fixture
def live(app):
    """The app on a real HTTP server (threads), as an integrator's client meets it: compressed
    answers decompressed by the client, keep-alive, real headers. The document's server URL
    points at it."""
    import threading
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


def test_every_operation_keeps_to_the_openapi_document(app, live, token):
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(f"{live}/api/v1/openapi.json")
    auth = {"Authorization": f"Bearer {token}"}

    # A real case from the document's own example, so reads and attachments hit one that exists.
    create = schema["/cases"]["POST"]
    example = schema.raw_schema["components"]["schemas"]["CaseCreate"]["example"]
    created = create.Case(body=example, media_type="application/json").call_and_validate(headers=auth, checks=CHECKS)
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    attach = schema["/cases/{number}/attachments"]["POST"]
    photo = attach.Case(path_parameters={"number": number}, body=jpeg_bytes(), media_type="image/jpeg")
    added = photo.call_and_validate(headers=auth, checks=CHECKS)
    assert added.status_code == 201, added.text
    read = schema["/cases/{number}"]["GET"].Case(path_parameters={"number": number})
    assert read.call_and_validate(headers=auth, checks=CHECKS).json()["attachments"] == 1

    problems: dict[str, list[str]] = {}
    seen: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        key = op.definition.raw.get("operationId") or op.label
        n = EXAMPLES.get(key, DEFAULT_EXAMPLES)
        seen[key] = set()
        fixed = {"number": number} if "{number}" in op.path else None
        for mode, checks in ((GenerationMode.POSITIVE, CHECKS), (GenerationMode.NEGATIVE, NEGATIVE_CHECKS)):
            strategies = [op.as_strategy(generation_mode=mode)]
            if fixed and mode is GenerationMode.POSITIVE:  # also the case that exists
                strategies.append(op.as_strategy(generation_mode=mode, path_parameters=fixed))

            run = _fuzz(st.one_of(strategies), n, auth, checks, seen[key])
            found = _failures(run)
            if found:
                problems.setdefault(f"{key} ({mode.value})", []).extend(found)
        # Without the token: 401 as documented (schemathesis' ignored_auth sends it bare).
        if op.definition.raw.get("security", schema.raw_schema.get("security")):
            kwargs = {"path_parameters": fixed} if fixed else {}
            if key in ("createCase", "addAttachments"):
                kwargs.update(body=example, media_type="application/json") if key == "createCase" else \
                    kwargs.update(body=jpeg_bytes(), media_type="image/jpeg")
            bare = op.Case(**kwargs)
            response = bare.call()
            if response.status_code != 401:
                problems.setdefault(f"{key} (no token)", []).append(f"HTTP {response.status_code}: {response.text[:300]}")
            else:
                status_code_conformance_ok = _failures(lambda: bare.validate_response(response, checks=CHECKS))
                if status_code_conformance_ok:
                    problems.setdefault(f"{key} (no token)", []).extend(status_code_conformance_ok)

    # A method the document does not list: 405 with Allow and the JSON error, never HTML.
    import requests
    for path, item in schema.raw_schema["paths"].items():
        url = live + "/api/v1" + path.replace("{number}", number)
        answer = requests.patch(url, headers=auth, timeout=10)
        body = answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else None
        if answer.status_code != 405 or not body or body["error"]["code"] != "method_not_allowed" \
                or not set(answer.headers.get("Allow", "").replace(" ", "").split(",")) >= {m.upper() for m in item}:
            problems.setdefault(f"PATCH {path}", []).append(f"HTTP {answer.status_code} {answer.headers} {answer.text[:200]}")

    elapsed = time.monotonic() - started
    assert not problems, "\n\n".join(f"== {k}\n" + "\n".join(v) for k, v in problems.items())
    assert all(seen.values()), seen  # every operation was called
    assert elapsed < BUDGET_S, f"the contract run took {elapsed:.0f} s"

"""Tokens without the admin pages: `flask api-token` for whoever provisions an integration,
and the demo installation's well-known token (`make run`, README)."""
from __future__ import annotations

from tests.api.conftest import CASE, Api
from tests.conftest import user


def test_flask_api_token_prints_a_token_that_creates_a_case_in_its_scope(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["api-token", "呼叫中心", "--channels", "hotline,wechat", "--branches", "BR-CD"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("kp_")
    api = Api(app.test_client(), token)
    created = api.post("/cases", json={**CASE, "branch_id": _branch_id("BR-CD")})
    assert created.status_code == 201, created.get_json()
    # Its scope is what the command said: no headquarters case, no other channel.
    assert api.post("/cases", json=CASE).status_code == 403
    assert api.post("/cases", json={**CASE, "channel": "letter", "branch_id": _branch_id("BR-CD")}).status_code == 403


def test_flask_api_token_refuses_a_wrong_scope_in_chinese_and_issues_nothing(app):
    from portal.api.models import ApiToken
    from portal.extensions import db
    result = app.test_cli_runner().invoke(args=["api-token", "x", "--channels", "nope"])
    assert result.exit_code != 0
    assert "受理渠道无效" in result.output
    assert db.session.query(ApiToken).count() == 0
    result = app.test_cli_runner().invoke(args=["api-token", "x", "--channels", "hotline", "--branches", "BR-XX"])
    assert result.exit_code != 0 and "BR-XX" in result.output


def test_demo_token_is_issued_once_and_answers_with_chinese_as_utf8(app):
    from portal.api.tokens import DEMO_TOKEN, issue_demo_token
    assert issue_demo_token(user("admin")) == DEMO_TOKEN
    assert issue_demo_token(user("admin")) is None  # seeding again changes nothing
    created = Api(app.test_client(), DEMO_TOKEN).post("/cases", json=CASE)
    assert created.status_code == 201
    assert "待核实" in created.get_data(as_text=True)  # not \\u5f85…: curl shows it as it is


def _branch_id(code: str) -> int:
    from tests.conftest import unit
    return unit(code).id

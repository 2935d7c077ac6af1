"""/admin/api-tokens: an admin issues a token (shown once), narrows its scope, revokes it and
sees its recent calls; the token works exactly as scoped; service accounts stay out of the
user list; staff usernames cannot look like service accounts."""
from __future__ import annotations

import re

import sqlalchemy as sa

from tests.api.conftest import CASE, Api
from tests.conftest import csrf_from, unit

TOKEN = re.compile(r'value="(kp_[a-z0-9]{8}_[A-Za-z0-9]{40})"')


def _issue(admin, **fields):
    data = {"name": "呼叫中心", "channels": ["hotline"], "hq": "y", "rate_per_minute": "60",
            "csrf_token": csrf_from(admin, "/admin/api-tokens/new"), **fields}
    return admin.post("/admin/api-tokens/new", data=data)


def test_issue_show_once_use_edit_revoke(app, as_user):
    from portal.api.models import ApiToken
    from portal.extensions import db
    admin = as_user("admin")
    assert "接口令牌" in admin.get("/admin/users").get_data(as_text=True)  # the tab
    resp = _issue(admin)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    plain = TOKEN.search(html).group(1)
    assert "离开本页后将无法再次查看" in html
    row = db.session.execute(sa.select(ApiToken)).scalar_one()
    # Never shown again: not on the list, not on its page.
    assert plain not in admin.get("/admin/api-tokens").get_data(as_text=True)
    page = admin.get(f"/admin/api-tokens/{row.id}").get_data(as_text=True)
    assert plain not in page and f"kp_{row.prefix}_" in page
    api = Api(app.test_client(), plain)
    assert api.post("/cases", json=CASE).status_code == 201
    assert api.post("/cases", json={**CASE, "channel": "wechat"}).status_code == 403
    # The call shows on the token's page.
    page = admin.get(f"/admin/api-tokens/{row.id}").get_data(as_text=True)
    assert "POST /api/v1/cases" in page and "201" in page and "channel_not_allowed" in page
    # Widen the scope to 微信 in 成都分公司.
    resp = admin.post(f"/admin/api-tokens/{row.id}", data={
        "name": "呼叫中心", "channels": ["hotline", "wechat"], "branch_ids": [str(unit("BR-CD").id)],
        "rate_per_minute": "60", "csrf_token": csrf_from(admin, f"/admin/api-tokens/{row.id}")})
    assert resp.status_code in (302, 303)
    assert api.post("/cases", json={**CASE, "channel": "wechat", "branch_id": unit("BR-CD").id}).status_code == 201
    assert api.post("/cases", json=CASE).status_code == 403  # no longer headquarters
    # Revoke.
    resp = admin.post(f"/admin/api-tokens/{row.id}/revoke",
                      data={"csrf_token": csrf_from(admin, f"/admin/api-tokens/{row.id}")})
    assert resp.status_code in (302, 303)
    assert api.get("/products").status_code == 401
    assert "已吊销" in admin.get("/admin/api-tokens").get_data(as_text=True)
    from portal.signing.models import AuditEvent
    actions = db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.object_type == "api_token")
                                 .order_by(AuditEvent.seq)).scalars().all()
    assert actions == ["api_token_issued", "api_token_changed", "api_token_revoked"]


def test_bad_scope_is_shown_beside_the_field(app, as_user):
    from portal.api.models import ApiToken
    from tests.conftest import count
    admin = as_user("admin")
    resp = _issue(admin, name="", channels=[], hq="", rate_per_minute="0")
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    for message in ("请填写集成名称", "请至少选择一个受理渠道", "请选择总部或至少一个分公司", "每分钟请求数须在 1 到 6000 之间"):
        assert message in html
    assert count(ApiToken) == 0


def test_only_admins(app, as_user):
    assert as_user("desk").get("/admin/api-tokens").status_code == 403


def test_service_accounts_are_not_in_the_user_list(app, as_user):
    admin = as_user("admin")
    _issue(admin, name="微信小程序")
    html = admin.get("/admin/users").get_data(as_text=True)
    assert "svc:api:" not in html and "接口：微信小程序" not in html
    resp = admin.post("/admin/users/new", data={
        "username": "svc:api:99", "name": "冒名", "unit_id": str(unit("HQ").id), "roles": ["desk"],
        "password": "demo12345", "csrf_token": csrf_from(admin, "/admin/users/new")})
    assert resp.status_code == 400 and "用户名不能包含冒号" in resp.get_data(as_text=True)


def test_token_pages_in_english(app, as_user):
    from tests.conftest import leftover_chinese, stored_texts
    admin = as_user("admin")
    html = _issue(admin).get_data(as_text=True)
    row_id = re.search(r"/admin/api-tokens/(\d+)", html).group(1)
    admin.set_cookie("lang", "en")
    for url in ("/admin/api-tokens", f"/admin/api-tokens/{row_id}", "/admin/api-tokens/new"):
        page = admin.get(url).get_data(as_text=True)
        main = re.search(r"<main\b.*?</main>", page, re.S).group(0)  # the language switch says 中文
        assert leftover_chinese(main, stored_texts()) == [], url

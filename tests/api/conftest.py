"""Fixtures of the API tests: tokens issued through the admin operation, an authorised client."""
from __future__ import annotations

import pytest

from tests.conftest import unit, user


def issue(name="呼叫中心", channels=("hotline", "wechat"), branches=("BR-CD",), hq=True, read_only=False,
          rate=600):
    """A token through portal.api.tokens.issue_token, as the admin; returns (row, token string)."""
    from portal.api import tokens
    return tokens.issue_token(user("admin"), {
        "name": name, "channels": list(channels), "branch_ids": [unit(b).id for b in branches], "hq": hq,
        "read_only": read_only, "rate_per_minute": rate})


class Api:
    """The test client with a bearer token on every call."""

    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def _h(self, headers):
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, path, headers=None, **kw):
        return self.client.get(f"/api/v1{path}", headers=self._h(headers), **kw)

    def post(self, path, json=None, headers=None, **kw):
        return self.client.post(f"/api/v1{path}", json=json, headers=self._h(headers), **kw)


@pytest.fixture
def api(app):
    """An Api for a fresh token (hotline and wechat; 成都分公司 and headquarters; 600/min)."""
    from portal.api import ratelimit
    ratelimit.reset_local()
    _row, token = issue()
    return Api(app.test_client(), token)


CASE = {"channel": "hotline", "customer_name": "王秀英", "customer_phone": "13912345678",
        "product_name": "三鲜水饺", "product_spec": "500g/袋", "batch_no": "2026090110100",
        "description": "水饺中吃出一根头发", "demand": "退货并赔偿"}

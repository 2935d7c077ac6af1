"""Helpers for the customer's progress page: the case's link, the page as the customer gets it."""
from __future__ import annotations

import re

import pytest


def link_of(case):
    from portal.customer.links import current_link
    from portal.extensions import db
    db.session.expire_all()
    return current_link(case.id)


def page_path(case) -> str:
    return f"/p/{link_of(case).token}"


def form_token(html: str) -> str:
    # The page's forms carry it; a page without the form still has the session's (hx-headers).
    m = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def version_on(html: str, prefix: str) -> str:
    m = re.search(rf'name="{prefix}-version" type="hidden" value="(\d+)"', html) or \
        re.search(rf'id="{prefix}-version" name="{prefix}-version" type="hidden" value="(\d+)"', html)
    assert m, f"no {prefix} form on the page"
    return m.group(1)


@pytest.fixture
def customer(app):
    """A browser of the customer's: no login, their own cookies."""
    return app.test_client()


@pytest.fixture
def post_as_customer(customer):
    """POST one of the page's forms as the customer's browser does (page first, then the form)."""
    def _post(case, action: str, prefix: str, fields: dict, files=None, version=None):
        path = page_path(case)
        html = customer.get(path).get_data(as_text=True)
        data = {"csrf_token": form_token(html),
                f"{prefix}-version": version if version is not None else version_on(html, prefix)}
        data.update({f"{prefix}-{k}" if not k.startswith("!") else k[1:]: v for k, v in fields.items()})
        if files:
            data.update(files)
        return customer.post(f"{path}/{action}", data=data, content_type="multipart/form-data")
    return _post

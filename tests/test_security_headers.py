"""Security headers and caching by kind of response: everything about customers is private
(photos and PDFs too), static files stay public, every page carries the CSP."""
from __future__ import annotations

import io
import re

import pytest
from werkzeug.datastructures import FileStorage

from tests.conftest import jpeg_bytes, make_case, make_case_at

PRIVATE = "private, no-store"


def case_with_photo():
    from portal.cases.evidence import store_upload
    return make_case("rep_cd", files=[store_upload(FileStorage(io.BytesIO(jpeg_bytes()), filename="现场.jpg"))])


def file_urls(client, case) -> dict[str, str]:
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    return {m.group(2): m.group(0) for m in re.finditer(rf"/cases/{case.number}/files/(\d+)/(\w+)", page)}


def assert_hardened(resp):
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"


def assert_csp(resp):
    csp = resp.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'self'" and directives["object-src"] == "'none'"
    assert "unsafe" not in csp


def test_case_page_and_its_fragment_are_private_and_carry_the_csp(app, as_user):
    case = make_case()
    desk = as_user("desk")
    for resp in (desk.get(f"/cases/{case.number}"),
                 desk.get(f"/cases/{case.number}/main", headers={"HX-Request": "true"})):
        assert resp.status_code == 200
        assert resp.headers["Cache-Control"] == PRIVATE
        assert_hardened(resp)
        assert_csp(resp)


@pytest.mark.parametrize("url", ["/auth/login", "/work", "/cases/", "/cases/new"])
def test_every_main_page_is_private_with_the_csp(app, as_user, url):
    client = as_user("rep_cd") if url != "/auth/login" else app.test_client()
    resp = client.get(url)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == PRIVATE and "Expires" not in resp.headers
    assert_hardened(resp)
    assert_csp(resp)


def test_customer_photos_are_never_public(app, as_user):
    case = case_with_photo()
    desk = as_user("desk")
    urls = file_urls(desk, case)
    assert {"thumb", "preview"} <= set(urls)

    original = desk.get(urls["thumb"].replace("/thumb", "/original"))
    assert original.status_code == 200 and original.mimetype == "image/jpeg"
    assert original.headers["Cache-Control"] == PRIVATE
    assert "Expires" not in original.headers
    assert_hardened(original)

    # Thumbnails: the same browser may reuse them a few minutes, no shared cache ever.
    for variant in ("thumb", "preview"):
        resp = desk.get(urls[variant])
        assert resp.status_code == 200
        cache = [d.strip() for d in resp.headers["Cache-Control"].split(",")]
        assert "private" in cache and "public" not in cache
        assert max(int(d.split("=")[1]) for d in cache if d.startswith("max-age=")) <= 600
        assert "Expires" not in resp.headers


def test_signed_pdf_is_private(app, as_user):
    case = make_case_at("closed")
    resp = as_user("desk").get(f"/cases/{case.number}/signoff.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    assert resp.headers["Cache-Control"] == PRIVATE
    assert_hardened(resp)


def test_refusals_are_private_too(app, as_user):
    case = make_case("rep_cd")
    resp = as_user("rep_bj").get(f"/cases/{case.number}")  # another branch
    assert resp.status_code == 404 and resp.headers["Cache-Control"] == PRIVATE


def test_static_files_stay_public(app, as_user):
    from flask import url_for
    page = as_user("desk").get("/work").get_data(as_text=True)
    css = re.search(r'href="(/static/css/portal[^"]*\.css)"', page).group(1)
    resp = app.test_client().get(css)
    assert resp.status_code == 200
    cache = resp.headers["Cache-Control"]
    assert "public" in cache and "private" not in cache and "no-store" not in cache


def test_pages_have_no_inline_script_or_style(app, as_user):
    """What the CSP would block: script elements with code, style attributes or elements,
    inline event handlers (the browser test checks the same in Chromium)."""
    case = case_with_photo()
    admin = as_user("admin")
    desk = as_user("desk")
    pages = [desk.get(u).get_data(as_text=True) for u in ("/work", "/cases/", f"/cases/{case.number}")]
    pages += [admin.get(u).get_data(as_text=True) for u in ("/admin/users", "/admin/units")]
    pages.append(app.test_client().get("/auth/login").get_data(as_text=True))
    for html in pages:
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert not re.search(r"<style\b|\sstyle=\"|\son[a-z]+=\"", html)

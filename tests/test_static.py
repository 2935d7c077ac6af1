"""Static files under content-hashed names, cached for a year; pages compressed on the wire."""
from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import brotli

from tests.conftest import make_case

ROOT = Path(__file__).resolve().parent.parent
STATIC_REF = re.compile(r'(?:href|src)="(/static/[^"]+)"')
HASHED = re.compile(r"\.[0-9a-f]{10}\.\w+$")


def _static_refs(html: str) -> list[str]:
    return STATIC_REF.findall(html)


def test_pages_reference_hashed_static_names(client, as_user):
    login_refs = _static_refs(client.get("/auth/login").get_data(as_text=True))
    desk = as_user("desk")
    list_refs = _static_refs(desk.get("/cases/").get_data(as_text=True))
    for refs in (login_refs, list_refs):
        names = {r.rsplit("/", 1)[1] for r in refs}
        assert any(n.startswith("portal.") and n.endswith(".css") for n in names), refs
        assert any(n.startswith("htmx.min.") for n in names), refs
        for ref in refs:
            assert HASHED.search(ref), f"{ref} is not content-hashed"


def test_hashed_static_is_immutable_for_a_year_and_is_the_file(client):
    html = client.get("/auth/login").get_data(as_text=True)
    js = next(r for r in _static_refs(html) if "/js/portal." in r)
    resp = client.get(js)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "javascript" in resp.content_type
    assert resp.data == (ROOT / "static/js/portal.js").read_bytes()
    # No Vary: Cookie: a changed session cookie must not make the browser fetch it again.
    assert "cookie" not in resp.headers.get("Vary", "").lower()
    assert "Set-Cookie" not in resp.headers
    # The hash is of the content: another content would have another name.
    digest = hashlib.sha256(resp.data).hexdigest()[:10]
    assert js.endswith(f".{digest}.js")


def test_font_sheet_points_at_hashed_font_files_that_are_served(client):
    html = client.get("/auth/login").get_data(as_text=True)
    sheet = next(r for r in _static_refs(html) if "noto-sans-sc" in r)
    resp = client.get(sheet)
    css = resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"].endswith("immutable")
    urls = re.findall(r"url\(([^)]+)\)", css)
    assert len(urls) > 100
    assert all(HASHED.search(u) for u in urls), [u for u in urls if not HASHED.search(u)][:3]
    first = urls[0]
    font = client.get(sheet.rsplit("/", 1)[0] + "/" + first.removeprefix("./"))
    assert font.status_code == 200
    assert font.headers["Content-Type"] == "font/woff2"
    assert font.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    plain = re.sub(r"\.[0-9a-f]{10}(\.woff2)$", r"\1", first.removeprefix("./"))
    assert font.data == (ROOT / "static/fonts/noto-sans-sc" / plain).read_bytes()


def test_plain_static_names_still_work_but_revalidate(client):
    resp = client.get("/static/js/portal.js")
    assert resp.status_code == 200
    assert resp.data == (ROOT / "static/js/portal.js").read_bytes()
    assert "immutable" not in resp.headers["Cache-Control"]
    assert client.get("/static/css/no-such-file.css").status_code == 404
    etag = resp.headers["ETag"]
    assert client.get("/static/js/portal.js", headers={"If-None-Match": etag}).status_code == 304


def test_text_assets_are_sent_compressed(client):
    html = client.get("/auth/login").get_data(as_text=True)
    sheet = next(r for r in _static_refs(html) if "noto-sans-sc" in r)
    plain = client.get(sheet).data
    gz = client.get(sheet, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(gz.data) == plain
    br = client.get(sheet, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br"
    assert brotli.decompress(br.data) == plain
    assert len(br.data) < len(plain) / 4


def test_pages_are_compressed_when_the_browser_accepts_it(as_user):
    desk = as_user("desk")
    plain = desk.get("/cases/")
    assert "Content-Encoding" not in plain.headers
    resp = desk.get("/cases/", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "accept-encoding" in resp.headers.get("Vary", "").lower()
    body = gzip.decompress(resp.data).decode()
    assert "投诉列表" in body
    assert len(resp.data) < len(body.encode()) / 2
    br = desk.get("/work", headers={"Accept-Encoding": "br"})
    assert br.headers["Content-Encoding"] == "br"
    assert "我的待办" in brotli.decompress(br.data).decode()


def test_file_downloads_are_not_recompressed(as_user, app):
    import io
    from werkzeug.datastructures import FileStorage
    from portal.cases.evidence import store_upload
    from tests.conftest import jpeg_bytes
    stored = store_upload(FileStorage(io.BytesIO(jpeg_bytes()), filename="photo.jpg"))
    case = make_case("rep_cd", files=[stored])
    desk = as_user("desk")
    page = desk.get(f"/cases/{case.number}").get_data(as_text=True)
    m = re.search(rf'/cases/{case.number}/files/\d+/\w+', page)
    assert m, "no file link on the case page"
    resp = desk.get(m.group(0), headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200
    assert "Content-Encoding" not in resp.headers


def test_font_sheet_one_weight_and_the_device_font_first(client):
    """Each Chinese page needs many unicode-range slices: a second weight would double the
    downloads and font decodes; a late slice swaps in (never boxes: tests/e2e/test_fonts.py)."""
    html = client.get("/auth/login").get_data(as_text=True)
    sheet = next(r for r in _static_refs(html) if "noto-sans-sc" in r)
    css = client.get(sheet).get_data(as_text=True)
    faces = re.findall(r"@font-face \{(.*?)\}", css, re.S)
    assert len(faces) > 90
    for face in faces:
        assert "font-display: swap;" in face
        assert "font-weight: 400;" in face
        assert face.split("src:", 1)[1].strip().startswith('local("Noto Sans SC")')


def test_pages_do_not_resend_an_unchanged_session_cookie(as_user):
    """Re-signing the session cookie on every response cost CPU per page (and defeats caches)."""
    desk = as_user("desk")
    desk.get("/cases/")
    for path in ("/cases/", "/work"):
        resp = desk.get(path)
        assert resp.status_code == 200
        assert not any(h.startswith("session=") for h in resp.headers.getlist("Set-Cookie")), path
    # The session still works, and logging out still ends it.
    assert "投诉列表" in desk.get("/cases/").get_data(as_text=True)

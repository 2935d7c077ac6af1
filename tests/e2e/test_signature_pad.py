"""The signature pad in Chromium: a leader writes a signature with a finger on a phone (touch
events, as the screen sends them) and with the mouse on a desktop; the page keeps still while
they write, and the stored image holds the strokes, cropped to the ink."""
from __future__ import annotations

from PIL import Image
from playwright.sync_api import expect

from tests.conftest import user
from tests.e2e.conftest import PHONE
from tests.e2e.test_accessibility import DESKTOP, serious_violations


def stored_signature():
    from portal.cases import evidence
    from portal.cases.models import Attachment
    from portal.extensions import db
    db.session.expire_all()
    att = db.session.get(Attachment, user("leader_prod1").signature_image_id)
    return Image.open(evidence.original_path(att.stored_name))


def pad_box(page):
    canvas = page.locator("canvas.pad")
    canvas.scroll_into_view_if_needed()
    return canvas.bounding_box()


def zigzag(box, n=12):
    """A scrawl across the middle of the pad, in page coordinates."""
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    return [(x0 + w * (0.1 + 0.8 * i / (n - 1)), y0 + h * (0.35 if i % 2 else 0.65)) for i in range(n)]


def ink_width(img) -> int:
    left, _top, right, _bottom = img.getchannel("A").getbbox()
    return right - left


def test_leader_writes_a_signature_with_a_finger_on_a_phone(app, login_as):
    page = login_as("leader_prod1", **PHONE)
    page.goto("/profile")
    expect(page.get_by_text("尚未设置手写签名")).to_be_visible()
    assert not serious_violations(page)

    # Saving an empty pad is refused in the page, before anything is sent.
    page.get_by_role("button", name="保存手写签名").click()
    expect(page.locator(".pad-error")).to_have_text("请先在签名板上写下您的签名。")
    assert page.url.endswith("/profile")

    box = pad_box(page)
    scrolled = page.evaluate("window.scrollY")
    cdp = page.context.new_cdp_session(page)
    points = zigzag(box)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
    for x, y in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    # touch-action: none — the finger wrote instead of scrolling the page.
    assert page.evaluate("window.scrollY") == scrolled
    expect(page.locator(".pad-error")).to_be_hidden()

    page.get_by_role("button", name="保存手写签名").click()
    expect(page.get_by_text("已保存手写签名")).to_be_visible()
    expect(page.get_by_alt_text("当前的手写签名")).to_be_visible()
    # Visible is not loaded: wait until the image has arrived and decoded (a broken one never does).
    # A function, not an expression: polling an expression needs eval, which the CSP forbids.
    page.wait_for_function("() => { const i = document.querySelector('img.signature-image');"
                           " return i && i.complete && i.naturalWidth > 0; }")

    img = stored_signature()
    assert img.mode == "RGBA"
    # The stroke crossed 80 % of the pad (≈ 280 CSS px, kept at twice that), cropped to the
    # ink with a small margin: nearly all of the image's width is ink.
    assert ink_width(img) > 400 and ink_width(img) > 0.9 * img.width
    assert not serious_violations(page)


def test_signature_written_with_the_mouse_on_a_desktop(app, login_as):
    page = login_as("leader_prod1", **DESKTOP)
    page.goto("/profile")
    points = zigzag(pad_box(page))
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()
    page.get_by_role("button", name="清除").click()  # a slip: start again
    page.get_by_role("button", name="保存手写签名").click()
    expect(page.locator(".pad-error")).to_be_visible()
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:6]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()
    page.get_by_role("button", name="保存手写签名").click()
    expect(page.get_by_alt_text("当前的手写签名")).to_be_visible()
    img = stored_signature()
    # Only the second, shorter scrawl (about 40 % of the pad) was kept.
    assert 0.3 * pad_box(page)["width"] * 2 < ink_width(img) < 0.6 * pad_box(page)["width"] * 2
    assert not serious_violations(page)

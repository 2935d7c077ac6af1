"""Browser tests: Debian's Chromium (never a downloaded browser) against the real app served
by Werkzeug in a thread, on the same freshly seeded database as the rest of the suite."""
from __future__ import annotations

import io
import os
import re
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "demo1234"
E2E_DIR = Path(__file__).resolve().parent

# Playwright's own waits (expect(...), locators) give up after this many milliseconds.
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"browser tests need Debian's Chromium at {CHROMIUM} "
                                   "(apt-get install chromium); it is missing")
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Override pytest-playwright: launch the system Chromium, headless, with no phoning home."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}")
    return {"executable_path": CHROMIUM, "headless": True, "args": list(CHROMIUM_ARGS)}


@pytest.fixture(scope="session", autouse=True)
def _expect_timeout():
    from playwright.sync_api import expect
    expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
def live_server(app):
    """The test's `app` (wiped and seeded database) served on a free port; yields the base URL."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)  # port 0: the OS picks a free one
    # shutdown() waits until serve_forever next looks at its flag: once per poll_interval (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 3}


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def login_as(browser, live_server):
    """`login_as("desk")` → a page in a browser context of its own, logged in as that demo user
    and on the page the login lands on (我的待办).

    Keyword arguments go to `browser.new_context` (e.g. `**PHONE`). Contexts close at teardown.

    The login form is posted by the context's own request client (it shares the context's
    cookies), as the form would post it: the CSRF token read from the login page, the same
    fields; the page then opens where the login redirected to. Drawing the login page in the
    browser and typing into it cost each login about half a second and told nothing new.
    `via_form=True` logs in through the form in the page, as a person does (test_my_work and
    test_dispatch_phone keep doing so on a desktop and on a phone)."""
    contexts = []

    def _login(username: str, password: str = PASSWORD, *, via_form: bool = False, **context_args):
        context = browser.new_context(base_url=live_server, locale="zh-CN",
                                      timezone_id="Asia/Shanghai", **context_args)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        if via_form:
            page.goto("/auth/login")
            page.fill("#username", username)
            page.fill("#password", password)
            page.locator("form button[type=submit]").click()
        else:
            form = context.request.get("/auth/login")
            assert form.ok, form.status
            token = CSRF_RE.search(form.text())
            assert token, "no CSRF token on /auth/login"
            resp = context.request.post("/auth/login", max_redirects=0, form={
                "csrf_token": token.group(1), "username": username, "password": password})
            assert resp.status in (302, 303), (resp.status, resp.text()[:300])
            page.goto(resp.headers["location"])  # "/", which redirects to 我的待办
        page.wait_for_url(re.compile(r"/work"))
        return page

    yield _login
    for context in contexts:
        context.close()


# ---------------------------------------------------------------- helpers for the tests

def noisy_jpeg(path: Path, size=(1600, 1200), quality=92) -> Path:
    """A JPEG of random noise (about 1.5 MB: JPEG cannot shrink noise), so an upload takes a while."""
    from PIL import Image
    img = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    path.write_bytes(buf.getvalue())
    return path


def platform_fonts(context, page, selector: str) -> list[dict]:
    """The fonts Chromium really used to draw the node's text (not what CSS asked for)."""
    cdp = context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"{selector} not found"
        return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()


def drawn_by_noto(context, page, selector: str) -> dict:
    """Wait until Chromium draws the node's text with the shipped Noto Sans SC (on a machine
    without a CJK font, js/webfont.js adds its slices after the first paint; until then the
    placeholder face draws it); the faces that drew it, with their glyph counts."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        fonts = platform_fonts(context, page, selector)
        used = {f["familyName"]: f["glyphCount"] for f in fonts}
        if fonts and all(f["isCustomFont"] and "Noto Sans SC" in f["familyName"] for f in fonts):
            return used
        assert time.monotonic() < deadline, f"{selector} still drawn by {used}"
        page.wait_for_timeout(100)


# htmx 2 marks an element while its request is in flight (or the hx-indicator it names), and
# the target while the response is swapped into it and then settled (20 ms).
HTMX_BUSY = ".htmx-request, .htmx-swapping, .htmx-settling"


def settle(page) -> None:
    """Wait until the page is loaded and htmx is done with it: no request in flight, nothing
    being swapped or settled. What networkidle was used for, without its 500 ms of silence.

    htmx issues the `load`-triggered requests (the 我的待办 and bell badges) at
    DOMContentLoaded, before the `load` event, and marks the element in the same task; a
    response is swapped, and its settle started, in the task that ends its request. So once
    `load` has fired, at no moment between tasks is an htmx request unfinished without one of
    these classes in the document."""
    page.wait_for_load_state("load")
    # A function, not an expression: the page's Content-Security-Policy forbids eval of a string.
    page.wait_for_function("busy => !document.querySelector(busy)", arg=HTMX_BUSY)


def state_pill(page):
    """The state label in the case header (the first pill)."""
    return page.locator("#case-main .case-head .pill").first


def panel(page, action: str):
    return page.locator(f"#panel-{action}")


def submit_panel(page, action: str, button: str | None = None):
    """Click the panel's (named) submit button and wait for htmx to swap in the new case body."""
    form = panel(page, action).locator("form")
    btn = form.get_by_role("button", name=button) if button else form.locator("button[type=submit]").first
    with page.expect_response(lambda r: "/act/" in r.url and r.request.method == "POST"):
        btn.click()

"""The Content-Security-Policy in a real Chromium: the main pages, an htmx panel action, the
list's htmx search, photo previews, the countdown words and a confirm dialog all work
without a single violation (no inline script, style or eval is left for the CSP to block)."""
from __future__ import annotations

import io

from playwright.sync_api import expect

from tests.conftest import jpeg_bytes, make_case, user
from tests.e2e.conftest import PASSWORD, PHONE, TIMEOUT_MS, panel, state_pill, submit_panel

# Every document records the violations the browser reports (init scripts are not subject
# to the page's CSP), besides the console errors Chromium prints for them.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber));
"""


class Watch:
    """Console errors and JavaScript exceptions of one page, and its CSP violations."""

    def __init__(self, page):
        self.page, self.errors = page, []
        page.context.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"exception: {e}"))

    def assert_clean(self, where: str):
        violations = self.page.evaluate("window.__csp || []")
        csp_console = [e for e in self.errors if "Content Security Policy" in e or e.startswith("exception")]
        assert not violations and not csp_console, f"{where}: {violations} {csp_console}"


def test_main_pages_run_under_the_csp_without_violations(app, browser, live_server, login_as, tmp_path):
    number = make_case("rep_cd").number

    # The login page, and a failed login, before anyone is signed in.
    context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(TIMEOUT_MS)
    anon = context.new_page()
    watch = Watch(anon)
    first = anon.goto("/auth/login")
    assert "default-src 'self'" in first.headers["content-security-policy"]
    anon.fill("#username", "desk")
    anon.fill("#password", "wrong")
    anon.locator("form button[type=submit]").click()
    expect(anon.locator(".alert-error")).to_have_text("用户名或密码不正确。")
    watch.assert_clean("login")
    context.close()

    # The desk: my work (badge by htmx, countdowns by portal.js), the list and its htmx search,
    # the case page and an htmx panel action.
    desk = login_as("desk")
    watch = Watch(desk)
    desk.goto("/work")
    expect(desk.locator("#work-badge")).not_to_be_empty()
    expect(desk.locator("[data-due]").first).to_contain_text("剩余")  # the words came from the JSON block
    watch.assert_clean("my work")

    desk.goto("/cases/")
    with desk.expect_response(lambda r: "/cases/" in r.url and r.request.headers.get("hx-request") == "true"):
        desk.locator("#q").fill(number)
    expect(desk.locator("#filters ~ * a", has_text=number).first).to_be_visible()
    watch.assert_clean("case list")

    desk.goto(f"/cases/{number}")
    p = panel(desk, "verify")
    p.locator("#verify-validity-0").check()
    p.locator("#verify-kind").select_option(label="投诉")
    p.locator("#verify-klass").select_option(label="一般")
    p.locator("#verify-category_id").select_option(label="产品质量 / 异物")
    submit_panel(desk, "verify")
    expect(state_pill(desk)).to_have_text("待分派")
    watch.assert_clean("case page and the verify panel")

    # A rep on a phone: the intake form previews a chosen photo from a blob: URL.
    rep = login_as("rep_cd", **PHONE)
    watch = Watch(rep)
    rep.goto("/cases/new")
    photo = tmp_path / "现场.jpg"
    photo.write_bytes(jpeg_bytes())
    rep.set_input_files("#photos", str(photo))
    rep.wait_for_function("() => { const i = document.querySelector('#photo-previews img');"
                          " return i && i.complete && i.naturalWidth > 0; }")
    watch.assert_clean("intake")

    # The admin: the unit tree's indent (was a style attribute) and the confirm before a
    # deactivation (was an onsubmit attribute).
    admin = login_as("admin")
    watch = Watch(admin)
    admin.goto("/admin/units")
    pads = admin.eval_on_selector_all(
        "table.list tbody td:first-child",
        "tds => tds.map(td => parseFloat(getComputedStyle(td).paddingLeft))")
    assert len(set(pads)) > 1, pads  # deeper units are indented further
    admin.goto(f"/admin/users/{user('rep_zz').id}")
    asked = []
    admin.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    admin.get_by_role("button", name="停用此用户").click()
    expect(admin.get_by_role("button", name="停用此用户")).to_be_visible()
    assert asked == ["停用后该用户将立即退出，不能再登录。确定停用吗？"]
    assert user("rep_zz").active  # dismissed: nothing was posted
    watch.assert_clean("admin")

"""Chinese is drawn in the shipped font even when its slices arrive late (slow network, a
machine with no CJK font of its own): a late slice must replace the fallback, never leave
boxes (豆腐块) for the rest of the page's life."""
from __future__ import annotations

import time

from tests.e2e.conftest import PHONE, TIMEOUT_MS, platform_fonts


def test_late_font_slices_still_draw_the_chinese(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="zh-CN", **PHONE)
    context.set_default_timeout(TIMEOUT_MS)

    def slow_font(route):
        time.sleep(0.4)  # far past the ~100 ms a browser waits before drawing with a fallback
        route.continue_()

    context.route("**/static/fonts/**", slow_font)
    try:
        page = context.new_page()
        page.goto("/auth/login")
        page.evaluate("document.fonts.ready")
        page.wait_for_function("[...document.fonts].some(f => f.status === 'loaded')")
        page.wait_for_timeout(300)  # the swap is painted
        fonts = platform_fonts(context, page, "h1")
        used = {f["familyName"]: f["glyphCount"] for f in fonts}
        assert fonts and all(f["isCustomFont"] and "Noto Sans SC" in f["familyName"] for f in fonts), used
        assert sum(used.values()) == len("客诉处理门户"), used
    finally:
        context.close()

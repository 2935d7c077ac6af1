"""Chinese on a machine with no CJK font of its own (like this one): the page is drawn at once,
with the placeholder face, and the shipped Noto Sans SC slices it needs arrive after the first
paint, all together, without moving anything on the page and never leaving boxes (豆腐块)."""
from __future__ import annotations

import time

from tests.e2e.conftest import PHONE, TIMEOUT_MS, drawn_by_noto

HEADING = "客诉处理门户"

# The layout shifts of the page's content (<main>; the navigation's badges fill in by themselves),
# with their times.
OBSERVE = """
  window.__shifts = [];
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) {
      if ((e.sources || []).some(s => s.node && s.node.closest && s.node.closest('main'))) window.__shifts.push([e.startTime, e.value]);
    }
  }).observe({type: 'layout-shift', buffered: true});
"""


def _slow_fonts(context, requested: list):
    def slow(route):
        if "/noto-sans-sc/files/" in route.request.url:
            requested.append(time.monotonic())
            time.sleep(0.4)  # far past the ~100 ms a browser waits before drawing with a fallback
        route.continue_()
    context.route("**/static/fonts/**", slow)


def test_late_font_slices_still_draw_the_chinese(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="zh-CN", **PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    requested: list[float] = []
    _slow_fonts(context, requested)
    try:
        page = context.new_page()
        page.goto("/auth/login")
        used = drawn_by_noto(context, page, "h1")
        assert sum(used.values()) == len(HEADING), used
        assert requested, "no Noto Sans SC slice was fetched"
    finally:
        context.close()


def test_the_page_is_drawn_first_and_does_not_move_when_the_chinese_face_arrives(
        browser, live_server, login_as):
    page = login_as("desk", **PHONE)
    context = page.context
    requested: list[float] = []
    _slow_fonts(context, requested)
    context.add_init_script(OBSERVE)
    page.goto("/cases/new")
    drawn_by_noto(context, page, "h1")
    assert requested, "no Noto Sans SC slice was fetched"
    # The page was drawn (by the placeholder: a bar per character, as wide as the real glyph)
    # before any slice was even asked for: its text never waited for a font file.
    fcp, first_slice = page.evaluate("""() => [
      performance.getEntriesByName('first-contentful-paint')[0].startTime,
      Math.min(...performance.getEntriesByType('resource')
        .filter(r => r.name.includes('/noto-sans-sc/files/')).map(r => r.startTime))]""")
    assert fcp < first_slice, (fcp, first_slice)
    page.wait_for_timeout(300)  # the new glyphs are painted
    # Nothing moved when the slices came: the placeholder's glyphs have Noto's widths and
    # vertical metrics.
    shifts = page.evaluate("window.__shifts")
    assert sum(v for t, v in shifts if t >= first_slice) < 0.005, (first_slice, shifts)


def test_the_placeholder_draws_chinese_as_wide_as_the_real_face(browser, live_server):
    """The placeholder (static/fonts/placeholder) has Noto's advance for every character the
    slices cover: a line of Chinese is as long in both faces."""
    context = browser.new_context(base_url=live_server, locale="zh-CN", **PHONE)
    try:
        page = context.new_page()
        page.goto("/auth/login")
        drawn_by_noto(context, page, "h1")  # webfont.js has added the slices
        widths = page.evaluate("""async () => {
          // The page's own Chinese, punctuation included: webfont.js loaded the slices for it.
          const text = [...document.body.innerText].filter(c => /[\u2e80-\u9fff\uff00-\uff60]/.test(c)).join('');
          await document.fonts.load('20px "Portal CJK Placeholder"', text);
          const span = document.createElement('span');
          span.textContent = text; span.style.fontSize = '20px'; span.style.whiteSpace = 'nowrap';
          document.body.appendChild(span);
          span.style.fontFamily = '"Portal CJK Placeholder"'; const a = span.getBoundingClientRect().width;
          span.style.fontFamily = '"Noto Sans SC"'; const b = span.getBoundingClientRect().width;
          return [a, b, text.length * 20];
        }""")
        assert widths[2] >= 20 * 10, widths  # the login page has ten Chinese characters or more
        assert abs(widths[0] - widths[1]) < 0.5 and abs(widths[0] - widths[2]) < 0.5, widths
    finally:
        context.close()

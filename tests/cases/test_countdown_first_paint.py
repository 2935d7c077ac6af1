"""The countdown is in the page as sent (issue 10 item 23): portal.js's first tick must not
rewrite "2026-12-01 14:22" into "剩余 1天23小时" after the first paint, which re-wrapped the
case head and shifted the whole case page on phones (Lighthouse CLS 0.23)."""
import re
from datetime import timedelta

from portal import clock
from portal.cases.present import countdown
from tests.conftest import make_case

DUE = re.compile(r'<span class="due[^"]*" data-due="[^"]+" title="[^"]+">([^<]*)</span>')


def test_case_page_and_list_are_sent_with_the_countdown_text(app, as_user):
    case = make_case()
    desk = as_user("desk")
    left = (clock.as_utc(case.due_at) - clock.utcnow()).total_seconds() / 60
    for path in (f"/cases/{case.number}", "/cases/"):
        shown = DUE.findall(desk.get(path).get_data(as_text=True))
        assert shown, path
        # The words portal.js writes, give or take the minute that passed meanwhile.
        assert shown[0] in {countdown(round(left) + k, "zh_CN")[0] for k in (-1, 0, 1)}, (path, shown)
        assert shown[0].startswith("剩余 "), shown


def test_countdown_words_match_portal_js():
    assert countdown(65, "zh_CN") == ("剩余 1小时5分", "")
    assert countdown(59, "zh_CN") == ("剩余 59分", " due-soon")
    assert countdown(1440 * 2 + 180, "zh_CN") == ("剩余 2天3小时", "")
    assert countdown(-120, "zh_CN") == ("已超时 2小时0分", " overdue")

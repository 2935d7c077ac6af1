""""My work": the navigation badge counts what waits for me, due times count down live (issue 3)."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import make_case
from tests.e2e.conftest import panel, state_pill, submit_panel

COUNTDOWN = re.compile(r"^(剩余|已超时) (\d+天)?(\d+小时)?(\d+分)?$")


def minutes(text: str) -> int:
    """Signed minutes left in a countdown text: 剩余 1小时5分 → 65, 已超时 2小时0分 → -120."""
    m = COUNTDOWN.match(text)
    assert m, text
    d, h, mi = (int(re.sub(r"\D", "", g)) if g else 0 for g in m.groups()[1:])
    total = d * 1440 + h * 60 + mi
    return -total if m.group(1) == "已超时" else total


def countdown_text(left: int) -> str:
    """What static/js/portal.js shows for `left` minutes."""
    a = abs(left)
    d, h, m = a // 1440, (a % 1440) // 60, a % 60
    text = (f"{d}天" if d else "") + (f"{h}小时" if h else "") + ("" if d else f"{m}分")
    return ("已超时 " if left < 0 else "剩余 ") + text


def test_badge_counts_and_countdowns_run(app, login_as):
    from portal.cases.models import Case
    from portal.clock import utcnow
    from portal.extensions import db
    fresh = make_case("rep_cd", customer_name="王秀英").number
    late = make_case("rep_cd", customer_name="李娜").number
    # The second one has been waiting for verification longer than its limit.
    db.session.execute(sa.update(Case).where(Case.number == late)
                       .values(due_at=utcnow() - timedelta(hours=2)))
    db.session.commit()

    desk = login_as("desk", via_form=True)  # the login form, as a person signs in; lands on 我的待办
    expect(desk.locator("#work-badge .badge")).to_have_text("2")
    rows = desk.locator("#work-table tbody tr")
    expect(rows).to_have_count(2)
    # Nearest (here: overdue) first, highlighted, with a countdown computed in the browser.
    expect(rows.nth(0)).to_contain_text(late)
    late_due = rows.nth(0).locator("[data-due]")
    expect(late_due).to_have_text(re.compile(r"^已超时 (1小时5\d分|2小时0分)$"))
    expect(late_due).to_have_class(re.compile(r"\boverdue\b"))
    fresh_due = rows.nth(1).locator("[data-due]")
    expect(fresh_due).to_have_text(COUNTDOWN)
    expect(fresh_due).to_have_text(re.compile(r"^剩余 "))
    expect(fresh_due).not_to_have_class(re.compile(r"\boverdue\b"))

    # Acting on a case refreshes the badge through htmx (HX-Trigger: work-changed), no reload.
    rows.nth(1).get_by_role("link", name=fresh).click()
    desk.wait_for_url(f"**/cases/{fresh}")
    expect(desk.locator("#work-badge .badge")).to_have_text("2")
    expect(desk.locator(".case-head [data-due]")).to_have_text(COUNTDOWN)
    p = panel(desk, "verify")
    p.locator("#verify-validity-1").check()  # 不成立
    p.locator("#verify-reason").fill("产品已超过保质期，顾客已知悉")
    desk.evaluate("window.__sameDocument = true")
    submit_panel(desk, "verify")
    expect(state_pill(desk)).to_have_text("不予受理")
    expect(desk.locator("#work-badge .badge")).to_have_text("1")
    assert desk.evaluate("window.__sameDocument === true")  # it was not a page load

    # Someone else's badge is their own: the rep has nothing waiting.
    rep = login_as("rep_cd")
    expect(rep.locator("#work-table, .card.muted").first).to_be_visible()
    expect(rep.locator("#work-badge .badge")).to_have_count(0)
    expect(rep.locator("#main")).to_contain_text("暂无待办")

    # The countdown keeps running on an open page: let ten minutes pass on the browser's clock.
    desk.clock.install()
    desk.goto("/work")
    due = desk.locator("#work-table [data-due]")
    expect(due).to_have_count(1)
    expect(due).to_have_text(COUNTDOWN)
    before = minutes(due.inner_text())
    desk.clock.fast_forward("10:00")
    later = "|".join(re.escape(countdown_text(before - n)) for n in (10, 11))
    expect(due).to_have_text(re.compile(f"^({later})$"))

"""An administrator edits time limits and the holiday calendar in the browser; bad input is
refused with a Chinese message beside the field and nothing is saved; the next case's due time
follows what was saved."""
from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa

from portal.cases.enums import Channel, Klass
from portal.clock import SHANGHAI
from portal.extensions import db
from portal.signing.models import AuditEvent
from portal.sla.enums import DayKind
from portal.sla.models import Holiday, SlaPolicy
from portal.sla.policy import resolve, step_due
from portal.steps import Clock, Step
from tests.conftest import csrf_from


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def policy_form(**overrides) -> dict:
    data = {"target": "step:investigate", "klass": "major", "channel": "", "minutes": "90",
            "calendar": "working", "reminder_percents": "50, 80", "breach_action": "escalate",
            "repeat_minutes": "", "active": "y"}
    data.update(overrides)
    return data


def online_due(start: datetime) -> datetime:
    """The due time of an online complaint's verification as a new request would compute it
    (each request reads the holiday calendar once, in its own app context)."""
    from flask import current_app
    with current_app.app_context():
        return step_due(Step.VERIFY, start, None, Channel.WECHAT)


def fresh(fn, *args):
    """`fn(*args)` as the next request or job sees it: each reads the policies once, in its own
    app context."""
    from flask import current_app
    with current_app.app_context():
        return fn(*args)


def policies() -> int:
    return db.session.execute(sa.select(sa.func.count(SlaPolicy.id))).scalar()


def test_admin_adds_a_class_rule_and_cases_follow_it(as_user):
    client = as_user("admin")
    page = client.get("/admin/sla").get_data(as_text=True)
    assert "时限规则" in page and "跟进进度" in page and "结案后回访" in page  # the case clocks are listed
    token = csrf_from(client, "/admin/sla/new")
    resp = client.post("/admin/sla/new", data={**policy_form(), "csrf_token": token})
    assert resp.status_code == 303
    limit = fresh(resolve, Step.INVESTIGATE, Klass.MAJOR)
    assert (limit.minutes, limit.calendar, limit.reminder_percents) == (90, "working", (50, 80))
    # Friday 17:00 + 90 working minutes = Monday 09:30; other classes keep 4 h round the clock.
    assert fresh(step_due, Step.INVESTIGATE, sh(2026, 11, 27, 17, 0), Klass.MAJOR) == sh(2026, 11, 30, 9, 30).astimezone(timezone.utc)
    assert fresh(resolve, Step.INVESTIGATE, Klass.MINOR).minutes == 240
    page = client.get("/admin/sla").get_data(as_text=True)
    assert "90 分钟" in page and "工作时间" in page
    event = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())).scalars().first()
    assert event.action == "sla_policy_created" and event.after["minutes"] == 90


def test_bad_limits_are_refused_beside_the_field_and_nothing_is_saved(as_user):
    client = as_user("admin")
    token = csrf_from(client, "/admin/sla/new")
    before = policies()
    cases = [
        ({"minutes": "-5"}, "时限不能为负数"),
        ({"minutes": "abc"}, "时限须是分钟数"),
        ({"reminder_percents": "80, 50"}, "提醒点须是 1 到 99 之间的整数百分比"),
        ({"reminder_percents": "50, 50"}, "提醒点须是 1 到 99 之间的整数百分比"),
        ({"reminder_percents": "0, 100"}, "提醒点须是 1 到 99 之间的整数百分比"),
        ({"breach_action": "repeat", "repeat_minutes": ""}, "请填写重复间隔"),
        ({"breach_action": "repeat", "repeat_minutes": "-1"}, "重复间隔不能为负数"),
        ({"target": "step:verify", "klass": "serious"}, "已有相同步骤（时钟）、类别和渠道的规则"),
    ]
    for change, message in cases:
        resp = client.post("/admin/sla/new", data={**policy_form(**change), "csrf_token": token})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400, change
        assert message in html, (change, html[:2000])
    assert policies() == before


def test_editing_the_default_rule_to_repeat_and_deleting_a_specific_rule(as_user):
    client = as_user("admin")
    default = db.session.execute(sa.select(SlaPolicy).where(
        SlaPolicy.clock == Clock.SOLUTION, SlaPolicy.klass.is_(None), SlaPolicy.channel.is_(None))).scalar_one()
    url = f"/admin/sla/{default.id}"
    token = csrf_from(client, url)
    resp = client.post(url, data={**policy_form(target="clock:solution", klass="", minutes="0.5",
                                                calendar="24x7", reminder_percents="",
                                                breach_action="repeat", repeat_minutes="0.25"),
                                  "csrf_token": token})
    assert resp.status_code == 303
    limit = fresh(resolve, Clock.SOLUTION, Klass.GENERAL)
    assert (limit.minutes, limit.reminder_percents, limit.breach_action, limit.repeat_minutes) == (0.5, (), "repeat", 0.25)
    # The default of a step cannot be deleted; a class rule can.
    resp = client.post(f"{url}/delete", data={"csrf_token": token})
    assert resp.status_code == 400 and "默认规则不能删除" in resp.get_data(as_text=True)
    serious = db.session.execute(sa.select(SlaPolicy).where(
        SlaPolicy.clock == Clock.SOLUTION, SlaPolicy.klass == "serious")).scalar_one()
    assert client.post(f"/admin/sla/{serious.id}/delete", data={"csrf_token": token}).status_code == 303
    assert fresh(resolve, Clock.SOLUTION, Klass.SERIOUS).minutes == 0.5  # now the default applies


def test_admin_enters_holidays_by_pasting_the_notice_and_the_due_times_use_them(as_user):
    client = as_user("admin")
    page = client.get("/admin/holidays?year=2026").get_data(as_text=True)
    assert "国庆节调休" in page and "请以国务院办公厅当年发布的" in page
    assert "只登记了放假日" not in page
    # 2027 is seeded with the statutory days only: the page asks for the notice's arrangement.
    assert "只登记了放假日" in client.get("/admin/holidays?year=2027").get_data(as_text=True)
    friday = sh(2028, 9, 29, 17, 0)  # a year nobody has entered yet
    assert online_due(friday) == sh(2028, 10, 2, 9, 0).astimezone(timezone.utc)
    token = csrf_from(client, "/admin/holidays?year=2028")
    lines = "2028-10-01至2028-10-03 国庆节\n2028/10/7 上班 国庆节调休\n"
    resp = client.post("/admin/holidays/paste?year=2028", data={"lines": lines, "csrf_token": token})
    assert resp.status_code == 303
    page = client.get("/admin/holidays?year=2028").get_data(as_text=True)
    assert "2028-10-07" in page and "调休上班" in page
    # Saturday 30 Sept and Sunday off, Monday and Tuesday holidays: Wednesday 09:00.
    assert online_due(friday) == sh(2028, 10, 4, 9, 0).astimezone(timezone.utc)

    before = db.session.execute(sa.select(sa.func.count(Holiday.id))).scalar()
    for bad, message in [("2028-13-01 错", "第 1 行无法识别"), ("2028-10-04 上班", "是工作日，无需登记为调休上班"),
                         ("2028-10-08 国庆节\n2028-10-08 上班", "重复且类型不同"),
                         ("2028-10-01至2028-12-01 太长", "第 1 行无法识别")]:
        resp = client.post("/admin/holidays/paste?year=2028", data={"lines": bad, "csrf_token": token})
        assert resp.status_code == 400 and message in resp.get_data(as_text=True), bad
    assert db.session.execute(sa.select(sa.func.count(Holiday.id))).scalar() == before

    day = db.session.execute(sa.select(Holiday).where(Holiday.day == date(2028, 10, 3))).scalar_one()
    assert client.post(f"/admin/holidays/{day.id}/delete", data={"csrf_token": token}).status_code == 303
    assert online_due(friday) == sh(2028, 10, 3, 9, 0).astimezone(timezone.utc)
    resp = client.post("/admin/holidays/add?year=2028", data={"day": "2028-10-03", "kind": "holiday",
                                                              "name": "国庆节", "csrf_token": token})
    assert resp.status_code == 303
    assert db.session.execute(sa.select(Holiday.kind).where(Holiday.day == date(2028, 10, 3))).scalar() == DayKind.HOLIDAY


def test_only_admins_reach_the_time_limit_pages(as_user):
    client = as_user("desk")
    assert client.get("/admin/sla").status_code == 403
    assert client.get("/admin/holidays").status_code == 403


def test_time_limit_pages_read_english_refusals_included(app):
    import re

    from tests.conftest import leftover_chinese, signed_in, stored_texts
    client, _ = signed_in(app, "admin")
    client.get("/lang/en")
    policy = db.session.execute(sa.select(SlaPolicy.id).where(SlaPolicy.klass == "serious")).scalars().first()
    data = stored_texts()
    problems = {}
    for url in ["/admin/sla", "/admin/sla/new", f"/admin/sla/{policy}", "/admin/holidays?year=2026"]:
        html = client.get(url).get_data(as_text=True)
        main = re.search(r'<main id="main".*?</main>', html, re.S).group(0)
        if left := leftover_chinese(main, data):
            problems[url] = left
    token = csrf_from(client, "/admin/sla/new")
    for url, form in {"/admin/sla/new": policy_form(minutes="-1", reminder_percents="9, 3"),
                      "/admin/holidays/paste?year=2026": {"lines": "2026-10-05 workday"}}.items():
        resp = client.post(url, data={**form, "csrf_token": token})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400 and 'class="error"' in html, url
        main = re.search(r'<main id="main".*?</main>', html, re.S).group(0)
        if left := leftover_chinese(main, data):
            problems[f"POST {url}"] = left
    assert "Time limits" in client.get("/admin/sla").get_data(as_text=True)
    assert not problems, problems


def test_a_policy_broken_around_the_page_is_reported(app):
    from portal.sla.operations import policy_problems
    assert policy_problems() == []
    row = db.session.execute(sa.select(SlaPolicy).where(SlaPolicy.step == Step.VERIFY)).scalars().first()
    db.session.execute(sa.update(SlaPolicy).where(SlaPolicy.id == row.id)
                       .values(reminder_percents=[80, 50], breach_action="repeat", repeat_minutes=None))
    db.session.commit()
    problems = policy_problems()
    assert any(f"#{row.id}" in p and "提醒点须是" in p for p in problems), problems
    assert any("请填写重复间隔" in p for p in problems), problems

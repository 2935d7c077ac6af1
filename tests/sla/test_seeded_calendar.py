"""The seeded limits and the 2026 holiday calendar are what cases really get: an online
complaint is verified within one working hour, counted over 调休 days and 国庆; serious cases
run round the clock; the case clocks and pauses."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

from portal import clock
from portal.cases.enums import Channel, Klass
from portal.clock import SHANGHAI, as_utc, utcnow
from portal.extensions import db
from portal.sla.due import deadline
from portal.sla.enums import DayKind
from portal.sla.models import CasePause, Holiday
from portal.sla.pauses import pause_case, pauses_of, resume_case
from portal.sla.policy import resolve, step_due, work_calendar
from portal.steps import Clock, Step
from tests.conftest import make_case


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def utc(*args) -> datetime:
    return sh(*args).astimezone(timezone.utc)


def at(when: datetime) -> None:
    clock.travel(when - utcnow())


def minute(value: datetime) -> datetime:
    """The test's clock goes on ticking after `at`: compare to the minute."""
    return as_utc(value).replace(second=0, microsecond=0)


def test_online_complaint_at_friday_17_00_before_guoqing_is_due_on_the_make_up_sunday(app):
    # 2026: Sunday 20 Sept is worked for 国庆 (调休). Friday 17:00 + 1 working hour:
    # 30 min on Friday, 30 on Sunday morning.
    at(sh(2026, 9, 18, 17, 0))
    case = make_case("desk", channel=Channel.WECHAT)
    assert minute(case.due_at) == utc(2026, 9, 20, 9, 0)


def test_online_complaint_on_the_eve_of_guoqing_waits_for_the_8th(app):
    at(sh(2026, 9, 30, 17, 0))
    case = make_case("desk", channel=Channel.WECHAT)
    assert minute(case.due_at) == utc(2026, 10, 8, 9, 0)


def test_a_make_up_saturday_before_the_spring_festival_is_a_working_day(app):
    # Saturday 14 Feb 2026 is worked; 15–23 Feb is the Spring Festival.
    assert step_due(Step.VERIFY, sh(2026, 2, 13, 17, 0), None, Channel.WECHAT) == utc(2026, 2, 14, 9, 0)
    assert step_due(Step.VERIFY, sh(2026, 2, 14, 17, 0), None, Channel.WECHAT) == utc(2026, 2, 24, 9, 0)


def test_serious_cases_run_round_the_clock_even_online(app):
    assert step_due(Step.VERIFY, sh(2026, 9, 30, 17, 0), Klass.SERIOUS, Channel.WECHAT) == utc(2026, 9, 30, 17, 30)
    # Other channels keep the 24×7 limits of PROCEDURES §4.
    assert step_due(Step.VERIFY, sh(2026, 9, 30, 17, 0), Klass.GENERAL, Channel.HOTLINE) == utc(2026, 9, 30, 17, 30)


def test_a_holiday_entered_now_moves_the_next_due_time(app):
    start = sh(2026, 11, 27, 17, 0)  # a Friday
    assert step_due(Step.VERIFY, start, None, Channel.WECHAT) == utc(2026, 11, 30, 9, 0)
    db.session.add(Holiday(day=date(2026, 11, 30), kind=DayKind.HOLIDAY, name="测试假日"))
    db.session.commit()
    assert step_due(Step.VERIFY, start, None, Channel.WECHAT) == utc(2026, 12, 1, 9, 0)


def test_case_clocks_are_seeded_from_procedures(app):
    assert resolve(Clock.PROGRESS_CHECK).minutes == 60
    assert resolve(Clock.SOLUTION).minutes == 240
    assert resolve(Clock.RESOLVED).minutes == 24 * 60
    assert resolve(Clock.SIGNED, Klass.SERIOUS).minutes == 48 * 60
    assert resolve(Clock.REVISIT).minutes == 7 * 24 * 60
    assert resolve(Clock.ON_SITE).active is False  # no on-site repairs unless switched on
    limit = resolve(Step.INVESTIGATE, Klass.MAJOR)
    assert (limit.reminder_percents, limit.breach_action, limit.calendar) == ((50, 80), "escalate", "24x7")
    assert Clock.SOLUTION.anchor.value == "received" and Clock.REVISIT.anchor.value == "closed"


def test_a_pause_stops_the_case_clocks_and_resume_moves_them_on(app):
    at(sh(2026, 11, 23, 10, 0))
    case = make_case("desk", channel=Channel.HOTLINE)
    received = as_utc(case.received_at)  # all below counted from it, exactly
    solution = resolve(Clock.SOLUTION, case.klass, case.channel)
    assert deadline(solution, received, work_calendar(), pauses_of(case.id)) == received + timedelta(hours=4)

    pause_case(case, "等待提交人补充信息", received + timedelta(hours=1))
    assert pause_case(case, "再次", received + timedelta(hours=2)).reason == "等待提交人补充信息"
    db.session.commit()
    assert deadline(solution, received, work_calendar(), pauses_of(case.id)) is None  # the clock stands

    paused = resume_case(case, received + timedelta(hours=3, minutes=30))
    db.session.commit()
    assert paused == timedelta(hours=2, minutes=30)
    assert deadline(solution, received, work_calendar(), pauses_of(case.id)) == received + timedelta(hours=6, minutes=30)
    assert resume_case(case, received + timedelta(hours=5)) == timedelta(0)
    assert db.session.execute(sa.select(sa.func.count(CasePause.id))).scalar() == 1

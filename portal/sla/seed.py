"""The time limits and holidays every installation starts with (PROCEDURES.md §4; the
State Council holiday notices). Idempotent: nothing is added where rows exist."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.sla.enums import CalendarKind, DayKind
from portal.sla.models import Holiday, SlaPolicy
from portal.sla.policy import DEFAULT_INACTIVE, DEFAULT_MINUTES
from portal.steps import Clock, Step

SERIOUS = "serious"      # Klass.SERIOUS: every limit round the clock (§4)
ONLINE = "wechat"        # Channel.WECHAT (微信/网上): an online complaint is acknowledged ...
ONLINE_ACK_MINUTES = 60  # ... within one working hour (§4), i.e. verified by the desk

# 2026: 国务院办公厅关于2026年部分节假日安排的通知. 2027: only the statutory days of
# 全国年节及纪念日放假办法 (2024) are known here; the notice adds the bridging days and 调休.
HOLIDAYS = {
    2026: [("2026-01-01", "2026-01-03", "元旦"), ("2026-02-15", "2026-02-23", "春节"),
           ("2026-04-04", "2026-04-06", "清明节"), ("2026-05-01", "2026-05-05", "劳动节"),
           ("2026-06-19", "2026-06-21", "端午节"), ("2026-09-25", "2026-09-27", "中秋节"),
           ("2026-10-01", "2026-10-07", "国庆节")],
    2027: [("2027-01-01", "2027-01-01", "元旦"), ("2027-02-05", "2027-02-08", "春节"),
           ("2027-04-05", "2027-04-05", "清明节"), ("2027-05-01", "2027-05-02", "劳动节"),
           ("2027-06-09", "2027-06-09", "端午节"), ("2027-09-15", "2027-09-15", "中秋节"),
           ("2027-10-01", "2027-10-03", "国庆节")],
}
WORKDAYS = {
    2026: [("2026-01-04", "元旦调休"), ("2026-02-14", "春节调休"), ("2026-02-28", "春节调休"),
           ("2026-05-09", "劳动节调休"), ("2026-09-20", "国庆节调休"), ("2026-10-10", "国庆节调休")],
    2027: [],
}


def calendar_days(year: int) -> list[tuple[date, DayKind, str]]:
    days = []
    for first, last, name in HOLIDAYS.get(year, []):
        d, end = date.fromisoformat(first), date.fromisoformat(last)
        while d <= end:
            days.append((d, DayKind.HOLIDAY, name))
            d += timedelta(days=1)
    days += [(date.fromisoformat(d), DayKind.WORKDAY, name) for d, name in WORKDAYS.get(year, [])]
    return sorted(days)


def seed_policies() -> None:
    """Rows for each step and clock that has none (an older installation gains the clocks)."""
    have = {row.step or row.clock for row in db.session.execute(sa.select(SlaPolicy)).scalars()}
    for target, minutes in DEFAULT_MINUTES.items():
        if target in have:
            continue
        column = "step" if isinstance(target, Step) else "clock"
        active = target not in DEFAULT_INACTIVE
        db.session.add(SlaPolicy(**{column: target}, minutes=minutes,
                                 calendar=CalendarKind.ROUND_THE_CLOCK.value, active=active))
        db.session.add(SlaPolicy(**{column: target}, klass=SERIOUS, minutes=minutes,
                                 calendar=CalendarKind.ROUND_THE_CLOCK.value, active=active))
        if target == Step.VERIFY:
            db.session.add(SlaPolicy(step=Step.VERIFY, channel=ONLINE, minutes=ONLINE_ACK_MINUTES,
                                     calendar=CalendarKind.WORKING.value))


def seed_holidays() -> None:
    known = set(db.session.execute(sa.select(Holiday.day)).scalars())
    for year in HOLIDAYS:
        for day, kind, name in calendar_days(year):
            if day not in known:
                db.session.add(Holiday(day=day, kind=kind, name=name))


def seed_time_limits() -> None:
    seed_policies()
    seed_holidays()
    db.session.flush()

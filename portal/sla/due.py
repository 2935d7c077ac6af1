"""Due-time arithmetic (pure: every function takes `now`/`start`, none reads the clock)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from portal.clock import SHANGHAI, as_utc

WORK_START, WORK_END = time(8, 30), time(17, 30)


def add_working_minutes(start: datetime, minutes: int, holidays: frozenset[date] = frozenset()) -> datetime:
    """Count `minutes` of working time (Mon–Fri 08:30–17:30 Shanghai, minus holidays)."""
    t = as_utc(start).astimezone(SHANGHAI)
    left = timedelta(minutes=minutes)
    while True:
        day_start = t.replace(hour=WORK_START.hour, minute=WORK_START.minute, second=0, microsecond=0)
        day_end = t.replace(hour=WORK_END.hour, minute=WORK_END.minute, second=0, microsecond=0)
        if t.weekday() >= 5 or t.date() in holidays or t >= day_end:
            t = (t + timedelta(days=1)).replace(hour=WORK_START.hour, minute=WORK_START.minute,
                                                second=0, microsecond=0)
            continue
        t = max(t, day_start)
        if t + left <= day_end:
            return t + left
        left -= day_end - t
        t = day_end


def due_at(start: datetime, minutes: int, calendar: str = "24x7",
           holidays: frozenset[date] = frozenset()) -> datetime:
    if calendar == "working":
        return add_working_minutes(start, minutes, holidays).astimezone(timezone.utc)
    return as_utc(start).astimezone(timezone.utc) + timedelta(minutes=minutes)

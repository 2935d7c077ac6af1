"""Due-time arithmetic (pure: every function takes `start`/`now` and the calendar, none reads
the clock or the database).

Two calendars: round the clock (24×7) and working hours, Mon–Fri 08:30–17:30 Asia/Shanghai,
less the holidays, plus the make-up working days (调休) of a `WorkCalendar`. A pause (the case
waits on the submitter or the customer) stops the count; the deadline moves on by the paused
time as counted in the limit's calendar."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable

from portal.clock import SHANGHAI, as_utc

WORK_START, WORK_END = time(8, 30), time(17, 30)
ROUND_THE_CLOCK, WORKING = "24x7", "working"

Pause = tuple[datetime, "datetime | None"]  # (started, ended); ended None: still paused


@dataclass(frozen=True)
class Limit:
    """The limit that applies to one step or case clock of one case (see policy.resolve)."""
    minutes: float
    calendar: str = ROUND_THE_CLOCK
    reminder_percents: tuple[int, ...] = (50, 80)
    breach_action: str = "escalate"
    repeat_minutes: float | None = None
    active: bool = True  # False: the due time is shown, but nothing reminds or escalates


@dataclass(frozen=True)
class WorkCalendar:
    """Working days are Mon–Fri except `holidays`, plus the weekend days in `workdays` (调休)."""
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    start: time = WORK_START
    end: time = WORK_END

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def _hours(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.start, SHANGHAI), datetime.combine(day, self.end, SHANGHAI))

    def add(self, start: datetime, span: timedelta) -> datetime:
        """The instant when `span` of working time has passed since `start` (UTC); a span of
        zero is `start` itself."""
        t = as_utc(start).astimezone(SHANGHAI)
        left = span
        if left <= timedelta(0):
            return t.astimezone(timezone.utc)
        day = t.date()
        for _ in range(366 * 20):  # at most 20 years of days: no calendar has none working
            if self.is_working_day(day):
                opens, closes = self._hours(day)
                t = max(t, opens)
                if t < closes:
                    if t + left <= closes:
                        return (t + left).astimezone(timezone.utc)
                    left -= closes - t
            day += timedelta(days=1)
            t = datetime.combine(day, time(0), SHANGHAI)
        raise ValueError("no working day in the calendar")

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from `a` to `b` (zero if b <= a)."""
        a, b = as_utc(a).astimezone(SHANGHAI), as_utc(b).astimezone(SHANGHAI)
        total = timedelta(0)
        day = a.date()
        while day <= b.date():
            if self.is_working_day(day):
                opens, closes = self._hours(day)
                lo, hi = max(a, opens), min(b, closes)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total


def _span(minutes: float) -> timedelta:
    return timedelta(minutes=float(minutes))


def add_time(start: datetime, span: timedelta, calendar: str, cal: WorkCalendar) -> datetime:
    """`start` plus `span` counted in `calendar` (UTC)."""
    if calendar == WORKING:
        return cal.add(start, span)
    return as_utc(start).astimezone(timezone.utc) + span


def counted(a: datetime, b: datetime, calendar: str, cal: WorkCalendar) -> timedelta:
    """How much of `calendar`'s time lies between `a` and `b`."""
    if calendar == WORKING:
        return cal.between(a, b)
    return max(as_utc(b) - as_utc(a), timedelta(0))


def _merged(pauses: Iterable[Pause], start: datetime) -> list[Pause]:
    """Pauses sorted, clipped to after `start`, overlapping ones joined; an open one ends the list."""
    out: list[list] = []
    start = as_utc(start)
    for ps, pe in sorted(((as_utc(p), as_utc(e)) for p, e in pauses), key=lambda p: p[0]):
        if pe is not None and pe <= start:
            continue
        ps = max(ps, start)
        if out and (out[-1][1] is None or ps <= out[-1][1]):
            if out[-1][1] is not None:
                out[-1][1] = None if pe is None else max(out[-1][1], pe)
        else:
            out.append([ps, pe])
        if out[-1][1] is None:
            break
    return [(ps, pe) for ps, pe in out]


def _after(start: datetime, span: timedelta, calendar: str, cal: WorkCalendar,
           pauses: Iterable[Pause]) -> datetime | None:
    d = add_time(start, span, calendar, cal)
    for ps, pe in _merged(pauses, start):
        if ps >= d:
            break
        if pe is None:
            return None  # paused now: the clock stands, there is no due time
        d = add_time(pe, counted(ps, d, calendar, cal), calendar, cal)
    return d


def deadline(limit: Limit, start: datetime, cal: WorkCalendar,
             pauses: Iterable[Pause] = ()) -> datetime | None:
    """When `limit`, counted from `start` in its calendar, runs out (UTC). With pauses, the
    paused time does not count; None while a pause is still open."""
    return _after(start, _span(limit.minutes), limit.calendar, cal, pauses)


def point(limit: Limit, start: datetime, percent: float, cal: WorkCalendar,
          pauses: Iterable[Pause] = ()) -> datetime | None:
    """The instant at `percent` % of the limit (a reminder's send time), in the limit's calendar."""
    return _after(start, _span(limit.minutes) * (float(percent) / 100), limit.calendar, cal, pauses)


def shift(due: datetime, paused_from: datetime, paused_to: datetime, calendar: str,
          cal: WorkCalendar) -> datetime:
    """A due time computed before a pause, moved on by that pause as counted in `calendar`
    (what `resume_case` means for a timer that already holds its due time)."""
    if as_utc(paused_from) >= as_utc(due):
        return as_utc(due)
    return add_time(paused_to, counted(paused_from, due, calendar, cal), calendar, cal)


# The earlier API, kept for callers that pass minutes and a set of holidays.

def add_working_minutes(start: datetime, minutes: float, holidays: frozenset[date] = frozenset()) -> datetime:
    """Count `minutes` of working time (Mon–Fri 08:30–17:30 Shanghai, minus holidays)."""
    return WorkCalendar(holidays=frozenset(holidays)).add(start, _span(minutes)).astimezone(SHANGHAI)


def due_at(start: datetime, minutes: float, calendar: str = ROUND_THE_CLOCK,
           holidays: frozenset[date] = frozenset()) -> datetime:
    return add_time(start, _span(minutes), calendar, WorkCalendar(holidays=frozenset(holidays)))

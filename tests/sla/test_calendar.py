"""Due-time arithmetic with working hours, holidays, make-up days (调休) and pauses: properties
checked over generated calendars and times (hypothesis), and hand-made cases from the 2026
State Council holiday notice as seeded."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from portal.clock import SHANGHAI
from portal.sla.due import Limit, WorkCalendar, counted, deadline, point, shift

UTC = timezone.utc


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def utc(*args) -> datetime:
    return sh(*args).astimezone(UTC)


# ---------------------------------------------------------------- generated calendars

DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 3, 31))
starts = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 3, 20),
                      timezones=st.just(UTC))
calendars = st.builds(lambda h, w: WorkCalendar(holidays=frozenset(h), workdays=frozenset(w)),
                      st.sets(DAYS, max_size=25), st.sets(DAYS, max_size=8))
spans = st.integers(min_value=0, max_value=40 * 9 * 3600).map(lambda s: timedelta(seconds=s))
kinds = st.sampled_from(["24x7", "working"])


def in_working_time(t: datetime, cal: WorkCalendar) -> bool:
    local = t.astimezone(SHANGHAI)
    return cal.is_working_day(local.date()) and cal.start <= local.time() <= cal.end


@settings(max_examples=300, deadline=None)
@given(start=starts, span=spans, cal=calendars)
def test_working_time_added_is_the_working_time_counted(start, span, cal):
    due = cal.add(start, span)
    assert cal.between(start, due) == span
    if span:
        assert in_working_time(due, cal)  # a due time never falls at night or on a day off


@settings(max_examples=200, deadline=None)
@given(start=starts, a=spans, b=spans, cal=calendars)
def test_adding_in_two_parts_is_adding_at_once(start, a, b, cal):
    if a:
        assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)
    lo, hi = sorted((a, b))
    assert cal.add(start, lo) <= cal.add(start, hi)  # more time never comes due earlier


@settings(max_examples=200, deadline=None)
@given(start=starts, cal=calendars, day=DAYS)
def test_a_holiday_has_no_working_time_and_a_make_up_day_has_nine_hours(start, cal, day):
    opens, closes = sh(day.year, day.month, day.day, 0, 0), sh(day.year, day.month, day.day, 23, 59)
    hours = cal.between(opens, closes)
    if day in cal.workdays:
        assert hours == timedelta(hours=9)
    elif day in cal.holidays or day.weekday() >= 5:
        assert hours == timedelta(0)
    else:
        assert hours == timedelta(hours=9)


pauses = st.lists(st.tuples(starts, st.integers(min_value=1, max_value=5 * 24 * 3600)), max_size=4)


@settings(max_examples=300, deadline=None)
@given(start=starts, minutes=st.integers(min_value=1, max_value=3000), kind=kinds, cal=calendars,
       raw=pauses)
def test_paused_time_does_not_count(start, minutes, kind, cal, raw):
    limit = Limit(minutes=minutes, calendar=kind)
    stretches = [(ps, ps + timedelta(seconds=length)) for ps, length in raw]
    due = deadline(limit, start, cal, stretches)
    # Counted time from start to due, less what lay inside a pause, is exactly the limit.
    covered = _union([(max(ps, start), min(pe, due)) for ps, pe in stretches if pe > start and ps < due])
    active = counted(start, due, kind, cal) - sum((counted(a, b, kind, cal) for a, b in covered), timedelta(0))
    assert active == timedelta(minutes=minutes)
    assert due >= deadline(limit, start, cal)  # a pause never brings a deadline forward


@settings(max_examples=200, deadline=None)
@given(start=starts, minutes=st.integers(min_value=1, max_value=3000), kind=kinds, cal=calendars,
       p=st.integers(min_value=1, max_value=99), q=st.integers(min_value=1, max_value=99))
def test_reminder_points_fall_in_order_before_the_deadline(start, minutes, kind, cal, p, q):
    limit = Limit(minutes=minutes, calendar=kind)
    assert point(limit, start, 100, cal) == deadline(limit, start, cal)
    lo, hi = sorted((p, q))
    assert start <= point(limit, start, lo, cal) <= point(limit, start, hi, cal) <= deadline(limit, start, cal)


@settings(max_examples=200, deadline=None)
@given(start=starts, minutes=st.integers(min_value=1, max_value=3000), kind=kinds, cal=calendars,
       at=st.integers(min_value=0, max_value=3000 * 60), length=st.integers(min_value=1, max_value=4 * 24 * 3600))
def test_shifting_a_due_time_after_resume_equals_the_deadline_with_the_pause(start, minutes, kind, cal, at, length):
    limit = Limit(minutes=minutes, calendar=kind)
    ps = start + timedelta(seconds=at)
    pe = ps + timedelta(seconds=length)
    before = deadline(limit, start, cal)
    assert shift(before, ps, pe, kind, cal) == deadline(limit, start, cal, [(ps, pe)])


def _union(stretches):
    out = []
    for a, b in sorted(s for s in stretches if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


# ---------------------------------------------------------------- hand-made cases

GUOQING_2025 = WorkCalendar(  # 2025: 10月1日至8日放假, 9月28日（周日）、10月11日（周六）上班
    holidays=frozenset(date(2025, 10, d) for d in range(1, 9)),
    workdays=frozenset({date(2025, 9, 28), date(2025, 10, 11)}))


def test_friday_17_00_before_guoqing_runs_on_into_the_make_up_sunday():
    # 30 min on Friday 26 Sept, Saturday off, Sunday 28 Sept is worked (调休): 90 min from 08:30.
    limit = Limit(minutes=120, calendar="working")
    assert deadline(limit, sh(2025, 9, 26, 17, 0), GUOQING_2025) == utc(2025, 9, 28, 10, 0)
    # From the last working day before the holiday, the clock skips all eight days.
    assert deadline(limit, sh(2025, 9, 30, 17, 0), GUOQING_2025) == utc(2025, 10, 9, 10, 0)
    # Round the clock (serious cases) counts the holiday.
    assert deadline(Limit(minutes=120), sh(2025, 9, 30, 17, 0), GUOQING_2025) == utc(2025, 9, 30, 19, 0)


def test_a_pause_over_the_weekend_moves_a_working_deadline_by_working_time_only():
    limit = Limit(minutes=60, calendar="working")
    cal = WorkCalendar()
    # Friday 27 Nov 2026 17:00, paused 17:10 to Monday 08:40: 10 min Friday + 10 min paused Monday.
    due = deadline(limit, sh(2026, 11, 27, 17, 0), cal, [(sh(2026, 11, 27, 17, 10), sh(2026, 11, 30, 8, 40))])
    assert due == utc(2026, 11, 30, 9, 30)
    # Still paused: no due time.
    assert deadline(limit, sh(2026, 11, 27, 17, 0), cal, [(sh(2026, 11, 27, 17, 10), None)]) is None

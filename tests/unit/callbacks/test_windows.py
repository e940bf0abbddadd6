"""Calling windows: nobody is called at night, and a working-days window skips days off."""

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.callbacks.policy import DEFAULT_WINDOW, CallingWindow, is_open, next_open
from hotline.tickets.workdays import LOCAL_ZONE, WorkCalendar

from .moments import FakeCalendar, at, day

EVERY_DAY = CallingWindow(time(9), time(20), working_days_only=False)
WORKING_DAYS = CallingWindow(time(9), time(20), working_days_only=True)
PLAIN = FakeCalendar()  # Monday to Friday


def test_the_fake_calendar_keeps_weekends_and_its_exceptions() -> None:
    calendar = FakeCalendar.of(off=["2026-03-04"], worked=["2026-03-07"])
    assert calendar.is_working_day(day("2026-03-03"))  # Tuesday
    assert not calendar.is_working_day(day("2026-03-04"))  # a Wednesday off
    assert calendar.is_working_day(day("2026-03-07"))  # a Saturday worked
    assert not calendar.is_working_day(day("2026-03-08"))  # Sunday


CASES = [
    # (window, now, expected), 2026-03-06 is a Friday
    pytest.param(EVERY_DAY, "2026-03-04 14:00", "2026-03-04 14:00", id="open: now"),
    pytest.param(EVERY_DAY, "2026-03-04 09:00", "2026-03-04 09:00", id="the opening minute is open"),
    pytest.param(EVERY_DAY, "2026-03-04 20:00", "2026-03-05 09:00", id="the closing minute is closed"),
    pytest.param(EVERY_DAY, "2026-03-04 23:30", "2026-03-05 09:00", id="night: next morning"),
    pytest.param(EVERY_DAY, "2026-03-05 02:00", "2026-03-05 09:00", id="small hours: this morning"),
    pytest.param(EVERY_DAY, "2026-03-06 21:00", "2026-03-07 09:00", id="every-day window opens Saturday"),
    pytest.param(WORKING_DAYS, "2026-03-06 21:00", "2026-03-09 09:00", id="working days: Friday night to Monday"),
    pytest.param(WORKING_DAYS, "2026-03-07 11:00", "2026-03-09 09:00", id="working days: Saturday noon to Monday"),
    pytest.param(WORKING_DAYS, "2026-03-09 08:59", "2026-03-09 09:00", id="working days: Monday before opening"),
]


@pytest.mark.parametrize("window, now, expected", CASES)
def test_next_open(window: CallingWindow, now: str, expected: str) -> None:
    assert next_open(at(now), window, PLAIN.is_working_day, LOCAL_ZONE) == at(expected)


def test_a_fake_holiday_and_a_swapped_saturday_are_followed() -> None:
    calendar = FakeCalendar.of(off=["2026-03-09"], worked=["2026-03-07"])
    friday_night = at("2026-03-06 21:00")
    assert next_open(friday_night, WORKING_DAYS, calendar.is_working_day, LOCAL_ZONE) == at("2026-03-07 09:00")
    saturday_night = at("2026-03-07 21:00")
    assert next_open(saturday_night, WORKING_DAYS, calendar.is_working_day, LOCAL_ZONE) == at("2026-03-10 09:00")


def test_china_national_day_is_skipped_by_the_real_calendar() -> None:
    # 2026: 10.1-10.7 off, Sat 10.10 worked; WorkCalendar is the tickets' own predicate.
    calendar = WorkCalendar()
    last_evening = at("2026-09-30 20:30")
    assert next_open(last_evening, WORKING_DAYS, calendar.is_working_day, LOCAL_ZONE) == at("2026-10-08 09:00")
    # The every-day window still calls during the holiday: only the night is closed.
    assert next_open(last_evening, EVERY_DAY, calendar.is_working_day, LOCAL_ZONE) == at("2026-10-01 09:00")


def test_a_moment_in_another_zone_is_judged_on_the_bazhong_clock() -> None:
    # 01:30 UTC is 09:30 in Bazhong: open, and returned as given.
    moment = at("2026-03-04 09:30").astimezone(UTC)
    assert next_open(moment, EVERY_DAY, PLAIN.is_working_day, LOCAL_ZONE) == moment
    # 13:00 UTC is 21:00 in Bazhong: closed until 09:00 the next morning.
    evening = at("2026-03-04 21:00").astimezone(UTC)
    assert next_open(evening, EVERY_DAY, PLAIN.is_working_day, LOCAL_ZONE) == at("2026-03-05 09:00")


def test_a_window_that_spans_the_night_is_refused() -> None:
    with pytest.raises(ValueError, match="never span the night"):
        CallingWindow(time(20), time(9), working_days_only=False)
    with pytest.raises(ValueError):
        CallingWindow(time(9), time(9), working_days_only=False)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        next_open(at("2026-03-04 14:00").replace(tzinfo=None), EVERY_DAY, PLAIN.is_working_day, LOCAL_ZONE)


def test_a_calendar_without_working_days_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError, match="no open day"):
        next_open(at("2026-03-04 14:00"), WORKING_DAYS, lambda _: False, LOCAL_ZONE)


MOMENTS = st.datetimes(
    min_value=at("2025-01-01 00:00").replace(tzinfo=None),
    max_value=at("2026-12-31 23:59").replace(tzinfo=None),
).map(lambda naive: naive.replace(tzinfo=LOCAL_ZONE))


@given(MOMENTS, st.booleans())
def test_next_open_is_open_never_earlier_and_the_first_such_minute(
    moment: datetime, working_days_only: bool
) -> None:
    window = CallingWindow(DEFAULT_WINDOW.start, DEFAULT_WINDOW.end, working_days_only)
    calendar = WorkCalendar()
    opens = next_open(moment, window, calendar.is_working_day, LOCAL_ZONE)
    assert opens >= moment
    assert is_open(opens, window, calendar.is_working_day, LOCAL_ZONE)
    local = opens.astimezone(LOCAL_ZONE)
    assert window.start <= local.time() < window.end
    if opens != moment:
        # Closed until then: it is exactly an opening, and a minute before it was closed.
        assert local.time() == window.start
        assert not is_open(opens - timedelta(minutes=1), window, calendar.is_working_day, LOCAL_ZONE)
        assert not is_open(moment, window, calendar.is_working_day, LOCAL_ZONE)

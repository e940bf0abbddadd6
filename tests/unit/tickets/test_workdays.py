"""China's working days: official holidays, swapped working weekends, and years not yet known."""

from datetime import UTC, date, datetime, time

import pytest

from hotline.tickets.workdays import LOCAL_ZONE, WorkCalendar, known_year

from .moments import at

# The State Council's published calendars (国务院办公厅关于2025年/2026年部分节假日安排的通知),
# hard-coded so a wrong package release shows up here rather than in a customer's deadline.
#   2025: Spring Festival 1.28-2.4 off, Sun 1.26 and Sat 2.8 worked;
#         National Day + Mid-Autumn 10.1-10.8 off, Sun 9.28 and Sat 10.11 worked.
#   2026: Spring Festival 2.15-2.23 off, Sat 2.14 and Sat 2.28 worked;
#         National Day 10.1-10.7 off, Sun 9.20 and Sat 10.10 worked.
OFFICIAL_DAYS = [
    pytest.param("2025-01-26", True, id="2025 Sun 1.26 is worked before the Spring Festival"),
    pytest.param("2025-01-28", False, id="2025 Spring Festival starts 1.28"),
    pytest.param("2025-02-04", False, id="2025 Spring Festival ends 2.4"),
    pytest.param("2025-02-08", True, id="2025 Sat 2.8 is worked"),
    pytest.param("2025-10-08", False, id="2025 National Day ends 10.8"),
    pytest.param("2025-10-11", True, id="2025 Sat 10.11 is worked"),
    pytest.param("2026-02-13", True, id="2026 Fri 2.13 is an ordinary working day"),
    pytest.param("2026-02-14", True, id="2026 Sat 2.14 is worked before the Spring Festival"),
    pytest.param("2026-02-15", False, id="2026 Spring Festival starts 2.15"),
    pytest.param("2026-02-23", False, id="2026 Spring Festival ends Mon 2.23"),
    pytest.param("2026-02-24", True, id="2026 Tue 2.24 is the first working day after it"),
    pytest.param("2026-02-28", True, id="2026 Sat 2.28 is worked"),
    pytest.param("2026-03-07", False, id="2026 an ordinary Saturday is off"),
    pytest.param("2026-09-20", True, id="2026 Sun 9.20 is worked before National Day"),
    pytest.param("2026-10-01", False, id="2026 National Day starts 10.1"),
    pytest.param("2026-10-07", False, id="2026 National Day ends 10.7"),
    pytest.param("2026-10-08", True, id="2026 Thu 10.8 is the first working day after it"),
    pytest.param("2026-10-10", True, id="2026 Sat 10.10 is worked"),
]


@pytest.mark.parametrize("day, working", OFFICIAL_DAYS)
def test_the_calendar_agrees_with_the_state_council(day: str, working: bool) -> None:
    assert WorkCalendar().is_working_day(date.fromisoformat(day)) is working


NEXT_WORKING_DAY_START = [
    pytest.param("2026-03-06 18:00", "2026-03-09 08:30", id="Friday evening -> Monday"),
    pytest.param("2026-03-02 06:00", "2026-03-03 08:30", id="early morning -> the day after"),
    pytest.param("2026-03-07 10:00", "2026-03-09 08:30", id="Saturday -> Monday"),
    pytest.param("2026-02-13 18:00", "2026-02-14 08:30", id="-> a swapped working Saturday"),
    pytest.param("2026-02-14 18:00", "2026-02-24 08:30", id="-> over the Spring Festival"),
    pytest.param("2026-09-19 18:00", "2026-09-20 08:30", id="-> a swapped working Sunday"),
    pytest.param("2026-09-30 18:00", "2026-10-08 08:30", id="-> over National Day"),
]


@pytest.mark.parametrize("after, start", NEXT_WORKING_DAY_START)
def test_next_working_day_starts_at_work_start(after: str, start: str) -> None:
    due = WorkCalendar().next_working_day_start(at(after))

    assert due == at(start)
    assert due.tzinfo is LOCAL_ZONE


def test_next_working_day_is_counted_on_the_bazhong_date() -> None:
    # 2026-03-06 23:30 UTC is already Saturday 07:30 in Bazhong: Monday, not Saturday.
    friday_night_utc = datetime(2026, 3, 6, 23, 30, tzinfo=UTC)

    assert WorkCalendar().next_working_day_start(friday_night_utc) == at("2026-03-09 08:30")


def test_work_start_is_configurable() -> None:
    calendar = WorkCalendar(work_start=time(9, 0))

    assert calendar.next_working_day_start(at("2026-03-06 18:00")) == at("2026-03-09 09:00")


@pytest.mark.parametrize(
    "moment, cutoff, after",
    [
        pytest.param("2026-03-02 16:59:59", time(17), False, id="just before"),
        pytest.param("2026-03-02 17:00:00", time(17), False, id="17:00:00 is not after 17:00"),
        pytest.param("2026-03-02 17:00:00.000001", time(17), True, id="a microsecond later is"),
        pytest.param("2026-03-02 23:59", time(17), True, id="late evening"),
        pytest.param("2026-03-03 00:30", time(17), False, id="after midnight is a new day"),
        pytest.param("2026-03-02 16:30", time(16), True, id="rural cutoff"),
    ],
)
def test_is_after_is_strict_on_the_bazhong_wall_clock(
    moment: str, cutoff: time, after: bool
) -> None:
    assert WorkCalendar.is_after(at(moment), cutoff) is after


def test_is_after_reads_a_utc_moment_on_the_bazhong_clock() -> None:
    assert WorkCalendar.is_after(datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC), time(17))
    assert not WorkCalendar.is_after(datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC), time(17))


# --- a year the package does not know yet ----------------------------------------------


def test_the_package_knows_2026_but_not_2027() -> None:
    assert known_year(2026)
    assert not known_year(2027)
    assert not WorkCalendar().known_year(2027)


def test_an_unknown_year_falls_back_to_monday_to_friday() -> None:
    calendar = WorkCalendar()

    assert calendar.is_working_day(date(2027, 2, 5))  # a Friday
    assert not calendar.is_working_day(date(2027, 2, 6))  # a Saturday
    assert calendar.next_working_day_start(at("2027-02-05 18:00")) == at("2027-02-08 08:30")


# Entered by an administrator for 2027 before the package knows it (illustrative dates,
# not the State Council's): a week off after Friday 2.5, and Saturday 2.20 worked.
OVERRIDES_2027 = {
    **{date(2027, 2, day): False for day in range(8, 13)},
    date(2027, 2, 20): True,
}


def test_overrides_fill_in_an_unknown_year() -> None:
    calendar = WorkCalendar(overrides=OVERRIDES_2027)

    assert not calendar.is_working_day(date(2027, 2, 8))
    assert calendar.is_working_day(date(2027, 2, 20))
    assert calendar.next_working_day_start(at("2027-02-05 18:00")) == at("2027-02-15 08:30")
    assert calendar.next_working_day_start(at("2027-02-19 18:00")) == at("2027-02-20 08:30")


def test_overrides_win_over_the_package() -> None:
    # The branch closes on an ordinary Friday, and works the Sunday after Spring Festival.
    calendar = WorkCalendar(overrides={date(2026, 3, 6): False, date(2026, 2, 22): True})

    assert not calendar.is_working_day(date(2026, 3, 6))
    assert calendar.is_working_day(date(2026, 2, 22))


def test_overrides_are_copied_so_later_edits_to_the_dict_do_not_move_deadlines() -> None:
    overrides = {date(2026, 3, 6): False}
    calendar = WorkCalendar(overrides=overrides)
    overrides[date(2026, 3, 6)] = True

    assert not calendar.is_working_day(date(2026, 3, 6))


def test_work_must_start_before_close_of_business() -> None:
    with pytest.raises(ValueError, match="not before close of business"):
        WorkCalendar(work_start=time(18), close_of_business=time(17, 30))


def test_a_naive_moment_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        WorkCalendar().next_working_day_start(at("2026-03-02 10:00").replace(tzinfo=None))

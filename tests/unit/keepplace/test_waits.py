"""What a caller who presses 1 is told: a rough wait from their place and recent handle
times, and whether the calling window closes first (then they are called at its next
opening, the next day, before that day's callers)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hotline.callbacks.policy import DEFAULT_WINDOW, CallingWindow
from hotline.keepplace.model import KeepPlaceRules, carried_to, handle_time, minutes, promise, rough_wait
from hotline.tickets.workdays import LOCAL_ZONE
from tests.unit.callbacks.moments import FakeCalendar, at

RULES = KeepPlaceRules(DEFAULT_WINDOW, LOCAL_ZONE, FakeCalendar().is_working_day, max_attempts=3, default_area_code="0827")
WORKDAYS = KeepPlaceRules(CallingWindow(DEFAULT_WINDOW.start, DEFAULT_WINDOW.end, working_days_only=True), LOCAL_ZONE, FakeCalendar().is_working_day, 3, "0827")


def test_a_call_lasts_the_median_of_recent_calls() -> None:
    assert handle_time([timedelta(minutes=m) for m in (2, 3, 30)]) == timedelta(minutes=3)  # one long call changes little
    assert handle_time([timedelta(minutes=2), timedelta(minutes=4)]) == timedelta(minutes=3)
    assert handle_time([]) == timedelta(minutes=3)  # nothing to learn from yet: the default


@pytest.mark.parametrize(
    "ahead, agents, wait",
    [
        (0, 2, timedelta(minutes=2)),  # first in line, two agents taking a call each per 4 min
        (3, 2, timedelta(minutes=8)),
        (5, 0, timedelta(minutes=24)),  # nobody serving: counted as one agent, never a division by zero
    ],
)
def test_the_rough_wait_is_the_place_times_the_handle_time_over_the_agents(ahead: int, agents: int, wait: timedelta) -> None:
    assert rough_wait(ahead, timedelta(minutes=4), agents) == wait


def test_agents_free_now_take_the_callers_ahead_first() -> None:
    assert rough_wait(1, timedelta(minutes=4), agents=3, free=2) == timedelta(0)  # a free agent is left for them
    # Two ahead, one taken now by the free agent: the other and then they, two calls over
    # two agents, one handle time.
    assert rough_wait(2, timedelta(minutes=4), agents=2, free=1) == timedelta(minutes=4)


def test_a_wait_is_told_in_whole_minutes_at_least_one() -> None:
    assert [minutes(timedelta(seconds=s)) for s in (0, 30, 60, 61, 600)] == [1, 1, 1, 2, 10]


def test_a_wait_that_fits_in_todays_window_is_today() -> None:
    told = promise(at("2026-11-25 10:00"), timedelta(minutes=20), RULES)
    assert (told.expected_at, told.next_day, told.carried_to) == (at("2026-11-25 10:20"), False, None)


def test_a_wait_past_the_windows_close_is_carried_to_the_next_opening() -> None:
    told = promise(at("2026-11-25 19:30"), timedelta(minutes=40), RULES)  # would be 20:10
    assert (told.expected_at, told.next_day, told.carried_to) == (at("2026-11-26 09:00"), True, at("2026-11-26 09:00"))


def test_pressing_1_after_the_window_closed_is_the_next_day() -> None:
    told = promise(at("2026-11-25 21:15"), timedelta(minutes=5), RULES)
    assert (told.next_day, told.carried_to) == (True, at("2026-11-26 09:00"))


def test_pressing_1_before_the_window_opens_is_called_that_morning() -> None:
    told = promise(at("2026-11-25 08:40"), timedelta(minutes=10), RULES)
    assert (told.expected_at, told.next_day) == (at("2026-11-25 09:10"), False)


def test_with_working_days_only_friday_evening_is_carried_to_monday() -> None:
    told = promise(at("2026-11-27 19:50"), timedelta(minutes=30), WORKDAYS)  # a Friday
    assert (told.next_day, told.carried_to) == (True, at("2026-11-30 09:00"))


def test_a_waiting_request_is_carried_once_the_window_shut_on_it() -> None:
    assert carried_to(at("2026-11-25 19:00"), at("2026-11-25 20:00"), RULES) == at("2026-11-26 09:00")
    assert carried_to(at("2026-11-25 10:00"), at("2026-11-25 15:00"), RULES) is None  # open: served today
    # Made before the morning's opening: still today's, not carried.
    assert carried_to(at("2026-11-25 08:40"), at("2026-11-25 08:45"), RULES) is None
    # Still waiting from yesterday with the window open (the service was down at 20:00).
    assert carried_to(at("2026-11-25 19:00"), at("2026-11-26 10:00"), RULES) == at("2026-11-26 10:00")

"""Time in each state over a local day (Asia/Shanghai): intervals cut at both midnights, the
open one counted up to now, pauses per reason."""

from __future__ import annotations

from datetime import datetime, timedelta

from hotline.floor.states import AgentState, Interval, clipped_seconds, time_in_states
from tests.unit.tickets.moments import at

DAY_START, DAY_END = at("2026-11-25 00:00"), at("2026-11-26 00:00")  # 16:00 UTC the day before


def _interval(state: AgentState, start: str, end: str | None, reason: str | None = None, extension: str = "8001") -> Interval:
    return Interval(extension, state, reason, at(start), at(end) if end else None)


def test_a_pause_across_midnight_counts_on_each_day_for_its_own_part() -> None:
    lunch_at_night = _interval(AgentState.PAUSED, "2026-11-24 23:50", "2026-11-25 00:20", "就餐")
    now = at("2026-11-26 09:00")

    before = time_in_states([lunch_at_night], at("2026-11-24 00:00"), DAY_START, now)
    on_the_day = time_in_states([lunch_at_night], DAY_START, DAY_END, now)

    assert before["8001"].paused == {"就餐": 600.0}
    assert on_the_day["8001"].paused == {"就餐": 1200.0}


def test_a_day_is_cut_at_midnight_beijing_time_not_utc() -> None:
    # 07:30-08:30 UTC+8 is 23:30-00:30 UTC: all of it on the 25th in Bazhong.
    ready = _interval(AgentState.READY, "2026-11-25 07:30", "2026-11-25 08:30")
    assert DAY_START.utcoffset() == timedelta(hours=8)

    sheet = time_in_states([ready], DAY_START, DAY_END, at("2026-11-26 09:00"))["8001"]

    assert sheet.ready == 3600.0


def test_the_day_adds_up_by_state_and_reason() -> None:
    intervals = [
        _interval(AgentState.READY, "2026-11-25 08:30", "2026-11-25 09:00"),
        _interval(AgentState.RINGING, "2026-11-25 09:00", "2026-11-25 09:00:10"),
        _interval(AgentState.ON_CALL, "2026-11-25 09:00:10", "2026-11-25 09:05:10"),
        _interval(AgentState.WRAPUP, "2026-11-25 09:05:10", "2026-11-25 09:07:10", "话后整理"),
        _interval(AgentState.PAUSED, "2026-11-25 09:07:10", "2026-11-25 09:17:10", "小休"),
        _interval(AgentState.PAUSED, "2026-11-25 12:00", "2026-11-25 13:00", "就餐"),
        _interval(AgentState.PAUSED, "2026-11-25 13:00", "2026-11-25 13:01", None),  # a phone sent no reason
        _interval(AgentState.LOGGED_OUT, "2026-11-25 17:30", None),
        _interval(AgentState.READY, "2026-11-25 09:00", "2026-11-25 10:00", extension="8002"),
    ]

    sheets = time_in_states(intervals, DAY_START, DAY_END, at("2026-11-26 09:00"))

    s = sheets["8001"]
    assert (s.ready, s.ringing, s.on_call, s.wrapup) == (1800.0, 10.0, 300.0, 120.0)
    assert s.paused == {"小休": 600.0, "就餐": 3600.0, "": 60.0}
    assert s.logged_in == 1800 + 10 + 300 + 120 + 600 + 3600 + 60
    assert sheets["8002"].ready == 3600.0


def test_an_open_interval_counts_up_to_now_today() -> None:
    still_ready = _interval(AgentState.READY, "2026-11-25 08:30", None)

    sheet = time_in_states([still_ready], DAY_START, DAY_END, at("2026-11-25 10:00"))["8001"]

    assert sheet.ready == 5400.0


def test_an_interval_outside_the_day_counts_nothing() -> None:
    yesterday = _interval(AgentState.READY, "2026-11-24 08:00", "2026-11-24 17:00")
    assert clipped_seconds(yesterday, DAY_START, DAY_END, at("2026-11-26 09:00")) == 0.0
    assert time_in_states([yesterday], DAY_START, DAY_END, at("2026-11-26 09:00")) == {}


def test_moments_compare_across_zones() -> None:
    assert DAY_START == datetime.fromisoformat("2026-11-24T16:00:00+00:00")

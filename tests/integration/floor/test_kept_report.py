"""Kept places (keep your place) in the floor's reports, from stored calls and
keep_place_requests rows, on SQLite and PostgreSQL.

Calls (Bazhong time), stored through the call store as the capture stores them; a call that
pressed 1 left the queue unanswered without hanging up, so it is stored as a timeout:

    k0  Tue 11-24 16:00  hotline, pressed 1 16:01                      done: the day before
    c1  Wed 11-25 09:00  hotline, answered 09:00:10 (8001)
    k1        09:10      hotline, pressed 1 09:12, left the queue      done: called back, answered 09:32 (1200 s)
    k2        09:20      hotline, pressed 1 09:21                      failed
    k3        10:00      vip, pressed 1 10:05                          done: answered 10:06 (60 s)
    c2        11:00      hotline, left the queue 11:05 (timeout)       lost
    k4        23:59      hotline, pressed 1 00:00:30 on the 26th       waiting (carried): still the 25th's
    --        14:00      vip, a press of 1 whose call was never stored  cancelled

The 25th: 6 calls, 6 人工请求; answered on the call 1 (c1), kept 4 (k1 k2 k3 k4), reached 2
(k1 k3), lost 1 (c2): 接通率 3/6, without callbacks 1/6, 呼损率 1/6 (5/6 before kept places
were told apart). Kept places: 5 (k1 k2 k3 k4 and the unstored one): reached 2, failed 1,
cancelled 1, open 1; callbacks reached 2/3; waits 1200 and 60: mean 630, p90 and longest 1200.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.calls.store import CallStore
from hotline.clock import FakeClock
from hotline.config import FloorSettings
from hotline.events import CallAnswered, CallArrived, CallEnded, CallEvent, CallLeftQueue, CallQueued, Outcome
from hotline.floor.reports import FloorReports, to_csv
from hotline.keepplace.tables import keep_place_requests
from hotline.tickets.workdays import LOCAL_ZONE
from tests.unit.tickets.moments import at


def utc(moment: str) -> datetime:
    return at(moment).astimezone(UTC)


def queued(call: str, moment: str, number: str, queue: str = "hotline") -> list[CallEvent]:
    return [CallArrived(call, utc(moment), number, None, f"PJSIP/trunk-{call}"), CallQueued(call, utc(moment), queue, 1)]


def pressed_1(call: str, moment: str, queue: str = "hotline") -> list[CallEvent]:
    """Left the queue on the key, then hung up once told when they will be called."""
    left = utc(moment)
    return [CallLeftQueue(call, left, queue, 1, "keep-place", "1"), CallEnded(call, left.replace(second=30), Outcome.TIMEOUT, None)]


CALLS: list[CallEvent] = [
    *queued("k0", "2026-11-24 16:00", "13900000000"), *pressed_1("k0", "2026-11-24 16:01"),
    *queued("c1", "2026-11-25 09:00", "13800000001"),
    CallAnswered("c1", utc("2026-11-25 09:00:10"), "hotline", "agent-8001", "PJSIP/8001", 10), CallEnded("c1", utc("2026-11-25 09:03"), Outcome.ANSWERED, None),
    *queued("k1", "2026-11-25 09:10", "13900000001"), *pressed_1("k1", "2026-11-25 09:12"),
    *queued("k2", "2026-11-25 09:20", "13900000002"), *pressed_1("k2", "2026-11-25 09:21"),
    *queued("k3", "2026-11-25 10:00", "13900000003", "vip"), *pressed_1("k3", "2026-11-25 10:05", "vip"),
    *queued("c2", "2026-11-25 11:00", "13800000002"),
    CallLeftQueue("c2", utc("2026-11-25 11:05"), "hotline", 1, None, None), CallEnded("c2", utc("2026-11-25 11:05:05"), Outcome.TIMEOUT, None),
    *queued("k4", "2026-11-25 23:59", "13900000004"), *pressed_1("k4", "2026-11-26 00:00"),
]  # fmt: skip


def request(call_id: str, queue: str, number: str, pressed: str, state: str, ended: str | None = None) -> dict[str, Any]:
    when = utc(pressed)
    open_ = state in ("waiting", "calling")
    return {
        "number": number, "caller_number": number, "call_id": call_id, "queue": queue, "priority": 0, "tier": "regular", "position": 1,
        "joined_at": when, "requested_at": when, "state": state, "callback_id": None, "attempts": 0 if open_ else 1, "carried": call_id == "k4",
        "not_before": None, "open_key": number if open_ else None, "note": None, "ended_at": utc(ended) if ended else None,
        "created_at": when, "updated_at": utc(ended) if ended else when, "version": 1,
    }  # fmt: skip


REQUESTS = [
    request("k0", "hotline", "13900000000", "2026-11-24 16:01", "done", "2026-11-24 16:11"),
    request("k1", "hotline", "13900000001", "2026-11-25 09:12", "done", "2026-11-25 09:32"),
    request("k2", "hotline", "13900000002", "2026-11-25 09:21", "failed", "2026-11-25 11:00"),
    request("k3", "vip", "13900000003", "2026-11-25 10:05", "done", "2026-11-25 10:06"),
    request("1764050400.99", "vip", "13900000005", "2026-11-25 14:00", "cancelled", "2026-11-25 14:20"),  # its call never stored
    request("k4", "hotline", "13900000004", "2026-11-26 00:00:30", "waiting"),
]


def rate(part: int, whole: int, value: float | None, target: float | None = None, met: bool | None = None) -> dict[str, Any]:
    return {"value": value, "part": part, "whole": whole, "target": target, "met": met}


@pytest.fixture
async def reports(engine: AsyncEngine) -> FloorReports:
    await CallStore(engine).record(CALLS)
    async with engine.begin() as conn:
        await conn.execute(insert(keep_place_requests), REQUESTS)
    return FloorReports(engine, FakeClock(at("2026-11-26 09:00")), FloorSettings(), LOCAL_ZONE)


async def test_calls_that_pressed_1_are_kept_places_not_lost(reports: FloorReports) -> None:
    calls = (await reports.report("day", date(2026, 11, 25)))["calls"]

    total = calls["total"]
    assert (total["calls"], total["requests"], total["answered"], total["kept"], total["kept_reached"], total["timed_out"], total["lost"]) == (6, 6, 1, 4, 2, 1, 1)
    assert total["answer_rate"] == rate(3, 6, 0.5, 0.95, False)  # c1, and k1 k3 called back and reached
    assert total["answer_rate_live"] == rate(1, 6, 0.1667)
    assert total["lost_rate"] == rate(1, 6, 0.1667, 0.05, False)  # c2 alone
    assert total["service_level"] == rate(1, 6, 0.1667, 0.8, False)
    assert [(q["group"], q["requests"], q["answered"], q["kept"], q["kept_reached"], q["lost"]) for q in calls["queues"]] == [
        ("hotline", 5, 1, 3, 1, 1),
        ("vip", 1, 0, 1, 1, 0),
    ]
    assert [(h["group"], h["kept"]) for h in calls["hours"] if h["kept"]] == [("09", 2), ("10", 1), ("23", 1)]


async def test_the_kept_places_of_the_day_with_their_waits(reports: FloorReports) -> None:
    kept = (await reports.report("day", date(2026, 11, 25)))["calls"]["kept_places"]

    assert kept["total"] == {
        "group": "all",
        "requests": 5,
        "reached": 2,
        "failed": 1,
        "cancelled": 1,
        "open": 1,
        "reached_rate": rate(2, 3, 0.6667),
        "average_wait_seconds": 630.0,
        "p90_wait_seconds": 1200.0,
        "longest_wait_seconds": 1200.0,
    }
    assert [(q["group"], q["requests"], q["reached"], q["failed"], q["cancelled"], q["open"], q["longest_wait_seconds"]) for q in kept["queues"]] == [
        ("hotline", 3, 1, 1, 0, 1, 1200.0),
        ("vip", 2, 1, 0, 1, 0, 60.0),
    ]


async def test_a_kept_place_belongs_to_the_period_its_call_arrived_in(reports: FloorReports) -> None:
    """k4 pressed 1 after midnight: the 25th's, like its call; the 24th has k0 alone."""
    day24 = await reports.report("day", date(2026, 11, 24))
    day26 = await reports.report("day", date(2026, 11, 26))
    week = await reports.report("week", date(2026, 11, 25))

    assert (day24["calls"]["total"]["kept"], day24["calls"]["kept_places"]["total"]["requests"], day24["calls"]["kept_places"]["total"]["average_wait_seconds"]) == (1, 1, 600.0)
    assert (day26["calls"]["total"]["calls"], day26["calls"]["kept_places"]["total"]["requests"]) == (0, 0)
    assert (week["calls"]["total"]["kept"], week["calls"]["total"]["lost"], week["calls"]["kept_places"]["total"]["requests"]) == (5, 1, 6)


async def test_today_tells_kept_places_from_lost_calls(reports: FloorReports) -> None:
    assert isinstance(reports.clock, FakeClock)
    reports.clock.set(at("2026-11-25 23:59:59"))

    today = (await reports.today())["total"]

    assert (today["requests"], today["kept"], today["kept_reached"], today["lost"], today["answer_rate"]["part"]) == (6, 4, 2, 1, 3)


async def test_the_csv_has_the_kept_places_and_says_how_they_count(reports: FloorReports) -> None:
    rows = list(csv.reader(io.StringIO(to_csv(await reports.report("day", date(2026, 11, 25))))))

    definition = next(row for row in rows if row[:1] == ["口径"])
    assert "不计呼损" in definition[1] and "回呼接通（客户接听）计入接通率" in definition[1]
    at_total = rows.index(["通话·合计"])
    assert rows[at_total + 1][-3:] == ["保留排位", "保留排位回呼接通", "接通率(不含回呼)%"]
    assert rows[at_total + 2][-3:] == ["4", "2", "16.7"]
    assert rows[at_total + 2][9:11] == ["1", "50.0"]  # 呼损 c2 alone; 接通率 3/6
    at_kept = rows.index(["保留排位·按队列"])
    assert rows[at_kept + 1][0] == "队列"
    assert rows[at_kept + 2 : at_kept + 5] == [
        ["hotline", "3", "1", "1", "0", "1", "50.0", "1200.0", "1200.0", "1200.0"],
        ["vip", "2", "1", "0", "1", "0", "100.0", "60.0", "60.0", "60.0"],
        ["all", "5", "2", "1", "1", "1", "66.7", "630.0", "1200.0", "1200.0"],
    ]

"""Taking keep-your-place requests (SQLite and PostgreSQL, FakeClock): stored at once with
the queue, priority, join time and number; one open request per number however often 1 is
pressed; kept through a restart; the real keep-place transcript gives the stored request."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.framing import AmiFramer
from hotline.callbacks.model import CallbackKind, Mode
from hotline.callbacks.owed import LostCallers, LostCallPolicy
from hotline.clock import FakeClock
from hotline.db.engine import create_engine
from hotline.keepplace.ask import KeepPlaceAsk, KeepPlaceRefused
from hotline.testing.transcripts import TRACES_DIR
from tests.unit.callbacks.moments import at

from .line import START, Hotline

SUN_BA = "13900000202"  # pressed 1 at place 2 of `hotline` in keep-place.ami


async def test_a_request_is_stored_at_once_with_its_queue_priority_join_time_and_number(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await hotline.joins("c1", "+86 139 0000 0001", priority=10, tier="vip")
    hotline.clock.advance(timedelta(minutes=4))
    answer = await hotline.presses_1("c1", position=3)

    [row] = await hotline.requests()
    assert answer.request_id == f"KP-{row['id']}" and not answer.next_day
    assert (row["number"], row["caller_number"], row["call_id"], row["queue"]) == ("13900000001", "13900000001", "c1", "hotline")
    assert (row["priority"], row["tier"], row["position"], row["state"]) == (10, "vip", 3, "waiting")
    assert row["joined_at"] == START  # the place is the call's join time, not the press of 1
    assert row["requested_at"] == START + timedelta(minutes=5)
    assert (row["open_key"], row["carried"], row["callback_id"]) == ("13900000001", False, None)


async def test_the_wait_told_counts_the_callers_ahead_live_and_virtual(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    hotline.agent("8001", "on_call")
    await hotline.joins("L1", "13900000001")
    await hotline.joins("V1", "13900000002")
    await hotline.joins("V2", "13900000003")
    await hotline.presses_1("V1")
    # V2 has L1 and V1 before it; one agent, no calls yet to learn from: 3 min each.
    answer = await hotline.presses_1("V2", position=2)
    assert (answer.minutes, answer.next_day) == (9, False)


async def test_pressing_1_twice_or_on_a_second_call_gives_the_same_request_in_its_earlier_place(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await hotline.joins("c1", "13900000001")
    first = await hotline.presses_1("c1")
    assert hotline.last_ask is not None
    again = await hotline.desk.request(hotline.last_ask)  # the dialplan asked twice
    hotline.clock.advance(timedelta(minutes=10))
    await hotline.joins("c2", "013900000001")  # rings again, waits, presses 1 again
    third = await hotline.presses_1("c2")

    assert first.request_id == again.request_id == third.request_id
    [row] = await hotline.requests()
    assert (row["call_id"], row["joined_at"]) == ("c1", START)


async def test_a_caller_who_keyed_another_number_is_still_one_request(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await hotline.joins("c1", "13900000001")
    first = await hotline.presses_1("c1", number="08275551234")  # "call me at home"
    await hotline.joins("c2", "13900000001")
    again = await hotline.presses_1("c2")
    assert first.request_id == again.request_id
    [row] = await hotline.requests()
    assert (row["number"], row["caller_number"]) == ("08275551234", "13900000001")


async def test_presses_of_1_at_the_same_moment_on_two_instances_keep_one_request(engine: AsyncEngine, db_url: str) -> None:
    one = Hotline(engine)
    other_engine = create_engine(db_url)
    try:
        two = Hotline(other_engine, one.clock)
        await one.joins("c1", "13900000001")
        ask = KeepPlaceAsk("13900000001", False, "hotline", 1, 0, "regular", "c1", "13900000001")
        answers = await asyncio.gather(one.desk.request(ask), two.desk.request(ask))
    finally:
        await other_engine.dispose()
    assert answers[0].request_id == answers[1].request_id
    assert len(await one.requests()) == 1


@pytest.mark.parametrize("number", ["110", "anonymous", "12", "ext:8001"])
async def test_a_number_that_cannot_be_called_back_is_refused(engine: AsyncEngine, number: str) -> None:
    hotline = Hotline(engine)
    with pytest.raises(KeepPlaceRefused) as refused:
        await hotline.desk.request(KeepPlaceAsk(number, True, "hotline", 1, 0, "regular", "c1", None))
    assert "call back" in refused.value.reason
    assert await hotline.requests() == []


async def test_a_restart_loses_no_request(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await hotline.joins("c1", "13900000001")
    answer = await hotline.presses_1("c1")

    again = await hotline.restarted()
    [row] = await again.requests()
    assert (f"KP-{row['id']}", row["state"]) == (answer.request_id, "waiting")
    again.agent("8002")
    [(key, _callback, agent)] = await again.scheduler.run_once()
    assert (key, agent) == (answer.request_id, "8002")


async def test_pressing_1_late_in_the_day_is_carried_to_the_next_opening_and_told_so(engine: AsyncEngine) -> None:
    hotline = Hotline(engine, FakeClock(at("2026-11-25 19:40")))
    hotline.agent("8001", "on_call")
    for n in range(1, 9):
        await hotline.joins(f"L{n}", f"1390000100{n}")  # eight callers before, 3 min each
    await hotline.joins("c1", "13900000001")
    answer = await hotline.presses_1("c1")

    [row] = await hotline.requests()
    assert answer.next_day and row["carried"]
    assert row["not_before"] == at("2026-11-26 09:00")
    assert answer.minutes == (at("2026-11-26 09:00") - hotline.clock.now()) // timedelta(minutes=1)


async def test_an_unknown_tier_is_kept_as_regular(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await hotline.desk.request(KeepPlaceAsk("13900000001", False, "hotline", 1, 0, "gold", "c-unknown", None))
    [row] = await hotline.requests()
    assert (row["tier"], row["joined_at"]) == ("regular", START)  # no stored call: joined now


def _keep_place_until_pressed_1() -> list[dict[str, str]]:
    """keep-place.ami up to the dialplan's HotlineKeepPlace UserEvent: the FastAGI
    question came just before it, while the call was up."""
    messages = [m for m in AmiFramer().feed((TRACES_DIR / "keep-place.ami").read_bytes()) if isinstance(m, dict)]
    cut = next(i for i, m in enumerate(messages) if m.get("UserEvent") == "HotlineKeepPlace")
    return messages[:cut]


async def test_the_recorded_press_of_1_gives_the_stored_request_with_its_queue_and_position(engine: AsyncEngine) -> None:
    pressed_at = datetime.fromtimestamp(1795544586.74, UTC)  # 02:23:06 in Bazhong, before the window opens
    hotline = Hotline(engine, FakeClock(pressed_at))
    await hotline.capture.handle(_keep_place_until_pressed_1())  # type: ignore[arg-type]
    # What keep-place.agi's connection 3 asked: its channel is the Local ;2 half (.27),
    # the call is named by its Linkedid (.26).
    ask = KeepPlaceAsk(SUN_BA, False, "hotline", 2, 0, "regular", "1795544583.27", SUN_BA)
    answer = await hotline.desk.request(ask)

    [row] = await hotline.requests()
    assert (row["call_id"], row["queue"], row["position"], row["number"]) == ("1795544583.26", "hotline", 2, SUN_BA)
    assert row["joined_at"] == datetime.fromtimestamp(1795544584.035137, UTC)  # its QueueCallerJoin
    # Called that morning: 6 h 37 min to the 09:00 opening, then 钱七 (still queued) and
    # 孙八 at 3 min each with no agent logged in (counted as one): 09:06, 403 minutes.
    assert (answer.next_day, row["carried"], answer.minutes) == (False, False, 403)


async def test_a_lost_callers_callback_for_the_same_call_is_replaced_by_the_kept_place(engine: AsyncEngine) -> None:
    """After hours the press-1 call ends unanswered and LostCallers owes it a callback too:
    the kept place calls them back, never both."""
    hotline = Hotline(engine)
    lost = LostCallers(engine, hotline.store, hotline.clock, LostCallPolicy(Mode.AGENT_FIRST, 3, "0827"), in_working_hours=lambda _: False)
    hotline.bus.handlers.clear()
    lost.subscribe(hotline.bus)
    hotline.scheduler.subscribe(hotline.bus)  # after LostCallers, as the service wires them
    await hotline.joins("c1", "13900000001")
    answer = await hotline.presses_1("c1")

    [owed] = await hotline.callbacks()
    assert (owed["kind"], owed["state"], owed["open_key"]) == (CallbackKind.AFTER_HOURS.value, "cancelled", None)
    assert answer.request_id in owed["note"]
    hotline.agent("8001")
    await hotline.scheduler.run_once()
    assert [(c["kind"], c["state"]) for c in await hotline.callbacks()] == [("after_hours", "cancelled"), ("keep_place", "scheduled")]


async def test_a_lost_callers_callback_owed_before_is_replaced_when_they_press_1(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    lost = LostCallers(engine, hotline.store, hotline.clock, LostCallPolicy(Mode.AGENT_FIRST, 3, "0827"), in_working_hours=lambda _: True)
    owed = await lost.owe(CallbackKind.ABANDONED, "13900000001", "regular", call_id="earlier", at=hotline.clock.now())
    await hotline.joins("c1", "13900000001")
    answer = await hotline.presses_1("c1")
    [callback] = await hotline.callbacks()
    assert (callback["id"], callback["state"], callback["open_key"]) == (owed, "cancelled", None)
    assert answer.request_id in callback["note"]

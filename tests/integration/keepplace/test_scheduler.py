"""When kept places are called back (SQLite and PostgreSQL, FakeClock): in their place in
the line among live callers, only to a free agent of the queue, never more than the free
agents, never twice, never to someone who was served meanwhile; each callback followed to
its end, a retry held until its turn and an agent come again; what the window closes on is
carried to its next opening; a restart or a second instance changes none of it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.callbacks.dispatcher import CallbackDispatcher, Placing
from hotline.callbacks.model import CallbackKind
from hotline.callbacks.policy import DEFAULT_RETRY, DEFAULT_WINDOW, priority
from hotline.clock import FakeClock
from hotline.db.engine import create_engine
from hotline.floor.events import AgentStateChanged
from hotline.floor.states import AgentState
from hotline.tickets.workdays import LOCAL_ZONE
from tests.unit.callbacks.moments import at

from .line import START, Hotline


async def kept(hotline: Hotline, call_id: str, number: str, **route: Any) -> str:
    """A caller joins the queue now and presses 1 a minute later."""
    await hotline.joins(call_id, number, **route)
    return (await hotline.presses_1(call_id)).request_id


def handed(rounds: list[tuple[str, int, str]]) -> list[tuple[str, str]]:
    return [(key, agent) for key, _callback, agent in rounds]


async def test_a_queue_with_live_and_virtual_callers_is_served_in_join_order(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    hotline.agent("8001", "on_call")
    await hotline.joins("L1", "13900000011")  # 10:00
    v1 = await kept(hotline, "V1", "13900000001")  # joined 10:01
    await hotline.joins("L2", "13900000012")  # 10:03
    v2 = await kept(hotline, "V2", "13900000002")  # joined 10:04

    assert await hotline.scheduler.run_once() == []  # everyone busy
    hotline.agent("8002")  # free: but L1 waits before V1, and Asterisk gives 8002 to L1
    assert await hotline.scheduler.run_once() == []
    await hotline.answered("L1", "8002")
    hotline.agent("8002", "on_call")
    hotline.agent("8003")
    hotline.agent("8004")
    # V1's turn: one callback only, L2 is before V2 with 8004 free for L2.
    assert handed(await hotline.scheduler.run_once()) == [(v1, "8003")]
    assert await hotline.scheduler.run_once() == []
    await hotline.answered("L2", "8004")
    hotline.agent("8004", "on_call")
    hotline.agent("8005")
    assert handed(await hotline.scheduler.run_once()) == [(v2, "8005")]


async def test_the_callback_written_rings_the_free_agent_first_as_a_kept_place_callback(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    request = await kept(hotline, "V1", "+86 139 0000 0001", priority=10, tier="vip")
    hotline.agent("8007")
    [(key, callback_id, agent)] = await hotline.scheduler.run_once()

    [callback] = await hotline.callbacks()
    assert (key, agent, callback["id"]) == (request, "8007", callback_id)
    assert (callback["kind"], callback["mode"], callback["agent_extension"]) == ("keep_place", "agent_first", "8007")
    assert (callback["number"], callback["tier"], callback["priority"]) == ("13900000001", "vip", priority(CallbackKind.KEEP_PLACE, "vip"))
    assert (callback["state"], callback["next_attempt_at"], callback["attempts"]) == ("scheduled", hotline.clock.now(), 0)
    assert (callback["call_id"], callback["open_key"]) == ("V1", "13900000001")
    assert request in callback["note"]
    [row] = await hotline.requests()
    assert (row["state"], row["callback_id"]) == ("calling", callback_id)


async def test_no_callback_while_all_agents_are_busy(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await kept(hotline, "V1", "13900000001")
    for extension, state in [("8001", "on_call"), ("8002", "ringing"), ("8003", "paused"), ("8004", "wrapup"), ("8005", "logged_out")]:
        hotline.agent(extension, state)
    hotline.agent("8009", queues=("vip",))  # free, but not an agent of this queue
    assert await hotline.scheduler.run_once() == []
    assert await hotline.callbacks() == []


async def test_never_more_callbacks_in_flight_than_free_agents(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    for n in (1, 2, 3):
        await kept(hotline, f"V{n}", f"1390000000{n}")
    hotline.agent("8001")
    hotline.agent("8002")
    assert [agent for _, agent in handed(await hotline.scheduler.run_once())] == ["8001", "8002"]
    # The dispatcher has not rung them yet: the floor still shows them ready, but they are
    # set aside for those two callbacks.
    assert await hotline.scheduler.run_once() == []
    [first, second] = await hotline.callbacks()
    await hotline.callback_becomes(first["id"], state="in_flight", next_attempt_at=None, attempts=1)
    assert await hotline.scheduler.run_once() == []
    # The first call is over (answered, hung up); 8001 is ready again: the third goes to it.
    await hotline.callback_becomes(first["id"], state="done", outcome="answered", open_key=None)
    assert handed(await hotline.scheduler.run_once())[0][1] == "8001"
    assert len(await hotline.callbacks()) == 3


async def test_vip_order_is_kept_between_live_and_virtual_callers(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    regular = await kept(hotline, "V1", "13900000001")  # joined 10:00
    await hotline.joins("VIP", "13900000099", priority=10, tier="vip")  # 10:02, before V1 in the line
    hotline.agent("8001")
    assert await hotline.scheduler.run_once() == []
    await hotline.answered("VIP", "8001")
    hotline.agent("8001", "on_call")
    vip = await kept(hotline, "V2", "13900000002", priority=10, tier="vip")  # 10:03, a VIP presses 1
    await hotline.joins("L1", "13900000011", priority=10)
    hotline.agent("8002")
    assert handed(await hotline.scheduler.run_once()) == [(vip, "8002")]  # VIP V2 before L1 and V1
    assert regular not in {key for key, _ in handed(await hotline.scheduler.run_once())}


async def test_no_duplicate_after_a_caller_presses_1_twice_or_calls_again(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    first = await kept(hotline, "c1", "13900000001")
    assert hotline.last_ask is not None
    await hotline.desk.request(hotline.last_ask)
    again = await kept(hotline, "c2", "13900000001")
    hotline.agent("8001")
    hotline.agent("8002")
    assert handed(await hotline.scheduler.run_once()) == [(first, "8001")] and again == first
    assert await hotline.scheduler.run_once() == []
    assert len(await hotline.callbacks()) == 1
    # Pressing 1 while their callback is being placed gives the same request, no new one.
    assert (await kept(hotline, "c3", "13900000001")) == first
    assert await hotline.scheduler.run_once() == []
    assert len(await hotline.callbacks()) == 1


async def test_a_caller_served_meanwhile_is_not_called(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    hotline.agent("8001", "on_call")
    await kept(hotline, "c1", "13900000001")
    await hotline.joins("c2", "013900000001")  # rings again and is answered
    await hotline.answered("c2")
    [row] = await hotline.requests()
    assert (row["state"], row["open_key"]) == ("cancelled", None)
    assert "answered" in row["note"]
    hotline.agent("8002")
    assert await hotline.scheduler.run_once() == []
    assert await hotline.callbacks() == []


async def test_a_caller_waiting_live_again_is_not_called_back_meanwhile(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await kept(hotline, "c1", "13900000001")
    await hotline.joins("c2", "13900000001")  # rang again and waits in the queue
    hotline.agent("8001")
    assert await hotline.scheduler.run_once() == []  # their line would be busy


async def test_a_callback_already_ringing_is_let_finish_and_not_tried_again(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await kept(hotline, "c1", "13900000001")
    hotline.agent("8001")
    [(_key, callback_id, _agent)] = await hotline.scheduler.run_once()
    await hotline.callback_becomes(callback_id, state="in_flight", next_attempt_at=None, attempts=1)
    await hotline.joins("c2", "13900000001")
    await hotline.answered("c2", "8002")

    [callback] = await hotline.callbacks()
    assert callback["state"] == "in_flight" and "answered" in callback["stop_reason"]
    assert (await hotline.requests())[0]["state"] == "calling"
    # The dispatcher settles it as the stop reason says (settle.py): cancelled, not retried.
    await hotline.callback_becomes(callback_id, state="cancelled", open_key=None, note=callback["stop_reason"])
    await hotline.scheduler.run_once()
    [row] = await hotline.requests()
    assert (row["state"], row["open_key"]) == ("cancelled", None)


async def test_a_live_caller_with_an_earlier_place_holds_the_callback_back_until_answered(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await hotline.joins("L1", "13900000011", priority=0)
    request = await kept(hotline, "V1", "13900000001")
    hotline.agent("8001")
    hotline.agent("8002")
    assert await hotline.scheduler.run_once() == []
    await hotline.events()  # nothing new
    await hotline.answered("L1", "8001")
    hotline.agent("8001", "on_call")
    assert handed(await hotline.scheduler.run_once()) == [(request, "8002")]


async def test_the_request_follows_its_callback_to_the_end(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await kept(hotline, "c1", "13900000001")
    await kept(hotline, "c2", "13900000002")
    hotline.agent("8001")
    hotline.agent("8002")
    [(_, answered, _), (_, failed, _)] = await hotline.scheduler.run_once()
    hotline.clock.advance(timedelta(minutes=3))
    await hotline.callback_becomes(answered, state="done", outcome="answered", open_key=None)
    await hotline.callback_becomes(failed, state="failed", outcome="no_answer", open_key=None, note="3 次均未接通")
    await hotline.scheduler.run_once()

    done, given_up = await hotline.requests()
    assert (done["state"], done["open_key"], done["ended_at"]) == ("done", None, hotline.clock.now())
    assert (given_up["state"], given_up["note"]) == ("failed", "3 次均未接通")
    [served] = [r for r in await hotline.desk.served(START, START + timedelta(hours=1)) if r["state"] == "done"]
    assert served["wait_seconds"] == (hotline.clock.now() - done["requested_at"]).total_seconds()


async def test_a_retry_waits_its_time_then_goes_to_a_free_agent_and_the_agent_is_released_meanwhile(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await kept(hotline, "c1", "13900000001")
    hotline.agent("8001")
    [(key, callback_id, _)] = await hotline.scheduler.run_once()
    # The customer did not answer: the dispatcher schedules the next try in 30 minutes.
    retry_at = hotline.clock.now() + timedelta(minutes=30)
    await hotline.callback_becomes(callback_id, state="scheduled", attempts=1, outcome="no_answer", next_attempt_at=retry_at)
    await hotline.scheduler.run_once()
    [row] = await hotline.requests()
    [callback] = await hotline.callbacks()
    assert (row["state"], row["not_before"], callback["next_attempt_at"]) == ("waiting", retry_at, None)  # 8001 is free for others

    other = await kept(hotline, "c2", "13900000002")
    assert handed(await hotline.scheduler.run_once()) == [(other, "8001")]
    hotline.agent("8001", "on_call")
    hotline.clock.set(retry_at)
    assert await hotline.scheduler.run_once() == []  # its time, but no agent free
    hotline.agent("8003")
    assert handed(await hotline.scheduler.run_once()) == [(key, "8003")]
    callback = next(c for c in await hotline.callbacks() if c["id"] == callback_id)
    assert (callback["agent_extension"], callback["next_attempt_at"], callback["attempts"]) == ("8003", retry_at, 1)


async def test_waiting_requests_are_carried_to_the_next_opening_ahead_of_new_callers(engine: AsyncEngine) -> None:
    hotline = Hotline(engine, FakeClock(at("2026-11-25 19:50")))
    hotline.agent("8001", "on_call")
    late = await kept(hotline, "c1", "13900000001")
    hotline.clock.set(at("2026-11-25 20:00"))  # the window closes before its turn came
    hotline.agent("8001")
    assert await hotline.scheduler.run_once() == []
    [row] = await hotline.requests()
    assert (row["carried"], row["not_before"]) == (True, at("2026-11-26 09:00"))

    hotline.clock.set(at("2026-11-26 08:55"))
    await hotline.joins("VIP", "13900000099", priority=10, tier="vip")  # today's first caller
    hotline.clock.set(at("2026-11-26 09:00"))
    assert handed(await hotline.scheduler.run_once()) == [(late, "8001")]


async def test_a_restart_loses_no_request_and_follows_a_callback_begun_before_it(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    first = await kept(hotline, "c1", "13900000001")
    second = await kept(hotline, "c2", "13900000002")
    hotline.agent("8001")
    [(key, callback_id, _)] = await hotline.scheduler.run_once()
    assert key == first

    again = await hotline.restarted()
    await again.callback_becomes(callback_id, state="done", outcome="answered", open_key=None)
    again.agent("8001")
    assert handed(await again.scheduler.run_once()) == [(second, "8001")]
    assert [r["state"] for r in await again.requests()] == ["done", "calling"]


async def test_two_instances_deciding_at_once_write_one_callback(engine: AsyncEngine, db_url: str) -> None:
    one = Hotline(engine)
    other_engine = create_engine(db_url)
    try:
        two = Hotline(other_engine, one.clock, one.agents)
        await kept(one, "c1", "13900000001")
        one.agent("8001")
        one.agent("8002")
        rounds = await asyncio.gather(one.scheduler.run_once(), two.scheduler.run_once(), one.scheduler.run_once())
    finally:
        await other_engine.dispose()
    assert sum(len(r) for r in rounds) == 1
    assert len(await one.callbacks()) == 1


async def test_the_floor_can_hand_an_agent_ending_after_call_work_to_the_kept_place_first(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    request = await kept(hotline, "c1", "13900000001")
    hotline.agent("8001", "wrapup")
    assert await hotline.scheduler.run_once() == []
    assert await hotline.scheduler.claim_agent("8001") == request
    assert await hotline.scheduler.claim_agent("8001") is None  # set aside already
    await hotline.joins("L1", "13900000011")
    await kept(hotline, "c2", "13900000002")
    hotline.agent("8002", "wrapup")
    assert await hotline.scheduler.claim_agent("8002") is None  # L1 waits first: 8002 is L1's


async def test_the_dispatcher_rings_the_chosen_agent_then_dials_the_customer(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    await kept(hotline, "c1", "+86 139 0000 0001")
    hotline.agent("8004")
    await hotline.scheduler.run_once()
    sent: list[dict[str, Any]] = []

    async def send(action: dict[str, Any]) -> dict[str, Any]:
        sent.append(action)
        return {"Response": "Success"}

    async def no_channels() -> set[str]:
        return set()

    placing = Placing("PJSIP/{extension}", "PJSIP/{number}@carrier", "8101", 30, 2, DEFAULT_WINDOW, DEFAULT_RETRY, LOCAL_ZONE)
    dispatcher = CallbackDispatcher(engine, hotline.clock, placing, send, is_working_day=lambda _: True, live_channels=no_channels)
    assert await dispatcher.run_once() == 1
    [originate] = sent
    assert (originate["Channel"], originate["Context"], originate["Exten"]) == ("PJSIP/8004", "hotline-callback", "13900000001")
    # The customer does not answer: a retry in 30 minutes, 8004 free at once for others.
    await dispatcher.record({"Event": "UserEvent", "UserEvent": "HotlineCallback", "Uniqueid": originate["ChannelId"], "DialStatus": "NOANSWER"})
    await dispatcher.record({"Event": "Hangup", "Uniqueid": originate["ChannelId"], "Cause": "16"})
    await hotline.scheduler.run_once()
    [row] = await hotline.requests()
    assert (row["state"], row["not_before"]) == ("waiting", hotline.clock.now() + timedelta(minutes=30))
    await kept(hotline, "c2", "13900000002")
    assert [agent for _, agent in handed(await hotline.scheduler.run_once())] == ["8004"]


async def test_the_loop_looks_again_when_an_agent_becomes_free(engine: AsyncEngine) -> None:
    hotline = Hotline(engine)
    hotline.scheduler.poll_interval = timedelta(hours=1)  # only the event can wake it
    request = await kept(hotline, "c1", "13900000001")
    stop = asyncio.Event()
    running = asyncio.create_task(hotline.scheduler.run(stop))
    try:
        await until(lambda: hotline.clock.sleeping > 0)
        hotline.agent("8001")
        await hotline.bus.publish(AgentStateChanged("8001", AgentState.READY, None, hotline.clock.now(), AgentState.WRAPUP, "console", queues=("hotline",)))
        async with asyncio.timeout(5):
            while not await hotline.callbacks():
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
    [row] = await hotline.requests()
    assert (f"KP-{row['id']}", row["state"]) == (request, "calling")


async def test_a_callback_the_window_closed_on_before_it_was_placed_frees_its_agent(engine: AsyncEngine) -> None:
    hotline = Hotline(engine, FakeClock(at("2026-11-25 19:58")))
    hotline.agent("8001")
    await kept(hotline, "c1", "13900000001")  # pressed 1 at 19:59 with an agent free: today
    [(key, callback_id, _)] = await hotline.scheduler.run_once()
    # 20:00: the dispatcher moved it to the window's next opening instead of placing it.
    await hotline.callback_becomes(callback_id, next_attempt_at=at("2026-11-26 09:00"))
    hotline.clock.set(at("2026-11-25 20:01"))
    await hotline.scheduler.run_once()
    [row] = await hotline.requests()
    assert (row["state"], row["carried"], row["not_before"]) == ("waiting", True, at("2026-11-26 09:00"))
    hotline.clock.set(at("2026-11-26 09:00"))
    hotline.agent("8002")
    hotline.agent("8001", "logged_out")
    assert handed(await hotline.scheduler.run_once()) == [(key, "8002")]


async def until(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_request_left_waiting_over_a_night_the_service_was_down_still_goes_first(engine: AsyncEngine) -> None:
    hotline = Hotline(engine, FakeClock(at("2026-11-25 19:00")))
    hotline.agent("8001", "on_call")
    late = await kept(hotline, "c1", "13900000001")  # told today: there was room before 20:00
    hotline.clock.set(at("2026-11-26 09:30"))  # no round ran at 20:00
    await hotline.joins("VIP", "13900000099", priority=10, tier="vip")
    hotline.agent("8001")
    assert handed(await hotline.scheduler.run_once()) == [(late, "8001")]
    [row, *_] = await hotline.requests()
    assert row["carried"]

"""A callback ringing an agent's phone pops on that agent's page: whom they call back, the
customer's profile, why (the callback's kind, its note) and how long the customer waited;
a reload shows it again. A survey (no agent) pops nowhere."""

from __future__ import annotations

from datetime import datetime, timedelta

from hotline.callbacks.events import CallbackPlaced
from hotline.console.callback_pops import CallbackPops

from .conftest import Console, agents


def placed(console: Console, *, extension: str | None, number: str = "13800000001", kind: str = "keep_place", mode: str = "agent_first") -> CallbackPlaced:
    now = console.hub.clock.now()
    return CallbackPlaced(7, 1, "cb-7-1", kind, mode, number, extension, None, "想问宽带续费", now - timedelta(minutes=12), now)


async def test_the_agent_whose_phone_rings_sees_whom_they_call_back_and_why(console: Console) -> None:
    a8001, a8002 = await agents(console, "agent8001", "agent8002")
    pops = CallbackPops(console.engine, console.directory, console.pops.agents, console.pops)
    pops.subscribe(console.bus)

    await console.bus.publish(placed(console, extension="8001"))

    pop = await a8001.next("pop", call_id="cb-7-1")
    assert pop["stage"] == "callback"
    assert (pop["caller"]["name"], pop["caller"]["tier"]) == ("李四", "vip")  # the directory's profile, as for a call
    assert (pop["callback"]["id"], pop["callback"]["kind"], pop["callback"]["note"]) == (7, "keep_place", "想问宽带续费")
    await a8002.sync()
    assert a8002.of_type("pop") == []  # only the agent whose phone rings
    again = await console.connect("agent8001")
    hello = await again.next("hello")
    assert hello["pop"]["call_id"] == "cb-7-1"  # a reload shows it again


async def test_a_survey_rings_no_agent_and_pops_nowhere(console: Console) -> None:
    (a8001,) = await agents(console, "agent8001")
    CallbackPops(console.engine, console.directory, console.pops.agents, console.pops).subscribe(console.bus)
    await console.bus.publish(placed(console, extension=None, mode="survey", kind="follow_up"))
    await a8001.sync()
    assert a8001.of_type("pop") == []


async def test_a_kept_places_pop_counts_the_wait_from_when_they_pressed_1_and_says_their_place(console: Console) -> None:
    (a8001,) = await agents(console, "agent8001")
    pressed = console.hub.clock.now() - timedelta(minutes=40)
    asked: list[int] = []

    async def of_callback(callback_id: int) -> dict[str, object]:
        asked.append(callback_id)
        return {"id": "KP-3", "queue": "hotline", "position": 4, "joined_at": pressed - timedelta(minutes=2), "requested_at": pressed, "carried": False, "number": "13800000001"}

    pops = CallbackPops(console.engine, console.directory, console.pops.agents, console.pops)
    pops.kept_place = of_callback
    pops.subscribe(console.bus)

    await console.bus.publish(placed(console, extension="8001"))

    pop = await a8001.next("pop", call_id="cb-7-1")
    assert asked == [7]
    kept = pop["callback"]["kept"]
    assert (kept["id"], kept["queue"], kept["position"], kept["carried"]) == ("KP-3", "hotline", 4, False)
    assert "number" not in kept
    # Waiting since 1 was pressed (40 min), not since the callback row was written (12 min).
    assert datetime.fromisoformat(pop["callback"]["owed_since"]) == datetime.fromisoformat(kept["requested_at"]) == pressed

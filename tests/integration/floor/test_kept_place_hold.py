"""Keep your place on the floor, over real AMI to the PBX double: an agent made ready while a
kept place's turn has come is handed that callback and held out of the queues (a pause with
the kept-place reason) instead, so Asterisk offers them no later live caller; a ready agent
handed one by the scheduler is held the same way; once the callback is over, or waits for
a retry, the agent is released (made ready) at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.clock import FakeClock
from hotline.floor.agents import KEPT_PLACE_REASON
from tests.integration.floor.test_agents import Floor, until
from tests.integration.floor.test_agents import floor as floor  # the fixture  # noqa: PLC0414
from tests.integration.keepplace.line import Hotline


@pytest.fixture
async def kept(floor: Floor, engine: AsyncEngine) -> AsyncIterator[Hotline]:
    """The keep-place desk and scheduler on the floor's database, clock and agents, wired
    to the floor as the composition root wires them."""
    assert isinstance(floor.clock, FakeClock)
    hotline = Hotline(engine, floor.clock)
    hotline.scheduler.agents = floor.agents.snapshot
    hotline.desk.agents = floor.agents.snapshot
    floor.agents.claim = hotline.scheduler.claim_agent
    hotline.scheduler.floor = floor.agents
    yield hotline


def pauses(floor: Floor) -> list[tuple[str, str | None]]:
    return [(a["Paused"], a.get("Reason")) for a in floor.sent("QueuePause")]


async def press_1(hotline: Hotline, call_id: str, number: str) -> str:
    await hotline.joins(call_id, number)
    return (await hotline.presses_1(call_id)).request_id


async def test_an_agent_made_ready_while_a_kept_place_is_next_is_held_for_its_callback_then_released(floor: Floor, kept: Hotline) -> None:
    status, _ = await floor.post("/api/floor/me/log-in")
    assert status == 200
    await floor.post("/api/floor/me/pause", reason="小休")
    request = await press_1(kept, "c1", "13900000001")

    status, ready = await floor.post("/api/floor/me/ready")

    assert status == 200
    assert (ready["action"], ready["settled"], ready["agent"]["state"], ready["agent"]["reason"]) == ("pause", True, "paused", KEPT_PLACE_REASON)
    assert pauses(floor) == [("true", "小休"), ("true", KEPT_PLACE_REASON)]  # never unpaused: no live call offered
    [callback] = await kept.callbacks()
    assert (callback["kind"], callback["agent_extension"], callback["state"], callback["number"]) == ("keep_place", "8001", "scheduled", "13900000001")
    assert [(r["id"], r["state"]) for r in await kept.requests()] == [(int(request.removeprefix("KP-")), "calling")]

    await kept.scheduler.run_once()  # its callback not placed yet: still held
    assert len(pauses(floor)) == 2

    await kept.callback_becomes(callback["id"], state="done", outcome="answered", open_key=None, next_attempt_at=None)
    await kept.scheduler.run_once()

    await until(lambda: floor.agents.agent("8001").state.value == "ready")
    assert pauses(floor)[-1] == ("false", None)
    assert [r["state"] for r in await kept.requests()] == ["done"]
    rows = await floor.stored("8001", 4)
    assert [(r["state"], r["reason"], r["source"]) for r in rows][1:] == [("paused", "小休", "console"), ("paused", KEPT_PLACE_REASON, "keep_place"), ("ready", None, "keep_place")]


async def test_a_ready_agent_handed_a_kept_place_is_held_and_released_when_the_callback_waits_for_a_retry(floor: Floor, kept: Hotline) -> None:
    await floor.post("/api/floor/me/log-in")
    await press_1(kept, "c1", "13900000001")

    [(_, callback_id, agent)] = await kept.scheduler.run_once()

    assert agent == "8001"
    await until(lambda: floor.agents.agent("8001").reason == KEPT_PLACE_REASON)
    assert pauses(floor) == [("true", KEPT_PLACE_REASON)]

    # The customer did not answer: the dispatcher schedules the next try in 30 minutes.
    retry_at = kept.clock.now() + timedelta(minutes=30)
    await kept.callback_becomes(callback_id, state="scheduled", attempts=1, outcome="no_answer", next_attempt_at=retry_at)
    await kept.scheduler.run_once()  # the retry is held: the agent is not

    await until(lambda: floor.agents.agent("8001").state.value == "ready")
    assert pauses(floor)[-1] == ("false", None)
    [row] = await kept.requests()
    assert (row["state"], row["not_before"]) == ("waiting", retry_at)


async def test_a_live_caller_with_an_earlier_place_gets_the_agent_made_ready(floor: Floor, kept: Hotline) -> None:
    await floor.post("/api/floor/me/log-in")
    await floor.post("/api/floor/me/pause", reason="小休")
    await kept.joins("L1", "13900000011")  # waits live, joined first
    await press_1(kept, "c2", "13900000002")

    status, ready = await floor.post("/api/floor/me/ready")

    assert (status, ready["action"], ready["agent"]["state"]) == (200, "unpause", "ready")
    assert await kept.callbacks() == []


async def test_a_failing_claim_never_keeps_an_agent_from_ready(floor: Floor, kept: Hotline) -> None:
    async def broken(_extension: str) -> Any:
        raise RuntimeError("database gone")

    floor.agents.claim = broken
    await floor.post("/api/floor/me/log-in")
    await floor.post("/api/floor/me/pause", reason="小休")

    status, ready = await floor.post("/api/floor/me/ready")

    assert (status, ready["agent"]["state"]) == (200, "ready")

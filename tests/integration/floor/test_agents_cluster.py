"""The floor with several instances: an instance that lost the AMI lease stores none of the
states it heard (fenced; the new owner's QueueStatus snapshot has them), and an instance
that does not own AMI shows the states the owner stored and relayed (its mirror), to its
own supervisors and agents, never going back to an older state."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.clock import FakeClock
from hotline.cluster.lease import LeaseLost
from hotline.console.hub import Hub
from hotline.events import EventBus
from hotline.floor.agents import FloorAgents
from hotline.floor.events import AgentStateChanged
from hotline.floor.states import AgentState
from hotline.metrics import Metrics
from tests.integration.floor.test_agents import PBX_EPOCH, SETTINGS, Floor, floor, next_message, states  # noqa: F401 (floor: the fixture)

__all__ = ["floor"]


async def test_an_instance_that_lost_the_lease_stores_no_state_it_heard(floor: Floor) -> None:
    await floor.post("/api/floor/me/log-in")
    await floor.stored("8001", 1)
    fenced = asyncio.Event()

    async def fence(_conn: AsyncConnection) -> None:
        fenced.set()
        raise LeaseLost(lease="ami", token=1, current=2)

    floor.agents.fence = fence
    before = len(floor.heard)

    floor.pbx.pause_from_phone("Local/8001@agents/n", reason="小休")
    await asyncio.wait_for(fenced.wait(), 5)
    await asyncio.sleep(0.2)  # rounds go on meanwhile: nothing of it is stored or told

    assert states(await floor.rows("8001")) == [("ready", None, "console", floor.people["小王"].id)]
    assert floor.heard[before:] == []
    assert floor.agents.metrics.counters["hotline_floor_changes_fenced_total"] >= 1

    # Given back (this instance owns AMI again): the snapshot it takes stores what is so.
    floor.agents.fence = None
    rows = await floor.stored("8001", 2)
    assert states(rows)[1] == ("paused", "小休", "resync", None)


async def test_an_instance_without_ami_shows_the_relayed_states_and_never_an_older_one(engine: AsyncEngine) -> None:
    clock = FakeClock(datetime.fromtimestamp(PBX_EPOCH, UTC))
    hub = Hub(clock)
    sent: list[tuple[dict[str, Any], list[int]]] = []
    hub.send = lambda message, users=(), roles=(): sent.append((dict(message), list(users))) or 1  # type: ignore[method-assign]

    async def no_ami(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a mirror sends nothing to Asterisk")

    mirror = FloorAgents(engine, EventBus(), clock, no_ami, SETTINGS, Metrics(), hub=hub)
    at = clock.now()
    paused = AgentStateChanged("8001", AgentState.PAUSED, "小休", at, AgentState.READY, "console", 7, 7, "agent-8001", ("hotline",))
    older = AgentStateChanged("8001", AgentState.READY, None, at - timedelta(seconds=5), AgentState.LOGGED_OUT, "console", 7, 7, "agent-8001", ("hotline",))

    await mirror.observe(paused)
    await mirror.observe(older)  # relayed late: not shown over the newer one

    row = mirror.agent("8001")
    assert (row.state, row.reason, row.since, row.queues) == (AgentState.PAUSED, "小休", at, ("hotline",))
    [(message, users)] = sent
    assert (message["type"], message["agent"]["state"], message["previous"], message["source"], users) == ("agent_state", "paused", "ready", "console", [7])

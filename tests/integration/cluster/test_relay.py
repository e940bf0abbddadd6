"""The relay between instances over PostgreSQL LISTEN/NOTIFY: what one instance publishes
reaches the others' `remote` bus, in order, typed as it was, never its own; an unreadable
or oversized payload changes nothing; a relay whose connection was cut reconnects and
sends what waited meanwhile. The codec reads back every relayed event type."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from hotline.callbacks.events import CallbackPlaced
from hotline.cluster.codec import CodecError, EventCodec
from hotline.cluster.relay import EventRelay, asyncpg_dsn
from hotline.events import AgentRinging, CallAnswered, CallArrived, CallEnded, EventBus, Outcome
from hotline.floor.events import AgentStateChanged, WrapupOverLimit
from hotline.floor.states import AgentState
from hotline.metrics import Metrics
from hotline.tickets.events import DeadlineBreached, TicketChanged, TicketOpened

AT = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
SAMPLES: list[object] = [
    CallArrived("1795.1", AT, "13912345678", "张三（巴中）", "PJSIP/trunk-1"),
    AgentRinging("1795.1", AT, "hotline", "agent-8001", "Local/8001@agents/n"),
    CallAnswered("1795.1", AT, "hotline", "agent-8001", None, 4.5),
    CallEnded("1795.1", AT, Outcome.ABANDONED, "16", reconciled=True),
    TicketOpened(7, "T-7", AT, 2, "1795.1"),
    TicketChanged(7, "T-7", AT, "forwarded", 2, "forwarded"),
    DeadlineBreached(7, "T-7", AT, "acknowledge", AT - timedelta(minutes=5), 2, (3, 4), 12.5),
    AgentStateChanged("8001", AgentState.PAUSED, "小休", AT, AgentState.READY, "console", 2, 2, "agent-8001", ("hotline", "vip")),
    WrapupOverLimit("8001", 2, "小王", AT - timedelta(minutes=3), timedelta(minutes=2), AT),
    CallbackPlaced(3, 1, "cb-3-1", "keep_place", "agent_first", "13900000202", "8002", None, "保留排位回呼 KP-1", AT, AT),
]
CODEC = EventCodec({type(e) for e in SAMPLES})


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_relayed_type_reads_back_as_it_was(event: object) -> None:
    back, envelope = CODEC.decode(CODEC.encode(event, origin="a"))
    assert back == event and type(back) is type(event) and envelope == {"origin": "a"}
    for field in dataclasses.fields(event):  # type: ignore[arg-type]
        assert type(getattr(back, field.name)) is type(getattr(event, field.name)), field.name


@pytest.mark.parametrize("text", ['{"type":"Nope","fields":{}}', "not json", '{"type":"TicketOpened","fields":{"ticket_id":1}}', '{"type":"TicketOpened","fields":{"ticket_id":1,"number":"T","at":"later","owner_user_id":null,"call_id":null}}'])
def test_an_unreadable_payload_is_refused_whole(text: str) -> None:
    with pytest.raises(CodecError):
        CODEC.decode(text)


@dataclasses.dataclass
class Node:
    bus: EventBus
    relay: EventRelay
    heard: list[object]
    stop: asyncio.Event
    task: asyncio.Task[None]


@pytest.fixture
async def nodes(db_url: str) -> AsyncIterator[list[Node]]:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite runs one instance: nothing to relay")
    made: list[Node] = []
    for name in ("a", "b", "c"):
        bus, relay, heard = EventBus(), EventRelay(asyncpg_dsn(db_url), name, CODEC, Metrics(), channel="test_events"), []
        relay.watch(bus, CODEC._types.values())

        async def hear(event: object, heard: list[object] = heard) -> None:
            heard.append(event)

        for event_type in CODEC._types.values():
            relay.remote.subscribe(event_type, hear)
        stop = asyncio.Event()
        made.append(Node(bus, relay, heard, stop, asyncio.create_task(relay.run(stop))))
    for node in made:
        await asyncio.wait_for(node.relay.listening.wait(), 5)
    yield made
    for node in made:
        node.stop.set()
    await asyncio.wait_for(asyncio.gather(*(n.task for n in made)), 5)


async def until(predicate: Any, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_what_one_instance_publishes_reaches_the_others_in_order_and_never_itself(nodes: list[Node]) -> None:
    a, b, c = nodes
    burst = [CallArrived(f"1795.{n}", AT + timedelta(seconds=n), "139", None, f"PJSIP/t-{n}") for n in range(200)]

    for event in [*burst, *SAMPLES]:
        await a.bus.publish(event)
    await b.bus.publish(SAMPLES[4])

    await until(lambda: len(b.heard) == len(burst) + len(SAMPLES) and len(c.heard) == len(burst) + len(SAMPLES) + 1)
    assert b.heard == [*burst, *SAMPLES]
    # c hears both; a's in the order a published them, b's wherever it fell between.
    assert [e for e in c.heard if e != SAMPLES[4]] == [e for e in [*burst, *SAMPLES] if e != SAMPLES[4]]
    assert c.heard.count(SAMPLES[4]) == 2
    await asyncio.sleep(0.1)
    assert a.heard == [SAMPLES[4]]  # b's, never its own


async def test_an_oversized_event_is_not_sent_and_the_next_ones_are(nodes: list[Node]) -> None:
    a, b, _ = nodes
    huge = CallArrived("1795.9", AT, "139", "名" * 4000, "PJSIP/t")
    await a.bus.publish(huge)
    await a.bus.publish(SAMPLES[0])
    await until(lambda: b.heard == [SAMPLES[0]])
    assert a.relay.metrics.counters["hotline_relay_too_large_total"] == 1


async def test_a_cut_connection_is_opened_again_and_what_waited_is_sent_after(nodes: list[Node], db_url: str) -> None:
    a, b, _ = nodes
    resumed: list[str] = []

    async def on_resumed(name: str) -> None:
        resumed.append(name)

    a.relay.on_resumed.append(lambda: on_resumed("a"))
    b.relay.on_resumed.append(lambda: on_resumed("b"))
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        # a's connection only: b goes on listening (what is sent while a listener is down is lost).
        cut = await conn.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'hotline-relay a'")
    finally:
        await conn.close()
    assert cut == 1
    for event in SAMPLES[:3]:
        await a.bus.publish(event)
    await until(lambda: b.heard[-3:] == SAMPLES[:3], timeout=10)
    assert a.relay.metrics.counters["hotline_relay_reconnects_total"] >= 1
    # The gap is told once, to the instance whose connection was cut (it missed what was
    # sent meanwhile and puts its pictures right); not at the first LISTEN, nor to b.
    await until(lambda: resumed == ["a"])
    assert a.relay.metrics.counters["hotline_relay_gaps_total"] == 1 and b.relay.metrics.counters["hotline_relay_gaps_total"] == 0

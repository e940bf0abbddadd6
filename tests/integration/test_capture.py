"""The capture task: stores before it publishes, retries the database, drains on stop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.client import QueueItem
from hotline.ami.framing import AmiFramer
from hotline.ami.tracker import CallTracker
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.events import CallArrived, CallEnded, CallEvent, EventBus
from hotline.metrics import Metrics
from hotline.testing.transcripts import TRACES_DIR


def _messages(name: str) -> list[dict[str, str]]:
    return [f for f in AmiFramer().feed((TRACES_DIR / f"{name}.ami").read_bytes()) if isinstance(f, dict)]


class FlakyStore(CallStore):
    """A real store whose first writes fail, as during a database restart."""

    def __init__(self, engine: AsyncEngine, failures: int) -> None:
        super().__init__(engine)
        self.failures = failures

    async def record(self, events: Sequence[CallEvent], counters: dict[str, tuple[int, int]] | None = None) -> None:
        if events and self.failures:
            self.failures -= 1
            raise ConnectionError("database restarting")
        await super().record(events, counters)


async def test_everything_queued_before_stop_is_stored(engine: AsyncEngine) -> None:
    store = CallStore(engine)
    capture = CallCapture(CallTracker({"96655"}), store, EventBus(), Metrics())
    queue: asyncio.Queue[QueueItem | None] = asyncio.Queue()
    for message in _messages("chinese-names"):
        queue.put_nowait(message)
    queue.put_nowait(None)
    await asyncio.wait_for(capture.run(queue), 5)
    assert sorted(c["caller_name"] for c in await store.list_calls()) == ["张三", "李四（巴中分公司）"]


async def test_a_database_error_is_retried_and_subscribers_hear_only_stored_events(engine: AsyncEngine) -> None:
    store = FlakyStore(engine, failures=3)
    bus = EventBus()
    heard: list[tuple[str, int]] = []

    async def on_ended(event: CallEvent) -> None:
        heard.append((event.call_id, len(await store.list_calls(state="ended"))))

    async def broken_subscriber(event: CallEvent) -> None:
        raise RuntimeError("a screen pop failed")

    bus.subscribe(CallEnded, broken_subscriber)
    bus.subscribe(CallEnded, on_ended)
    metrics = Metrics()
    capture = CallCapture(CallTracker({"96655"}), store, bus, metrics)
    await capture.handle(_messages("answered-regular"))  # type: ignore[arg-type]
    assert metrics.counters["hotline_store_retries_total"] == 3
    assert heard == [("1795532957.0", 1)]  # published after it was stored, despite the broken subscriber


async def test_the_live_bus_hears_a_batch_before_it_is_stored_and_the_bus_only_after(engine: AsyncEngine) -> None:
    """Screen pops listen on `live`: a ring in a burst need not wait for the batch's
    transaction. Everything else (tickets, the feed) still hears only what is stored."""
    store = FlakyStore(engine, failures=1)
    bus, live = EventBus(), EventBus()
    stored_when: dict[str, list[int]] = {"live": [], "bus": []}

    def listener(name: str) -> Callable[[CallEvent], Awaitable[None]]:
        async def heard(event: CallEvent) -> None:
            stored_when[name].append(len(await store.list_calls()))

        return heard

    live.subscribe(CallArrived, listener("live"))
    bus.subscribe(CallArrived, listener("bus"))
    capture = CallCapture(CallTracker({"96655"}), store, bus, Metrics(), live=live)
    await capture.handle(_messages("answered-regular"))  # type: ignore[arg-type]
    assert stored_when == {"live": [0], "bus": [1]}  # once each, though the first write failed


async def test_a_slow_listener_on_the_bus_does_not_hold_up_the_live_bus(engine: AsyncEngine) -> None:
    """While a ticket is being opened for one call (a listener on the bus), the next call's
    events are tracked and told to the live bus; they are stored, in order, after."""
    store = CallStore(engine)
    bus, live = EventBus(), EventBus()
    release = asyncio.Event()
    live_arrivals: list[str] = []

    async def slow(event: CallEvent) -> None:
        await release.wait()

    async def arrived(event: CallEvent) -> None:
        live_arrivals.append(event.call_id)

    bus.subscribe(CallEnded, slow)
    live.subscribe(CallArrived, arrived)
    capture = CallCapture(CallTracker({"96655"}), store, bus, Metrics(), live=live)
    queue: asyncio.Queue[QueueItem | None] = asyncio.Queue()
    running = asyncio.create_task(capture.run(queue))
    for message in _messages("answered-regular"):
        queue.put_nowait(message)
    async with asyncio.timeout(5):
        while not live_arrivals:
            await asyncio.sleep(0.01)
        while [c["id"] for c in await store.list_calls(state="ended")] != ["1795532957.0"]:
            await asyncio.sleep(0.01)  # stored, and its CallEnded now held by the slow listener
    for message in _messages("chinese-names"):
        queue.put_nowait(message)
    async with asyncio.timeout(5):
        while len(live_arrivals) < 3:
            await asyncio.sleep(0.01)
    assert len(await store.list_calls()) == 1  # the bus's stage is still held up
    release.set()
    queue.put_nowait(None)
    await asyncio.wait_for(running, 5)
    assert len(await store.list_calls()) == 3

"""The capture task: stores before it publishes, retries the database, drains on stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.client import QueueItem
from hotline.ami.framing import AmiFramer
from hotline.ami.tracker import CallTracker
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.events import CallEnded, CallEvent, EventBus
from hotline.metrics import Metrics
from hotline.testing.transcripts import TRACES_DIR


def _messages(name: str) -> list[dict[str, str]]:
    return [f for f in AmiFramer().feed((TRACES_DIR / f"{name}.ami").read_bytes()) if isinstance(f, dict)]


class FlakyStore(CallStore):
    """A real store whose first writes fail, as during a database restart."""

    def __init__(self, engine: AsyncEngine, failures: int) -> None:
        super().__init__(engine)
        self.failures = failures

    async def record(self, events: Sequence[CallEvent]) -> None:
        if events and self.failures:
            self.failures -= 1
            raise ConnectionError("database restarting")
        await super().record(events)


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

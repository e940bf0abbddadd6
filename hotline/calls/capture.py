"""The capture task: AMI messages and snapshots from the client's queue -> tracker ->
stored call events -> the bus. Stored before published, so nothing is acknowledged
that a crash could lose; a database error is retried, never skipped."""

from __future__ import annotations

import asyncio

import structlog
from structlog.contextvars import bound_contextvars

from hotline.ami.client import QueueItem
from hotline.ami.presence import AgentPresence
from hotline.ami.snapshot import Snapshot, SnapshotRequested
from hotline.ami.tracker import CallTracker, UntimedEvent
from hotline.events import CallArrived, CallEvent, EventBus
from hotline.metrics import Metrics

from .store import CallStore

log = structlog.get_logger(__name__)

BATCH = 500


class CallCapture:
    def __init__(self, tracker: CallTracker, store: CallStore, bus: EventBus, metrics: Metrics, presence: AgentPresence | None = None) -> None:
        self.tracker = tracker
        self.presence = presence or AgentPresence()
        self.store = store
        self.bus = bus
        self.metrics = metrics

    async def restore(self) -> int:
        """Take up the calls that were live when the service last stopped."""
        live = await self.store.load_live()
        self.tracker.restore(live)
        return len(live)

    async def run(self, queue: asyncio.Queue[QueueItem | None]) -> None:
        """Until a None in the queue: everything queued before it is stored first."""
        while True:
            batch: list[QueueItem] = []
            item = await queue.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= BATCH or queue.empty():
                    break
                item = queue.get_nowait()
            await self.handle(batch)
            if item is None:
                return

    async def handle(self, batch: list[QueueItem]) -> list[CallEvent]:
        events: list[CallEvent] = []
        for item in batch:
            events += self._track(item)
        await self._store(events)
        for event in events:
            with bound_contextvars(call=event.call_id):
                log.info(f"call.{event.kind}", **_loggable(event))
            await self.bus.publish(event)
        return events

    def _track(self, item: QueueItem) -> list[CallEvent]:
        try:
            if isinstance(item, Snapshot):
                self.presence.resync(item)
                return self.tracker.resync(item)
            if isinstance(item, SnapshotRequested):
                self.tracker.snapshot_requested(item)
                return []
            if item.get("Event", "").startswith("QueueMember"):
                self.presence.feed(item)
            return self.tracker.feed(item)
        except UntimedEvent as exc:
            self.metrics.inc("hotline_ami_malformed_frames_total")
            log.warning("ami.untimed_event", ami_event=exc.details.get("event"), message=str(exc))
        except Exception:
            # An event we could not make sense of must not stop the capture of the others.
            self.metrics.inc("hotline_ami_malformed_frames_total")
            log.exception("ami.bad_event", ami_event=item.get("Event") if isinstance(item, dict) else type(item).__name__)
        return []

    async def _store(self, events: list[CallEvent]) -> None:
        delay = 0.05
        while True:
            try:
                await self.store.record(events)
                break
            except Exception:
                self.metrics.inc("hotline_store_retries_total")
                log.exception("store.write_failed", events=len(events), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.metrics.inc("hotline_call_events_stored_total", len(events))
        self.metrics.inc("hotline_calls_total", sum(1 for e in events if isinstance(e, CallArrived)))


def _loggable(event: CallEvent) -> dict[str, object]:
    return {k: v for k, v in event.data().items() if v is not None}

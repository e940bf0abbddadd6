"""The capture task: AMI messages and snapshots from the client's queue -> tracker ->
stored call events -> the bus. Stored before published, so nothing is acknowledged
that a crash could lose; a database error is retried, never skipped. Only the `live`
bus, for display alone (screen pops), hears them before they are stored."""

from __future__ import annotations

import asyncio

import structlog
from structlog.contextvars import bound_contextvars

from hotline.ami.client import QueueItem
from hotline.ami.presence import AgentPresence
from hotline.ami.snapshot import Snapshot, SnapshotRequested
from hotline.ami.tracker import CallTracker, UntimedEvent
from hotline.cluster.lease import LeaseLost
from hotline.events import CallArrived, CallEvent, EventBus
from hotline.metrics import Metrics

from .store import CallStore

log = structlog.get_logger(__name__)

BATCH = 500
# A tracked batch: its call events, and the tracker's queue counters right after it.
_Tracked = tuple[list[CallEvent], dict[str, tuple[int, int]] | None]
# In a burst, the live bus's listeners get the loop (their sockets' writers) this often.
LIVE_YIELD = 50


class CallCapture:
    def __init__(self, tracker: CallTracker, store: CallStore, bus: EventBus, metrics: Metrics, presence: AgentPresence | None = None, *, live: EventBus | None = None) -> None:
        self.tracker = tracker
        self.presence = presence or AgentPresence()
        self.store = store
        self.bus = bus
        self.metrics = metrics
        # Hears each batch's call events as soon as they are tracked, before they are
        # stored: for what is only shown (screen pops), never for a change of state. A
        # ring in a burst then pops without waiting for the whole batch's transaction.
        self.live = live

    async def restore(self) -> int:
        """Take up the calls that were live when the service last stopped (or, with several
        instances, when this one takes over the AMI stream: what is stored is the truth)."""
        self.tracker.forget()
        live = await self.store.load_live()
        self.tracker.restore(live, await self.store.load_counters())
        return len(live)

    async def run(self, queue: asyncio.Queue[QueueItem | None]) -> None:
        """Until a None in the queue: everything queued before it is stored first. Two
        stages in order: tracking (with the live bus) runs ahead, storing and publishing
        follow, so a slow transaction or a slow listener on the bus (a ticket being opened)
        never holds up the next ring's pop. What is tracked and not yet stored is lost in a
        crash exactly as what is still queued is: the resync after the restart rebuilds it."""
        tracked: asyncio.Queue[_Tracked | None] = asyncio.Queue()
        committing = asyncio.create_task(self._commit_all(tracked), name="capture.commit")
        try:
            while True:
                batch: list[QueueItem] = []
                item = await queue.get()
                while item is not None:
                    batch.append(item)
                    if len(batch) >= BATCH or queue.empty():
                        break
                    item = queue.get_nowait()
                tracked.put_nowait((await self.track(batch), self.tracker.queue_counters()))
                if committing.done():
                    await committing  # it never ends on its own: raise what ended it
                if item is None:
                    break
            tracked.put_nowait(None)
            await committing
        finally:
            committing.cancel()  # nothing once it has ended; stops it when run is cancelled

    async def handle(self, batch: list[QueueItem]) -> list[CallEvent]:
        """One batch through both stages: tracked, stored, published."""
        events = await self.track(batch)
        await self.commit(events, self.tracker.queue_counters())
        return events

    async def track(self, batch: list[QueueItem]) -> list[CallEvent]:
        """The batch's call events, each told to the live bus as soon as it is tracked."""
        events: list[CallEvent] = []
        for index, item in enumerate(batch, 1):
            found = self._track(item)
            events += found
            if self.live is not None:
                for event in found:
                    await self.live.publish(event)
                if index % LIVE_YIELD == 0:
                    await asyncio.sleep(0)  # let the pops already queued leave on their sockets
        return events

    async def commit(self, events: list[CallEvent], counters: dict[str, tuple[int, int]] | None = None) -> None:
        """Stored (retried until it is) with the queue counters as of them, then published
        on the bus; dropped, never published, when this instance no longer owns the AMI
        stream (fenced)."""
        if not await self._store(events, counters):
            return
        for event in events:
            with bound_contextvars(call=event.call_id):
                log.info(f"call.{event.kind}", **_loggable(event))
            await self.bus.publish(event)

    async def _commit_all(self, tracked: asyncio.Queue[_Tracked | None]) -> None:
        """What the tracking stage queued, in order, up to BATCH events a transaction."""
        while True:
            item = await tracked.get()
            if item is None:
                return
            events, counters = item
            end = False
            while len(events) < BATCH and not tracked.empty():
                more = tracked.get_nowait()
                if more is None:
                    end = True
                    break
                events, counters = events + more[0], more[1]
            await self.commit(events, counters)
            if end:
                return

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

    async def _store(self, events: list[CallEvent], counters: dict[str, tuple[int, int]] | None) -> bool:
        delay = 0.05
        while True:
            try:
                await self.store.record(events, counters)
                break
            except LeaseLost:
                # Another instance owns the AMI stream now and stores what it says.
                self.metrics.inc("hotline_call_events_fenced_total", len(events))
                log.warning("store.fenced", events=len(events))
                return False
            except Exception:
                self.metrics.inc("hotline_store_retries_total")
                log.exception("store.write_failed", events=len(events), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.metrics.inc("hotline_call_events_stored_total", len(events))
        self.metrics.inc("hotline_calls_total", sum(1 for e in events if isinstance(e, CallArrived)))
        return True


def _loggable(event: CallEvent) -> dict[str, object]:
    return {k: v for k, v in event.data().items() if v is not None}

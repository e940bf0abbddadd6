"""The console's live feeds: ticket, deadline and call events -> `ticket`, `deadline` and
`call` messages, each to the people allowed to see it (docs/console.md, "Who may do what").

- `ticket`: the ticket's owner, its department's staff, supervisors and admins. Who they
  are takes one small query, run in the background in the ticket's own lane (in order);
  a department never hears of another department's ticket.
- `deadline`: the users the scheduler names, and supervisors and admins.
- `call`: supervisors and admins only; the call as stored, folded forward event by event
  (the capture stores a whole batch before it publishes its events one by one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.calls.projection import CallRecord, apply
from hotline.calls.store import CallStore
from hotline.events import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallerIdentified,
    CallEvent,
    CallLeftQueue,
    CallQueued,
    CallTransferred,
    EventBus,
    RouteDecided,
)
from hotline.tickets import repository as repo
from hotline.tickets.events import CallLinkedToTicket, DeadlineBreached, DeadlineWarned, TicketChanged, TicketEvent, TicketOpened
from hotline.users.store import User

from .hub import STAFF, Hub

log = structlog.get_logger(__name__)

STALE_AFTER = timedelta(hours=12)
PRUNE_EVERY = timedelta(minutes=1)
CALL_EVENTS = (CallArrived, CallerIdentified, RouteDecided, CallQueued, AgentRinging, AgentNoAnswer, CallAnswered, CallTransferred, CallAbandoned, CallLeftQueue, CallEnded)


def call_summary(record: CallRecord) -> dict[str, Any]:
    """A live call as supervisors see it (pure)."""
    return {
        "id": record.id,
        "state": record.state,
        "caller_number": record.caller_number,
        "caller_name": record.caller_name,
        "tier": record.tier,
        "queue": record.queue or record.route_queue,
        "agent": record.agent,
        "arrived_at": record.arrived_at,
        "queued_at": record.queued_at,
        "answered_at": record.answered_at,
        "ended_at": record.ended_at,
        "outcome": record.outcome,
    }


def ticket_message(event: TicketEvent, audience: repo.Audience) -> dict[str, Any]:
    """The `ticket` message for an event (pure); the page reloads the ticket through the API."""
    if isinstance(event, TicketChanged):
        kind, status, actor = event.kind, event.status, event.actor_user_id
    elif isinstance(event, TicketOpened):
        kind, status, actor = "opened", audience.status, event.owner_user_id
    else:
        kind, status, actor = "call_linked", audience.status, None
    return {
        "type": "ticket",
        "ticket_id": event.ticket_id,
        "number": event.number,
        "kind": kind,
        "status": status,
        "owner_user_id": audience.owner_user_id,
        "department_id": audience.department_id,
        "actor_user_id": actor,
        "at": event.at,
    }


def deadline_message(event: DeadlineWarned | DeadlineBreached) -> dict[str, Any]:
    breached = isinstance(event, DeadlineBreached)
    return {
        "type": "deadline",
        "event": "breached" if breached else "warned",
        "ticket_id": event.ticket_id,
        "number": event.number,
        "deadline": event.deadline,
        "due_at": event.due_at,
        "level": event.level if isinstance(event, DeadlineBreached) else None,
        "late_seconds": event.late_seconds,
        "at": event.at,
    }


class Lanes:
    """Background work in order per key (a ticket): the bus's handler returns at once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tails: dict[Hashable, asyncio.Task[None]] = {}

    def add(self, key: Hashable, work: Callable[[], Awaitable[None]]) -> None:
        previous = self._tails.get(key)
        task = asyncio.create_task(self._after(previous, work), name=f"{self.name}.{key}")
        self._tails[key] = task
        task.add_done_callback(lambda done: self._tails.pop(key) if self._tails.get(key) is done else None)

    async def _after(self, previous: asyncio.Task[None] | None, work: Callable[[], Awaitable[None]]) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await work()
        except Exception:
            log.exception(f"{self.name}.failed")

    async def aclose(self) -> None:
        tasks = list(self._tails.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class ConsoleFeed:
    def __init__(self, hub: Hub, engine: AsyncEngine, calls: CallStore) -> None:
        self.hub = hub
        self.engine = engine
        self.calls = calls
        self._live: dict[str, CallRecord] = {}  # what supervisors were last told, per call
        self._pruned_at: datetime | None = None
        self._lanes = Lanes("feed")

    def subscribe(self, bus: EventBus) -> None:
        for event_type, handler in self.handlers().items():
            bus.subscribe(event_type, handler)

    def handlers(self) -> dict[type, Callable[[Any], Awaitable[None]]]:
        # Each call event type by name, not CallEvent: the bus runs base-class handlers
        # after every specific one, which would put the feed behind the ticket service.
        handlers: dict[type, Callable[[Any], Awaitable[None]]] = {event_type: self.on_call_event for event_type in CALL_EVENTS}
        handlers.update({TicketOpened: self.on_ticket, TicketChanged: self.on_ticket, CallLinkedToTicket: self.on_ticket})
        handlers.update({DeadlineWarned: self.on_deadline, DeadlineBreached: self.on_deadline})
        return handlers

    def hello(self, user: User) -> dict[str, Any]:
        """The greeting's part: the live calls, for supervisors and admins."""
        if user.role not in STAFF:
            return {}
        live = {r.id: r for r in self.calls.live_records()}
        live.update(self._live)  # what this feed told already wins over the stored batch
        ordered = sorted(live.values(), key=lambda r: (r.arrived_at, r.id))
        return {"calls": [call_summary(r) for r in ordered if r.state != "ended"]}

    async def aclose(self) -> None:
        await self._lanes.aclose()

    # -- calls ---------------------------------------------------------------------------------

    async def on_call_event(self, event: CallEvent) -> None:
        before = self._live.get(event.call_id) or self.calls.live_record(event.call_id)
        if before is None and not isinstance(event, CallArrived):
            # Not live in the store either: it ended in this batch, having begun before the
            # feed did. Rare; the calls table says what it was, in the call's lane.
            self._lanes.add(("call", event.call_id), lambda: self._unseen(event))
            return
        if isinstance(event, CallArrived):
            self._prune(event.at)
        record = apply(before, event)
        if record.state == "ended":
            self._live.pop(event.call_id, None)
        else:
            self._live[event.call_id] = record
        self.hub.send({"type": "call", "call": call_summary(record)}, roles=STAFF)

    def _prune(self, now: datetime) -> None:
        """Forget calls whose end never came (events lost, and no resync ended them)."""
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        for call_id in [c for c, r in self._live.items() if now - r.arrived_at > STALE_AFTER and self.calls.live_record(c) is None]:
            del self._live[call_id]

    async def _unseen(self, event: CallEvent) -> None:
        record = await self.calls.call_record(event.call_id)
        if record is not None:
            self.hub.send({"type": "call", "call": call_summary(apply(record, event))}, roles=STAFF)

    # -- tickets and deadlines -------------------------------------------------------------------

    async def on_ticket(self, event: TicketEvent) -> None:
        self._lanes.add(("ticket", event.ticket_id), lambda: self._tell(event))

    async def _tell(self, event: TicketEvent) -> None:
        async with self.engine.connect() as conn:
            audience = await repo.audience(conn, event.ticket_id)
        if audience is None:
            return
        users = {*audience.department_staff, *([audience.owner_user_id] if audience.owner_user_id is not None else [])}
        self.hub.send(ticket_message(event, audience), users=users, roles=STAFF)

    async def on_deadline(self, event: DeadlineWarned | DeadlineBreached) -> None:
        self.hub.send(deadline_message(event), users=event.notify_user_ids, roles=STAFF)

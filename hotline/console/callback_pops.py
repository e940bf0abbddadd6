"""The screen pop of a callback: when an agent-first callback rings an agent's phone, that
agent's page shows whom they are calling back and why — the customer's profile, open
tickets and last calls as for a hotline call, the callback's kind (a kept place, a caller
who hung up waiting, a follow-up, a booking), how long the customer has waited for it, and
its ticket. One pop per attempt placed (CallbackPlaced on the bus)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.callbacks.events import CallbackPlaced
from hotline.events import EventBus
from hotline.routing.directory import CustomerDirectory
from hotline.tickets import repository as repo

from .agents import AgentUsers
from .caller import load_caller
from .pops import ScreenPops, pop_message

log = structlog.get_logger(__name__)

STAGE = "callback"


KEEP_PLACE = "keep_place"


def callback_part(event: CallbackPlaced, kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pop's `callback` object (pure). A kept place's customer has waited since they
    pressed 1 (not since their callback was written, when their turn came): `kept` is
    the request (KeepPlaceDesk.of_callback) with its queue, place and times."""
    part = {"id": event.callback_id, "attempt": event.attempt, "kind": event.kind, "owed_since": event.owed_since, "note": event.note}
    if kept is not None:
        part["owed_since"] = kept["requested_at"] or event.owed_since
        part["kept"] = {k: kept[k] for k in ("id", "queue", "position", "joined_at", "requested_at", "carried")}
    return part


class CallbackPops:
    def __init__(self, engine: AsyncEngine, directory: CustomerDirectory, agents: AgentUsers, pops: ScreenPops) -> None:
        self.engine, self.directory, self.agents, self.pops = engine, directory, agents, pops
        # Set by the composition root: KeepPlaceDesk.of_callback (the kept place behind a callback).
        self.kept_place: Callable[[int], Awaitable[dict[str, Any] | None]] | None = None

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(CallbackPlaced, self.on_placed)

    async def on_placed(self, event: CallbackPlaced) -> None:
        if event.agent_extension is None:
            return  # a survey rings the customer, no agent
        user_id = await self.agents.of_extension(event.agent_extension)
        if user_id is None:
            log.info("callback_pop.no_agent_user", extension=event.agent_extension, callback=event.callback_id)
            return
        context = await load_caller(self.engine, self.directory, event.channel_id, event.number, None, at=event.at)
        ticket = await self._ticket(event.ticket_id)
        kept = await self.kept_place(event.callback_id) if event.kind == KEEP_PLACE and self.kept_place is not None else None
        message = {**pop_message(event.channel_id, STAGE, event.at, None, context, ticket), "callback": callback_part(event, kept)}
        self.pops.show(user_id, message)

    async def _ticket(self, ticket_id: int | None) -> dict[str, Any] | None:
        if ticket_id is None:
            return None
        async with self.engine.connect() as conn:
            found = await repo.ticket(conn, ticket_id)
        if found is None:
            return None
        return {"id": found.id, "number": found.number, "status": found.status, "linked": False, "forward_due_at": None, "deadlines": []}

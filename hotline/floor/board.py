"""The wallboard's figures and ticket panel, pushed to supervisors (and admins) as a `board`
message whenever something that moves them happens (a call queued, answered or lost, a
ticket or deadline changed), at most once a second, and every BEAT anyway (a ticket comes
close to its limit by time alone). Live calls and agents' states reach the same pages as
their own messages (`call`, `agent_state`: console/feed.py, floor/agents.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.clock import Clock
from hotline.console.hub import STAFF, Hub
from hotline.events import CallAbandoned, CallAnswered, CallEnded, CallLeftQueue, CallQueued, EventBus
from hotline.tickets.events import DeadlineBreached, DeadlineWarned, TicketChanged, TicketOpened
from hotline.users.store import User

from .panel import load_panel

log = structlog.get_logger(__name__)

BEAT = timedelta(seconds=15)
AT_MOST_EVERY = timedelta(seconds=1)
MOVING = (CallQueued, CallAnswered, CallAbandoned, CallLeftQueue, CallEnded, TicketOpened, TicketChanged, DeadlineWarned, DeadlineBreached)

Today = Callable[[], Awaitable[dict[str, Any]]]
Virtual = Callable[[], Awaitable[list[dict[str, Any]]]]


class FloorBoard:
    def __init__(self, hub: Hub, engine: AsyncEngine, clock: Clock, today: Today, *, virtual: Virtual | None = None) -> None:
        self.hub, self.engine, self.clock, self.today = hub, engine, clock, today
        self.virtual = virtual  # the kept places waiting (keep-your-place), beside the live callers
        self._nudged = asyncio.Event()
        self._last: dict[str, Any] | None = None
        self._last_text = ""

    def subscribe(self, bus: EventBus) -> None:
        for event_type in MOVING:
            bus.subscribe(event_type, self._on_event)

    async def _on_event(self, _: object) -> None:
        self._nudged.set()

    def nudge(self) -> None:
        self._nudged.set()

    def hello(self, user: User) -> dict[str, Any]:
        """The greeting's part for supervisors and admins: the board as last pushed."""
        return {"board": self._last} if user.role in STAFF and self._last is not None else {}

    async def compute(self) -> dict[str, Any]:
        now = self.clock.now()
        figures = await self.today()
        async with self.engine.connect() as conn:
            panel = await load_panel(conn, now)
        waiting = await self.virtual() if self.virtual is not None else []
        virtual = [{"id": w["id"], "queue": w["queue"], "tier": w["tier"], "priority": w["priority"], "position": w["position"], "joined_at": w["joined_at"], "requested_at": w["requested_at"], "state": w["state"]} for w in waiting]
        return {"type": "board", "at": now, "figures": figures, "tickets": panel, "virtual": virtual}

    async def push(self) -> bool:
        """Compute and send when it changed (the time stamp aside); whether it was sent."""
        board = await self.compute()
        figures = {k: v for k, v in board["figures"].items() if k != "as_of"}
        text = json.dumps({"figures": figures, "tickets": board["tickets"], "virtual": board["virtual"]}, default=str, sort_keys=True)
        self._last = board
        if text == self._last_text:
            return False
        self._last_text = text
        self.hub.send(board, roles=STAFF)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        log.info("board.started")
        while not stop.is_set():
            started = self.clock.now()
            self._nudged.clear()
            try:
                await self.push()
            except Exception:  # a database fault: logged, tried at the next beat
                log.exception("board.push_failed")
            await self._wait(stop, started)
        log.info("board.stopped")

    async def _wait(self, stop: asyncio.Event, started: Any) -> None:
        """Until nudged (but not before AT_MOST_EVERY after the last push), the beat, or stop."""
        waits = {asyncio.create_task(stop.wait()), asyncio.create_task(self.clock.sleep_until(started + BEAT)), asyncio.create_task(self._nudged.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        if not stop.is_set():
            pause = asyncio.create_task(self.clock.sleep_until(started + AT_MOST_EVERY))
            halt = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({pause, halt}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (pause, halt):
                    task.cancel()
                await asyncio.gather(pause, halt, return_exceptions=True)

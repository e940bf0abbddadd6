"""Screen pops: call and ticket events -> the `pop` message for the one agent whose phone
rings, sent again with the whole content at each stage (ringing, missed, talking,
transferred, ended) and when the call's ticket opens or changes.

The bus awaits its subscribers inside the capture, so no handler here waits on the
database: the caller's context (directory profile, open tickets, last calls) is fetched in
the background when the call arrives, and a ring only looks it up. When it is not ready yet
(or a ticket is still loading) the call's later steps queue behind it in the call's own lane,
which keeps each call's messages in order without holding up other calls. Each agent's
current pop stays in memory for `hello`; a call's context is forgotten `forget_after` (event
time) after it ended.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.calls.store import CallStore
from hotline.events import (
    AgentNoAnswer,
    AgentRinging,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallerIdentified,
    CallEvent,
    CallTransferred,
    EventBus,
    RouteDecided,
)
from hotline.routing.directory import CustomerDirectory
from hotline.tickets.events import CallLinkedToTicket, TicketChanged, TicketOpened
from hotline.tickets.views import pop_ticket
from hotline.users.store import User

from .agents import AgentUsers
from .caller import CallerContext, load_caller, unknown_caller
from .hub import Hub
from .lane import Lane, Step

log = structlog.get_logger(__name__)

RINGING, MISSED, TALKING, TRANSFERRED, ENDED = "ringing", "missed", "talking", "transferred", "ended"
FORGET_AFTER = timedelta(minutes=10)
STALE_AFTER = timedelta(hours=12)  # a call never seen to end (events lost) is dropped too



@dataclass(eq=False)
class _Call:
    """What the pops of one call need, and its lane of steps waiting to run in order."""

    call_id: str
    seen_at: datetime
    number: str | None = None
    name: str | None = None
    identified: bool = False
    context: asyncio.Future[CallerContext] | None = None
    queue: str | None = None
    agents: dict[int, tuple[str, datetime]] = field(default_factory=dict)  # user -> (stage, at)
    answered_by: int | None = None
    ticket_id: int | None = None
    linked: bool = False  # the call joined a ticket already open
    ticket: dict[str, Any] | None = None
    lane: Lane | None = None  # the order its steps run in


def pop_message(call_id: str, stage: str, at: datetime, queue: str | None, context: CallerContext, ticket: dict[str, Any] | None) -> dict[str, Any]:
    """One pop (pure); a later one for the same call replaces it on the page."""
    return {
        "type": "pop",
        "call_id": call_id,
        "stage": stage,
        "at": at,
        "queue": queue,
        "caller": context.caller,
        "open_tickets": context.open_tickets,
        "last_calls": context.last_calls,
        "repeat": context.repeat,
        "ticket": ticket,
    }


class ScreenPops:
    def __init__(
        self,
        hub: Hub,
        engine: AsyncEngine,
        directory: CustomerDirectory,
        calls: CallStore,
        *,
        agents: AgentUsers | None = None,
        forget_after: timedelta = FORGET_AFTER,
        repeat_days: int = 3,
    ) -> None:
        self.repeat_days = repeat_days
        self.hub = hub
        self.engine = engine
        self.directory = directory
        self.calls = calls
        self.agents = agents or AgentUsers(engine)
        self.forget_after = forget_after
        self._calls: dict[str, _Call] = {}
        self._ended: OrderedDict[str, datetime] = OrderedDict()  # call -> ended at, in end order
        self._ticket_calls: dict[int, set[str]] = {}
        self._current: dict[int, dict[str, Any]] = {}  # user -> their current pop
        self._tasks: set[asyncio.Task[Any]] = set()
        self._swept_at: datetime | None = None

    def subscribe(self, bus: EventBus, *, calls_from: EventBus | None = None) -> None:
        """Subscribe before the ticket service, so a pop never waits for a ticket to open.
        `calls_from`: a bus that brings call events sooner (tracked, not yet stored), if
        the capture has one; ticket events always come on `bus`."""
        for event_type, handler in self.handlers().items():
            source = calls_from if calls_from is not None and issubclass(event_type, CallEvent) else bus
            source.subscribe(event_type, handler)

    def handlers(self) -> dict[type, Callable[[Any], Any]]:
        return {
            CallArrived: self.on_arrived,
            CallerIdentified: self.on_identified,
            RouteDecided: self.on_route,
            AgentRinging: self.on_ringing,
            AgentNoAnswer: self.on_no_answer,
            CallAnswered: self.on_answered,
            CallTransferred: self.on_transferred,
            CallEnded: self.on_ended,
            TicketOpened: self.on_ticket,
            CallLinkedToTicket: self.on_ticket,
            TicketChanged: self.on_ticket_changed,
        }

    def hello(self, user: User) -> dict[str, Any]:
        """The greeting's part: this user's current pop (null when none)."""
        return {"pop": self._current.get(user.id)}

    def show(self, user_id: int, message: dict[str, Any]) -> None:
        """A pop not from a hotline call (a callback ringing the agent): sent, and kept as the
        agent's current pop for a reconnecting page."""
        self._current[user_id] = message
        self.hub.send(message, users=[user_id])

    def current(self, user_id: int) -> dict[str, Any] | None:
        return self._current.get(user_id)

    def known_calls(self) -> set[str]:
        """The calls whose context is in memory."""
        return set(self._calls)

    async def aclose(self) -> None:
        """At shutdown: cancel the loads and lanes still running."""
        tasks: list[asyncio.Task[Any]] = list(self._tasks)
        for task in tasks:
            task.cancel()
        tasks += [runner for call in self._calls.values() if call.lane is not None and (runner := call.lane.cancel()) is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the call arrives: fetch the caller's context now, long before a ring ----------------

    async def on_arrived(self, event: CallArrived) -> None:
        self._sweep(event.at)
        self._identify(self._call(event.call_id, event.at, known=True), event.caller_number, event.caller_name)
        self.agents.refresh_if_stale()

    async def on_identified(self, event: CallerIdentified) -> None:
        self._identify(self._call(event.call_id, event.at, known=True), event.caller_number, event.caller_name)

    async def on_route(self, event: RouteDecided) -> None:
        self._context(self._call(event.call_id, event.at))

    def _identify(self, call: _Call, number: str | None, name: str | None) -> None:
        if call.identified and (number, name) == (call.number, call.name):
            return
        again = call.context is not None
        call.number, call.name, call.identified = number, name, True
        # A CallArrived often has no caller id yet (CallerIdentified follows at once): the
        # fetch starts with the number, or when something needs the context (a ring).
        if again or number is not None:
            call.context = self._fetch(call)
        if again and call.agents:
            self._then(call, lambda: self._resend(call, list(call.agents)))  # the caller changed under a pop

    def _context(self, call: _Call) -> asyncio.Future[CallerContext]:
        if call.context is None:
            call.context = self._fetch(call)
        return call.context

    def _fetch(self, call: _Call) -> asyncio.Future[CallerContext]:
        loop = asyncio.get_running_loop()
        if call.identified and call.number is None:
            done: asyncio.Future[CallerContext] = loop.create_future()  # withheld: nothing to look up
            done.set_result(unknown_caller(None, call.name, self.directory.default_area_code))
            return done
        return self._spawn(self._load(call), f"pops.caller.{call.call_id}")

    async def _load(self, call: _Call) -> CallerContext:
        try:
            if not call.identified:
                # Taken up after a restart: no CallArrived came; the stored call says who calls.
                record = await self.calls.call_record(call.call_id)
                call.number, call.name = (record.caller_number, record.caller_name) if record else (None, None)
                call.identified = True
            return await load_caller(self.engine, self.directory, call.call_id, call.number, call.name, at=call.seen_at, repeat_days=self.repeat_days)
        except Exception:
            # A pop with the caller id alone beats no pop; the log says what failed.
            log.exception("pop.caller_context_failed", call=call.call_id, caller_number=call.number)
            return unknown_caller(call.number, call.name, self.directory.default_area_code)

    # -- the agents' phones ----------------------------------------------------------------

    async def on_ringing(self, event: AgentRinging) -> None:
        call = self._call(event.call_id, event.at)
        call.queue = event.queue or call.queue
        user = self.agents.resolve(event.interface, event.agent)
        self._then(call, lambda: self._stage(call, user.result(), RINGING, event.at, agent=event.agent), user)

    async def on_no_answer(self, event: AgentNoAnswer) -> None:
        call = self._call(event.call_id, event.at)
        user = self.agents.resolve(event.interface, event.agent)

        def missed() -> None:
            if (user_id := user.result()) is not None and self._stage_of(call, user_id) == RINGING:
                self._stage(call, user_id, MISSED, event.at)

        self._then(call, missed, user)

    async def on_answered(self, event: CallAnswered) -> None:
        call = self._call(event.call_id, event.at)
        call.queue = event.queue or call.queue
        user = self.agents.resolve(event.interface, event.agent)

        def answered() -> None:
            call.answered_by = user.result()
            for other, (stage, _) in list(call.agents.items()):
                if other != call.answered_by and stage == RINGING:
                    self._stage(call, other, MISSED, event.at)  # rung together; someone else took it
            self._stage(call, call.answered_by, TALKING, event.at, agent=event.agent)

        self._then(call, answered, user)

    async def on_transferred(self, event: CallTransferred) -> None:
        call = self._call(event.call_id, event.at)

        def transferred() -> None:
            if call.answered_by is not None and self._stage_of(call, call.answered_by) == TALKING:
                self._stage(call, call.answered_by, TRANSFERRED, event.at)

        self._then(call, transferred)

    async def on_ended(self, event: CallEnded) -> None:
        call = self._calls.get(event.call_id)
        if call is None:
            return  # no agent was rung for it since we started: nothing to settle

        def ended() -> None:
            for user_id, (stage, _) in list(call.agents.items()):
                if stage in (RINGING, TALKING):
                    self._stage(call, user_id, ENDED, event.at)

        if call.agents or (call.lane is not None and call.lane.busy):
            self._then(call, ended)
        self._ended[call.call_id] = event.at

    # -- the call's ticket -------------------------------------------------------------------

    async def on_ticket(self, event: TicketOpened | CallLinkedToTicket) -> None:
        call = self._calls.get(event.call_id) if event.call_id else None
        if call is None:
            return
        call.ticket_id, call.linked = event.ticket_id, isinstance(event, CallLinkedToTicket)
        self._ticket_calls.setdefault(event.ticket_id, set()).add(call.call_id)
        self._show_ticket(call)

    async def on_ticket_changed(self, event: TicketChanged) -> None:
        for call_id in self._ticket_calls.get(event.ticket_id, ()):
            if (call := self._calls.get(call_id)) is not None:
                self._show_ticket(call)

    def _show_ticket(self, call: _Call) -> None:
        """The ticket as it is now, loaded off the capture's path, then shown to the agent
        who answered (the agents who missed the call never see its ticket)."""
        assert call.ticket_id is not None
        loading = self._spawn(self._load_ticket(call.ticket_id, call.linked), f"pops.ticket.{call.ticket_id}")

        def show() -> None:
            if (view := loading.result()) is not None:
                call.ticket = view
                if call.answered_by is not None:
                    self._resend(call, [call.answered_by])

        self._then(call, show, loading)

    async def _load_ticket(self, ticket_id: int, linked: bool) -> dict[str, Any] | None:
        try:
            async with self.engine.connect() as conn:
                return await pop_ticket(conn, ticket_id, linked=linked)
        except Exception:
            log.exception("pop.ticket_failed", ticket=ticket_id)
            return None

    # -- sending -------------------------------------------------------------------------------

    def _stage(self, call: _Call, user_id: int | None, stage: str, at: datetime, *, agent: str | None = None) -> None:
        if user_id is None:
            log.info("pop.agent_unknown", call=call.call_id, agent=agent, stage=stage)
            return
        call.agents[user_id] = (stage, at)
        self._send(call, user_id, stage, at, take_over=stage == RINGING or stage == TALKING)

    def _resend(self, call: _Call, users: Iterable[int]) -> None:
        """The call's pops again, whole, to those of `users` still showing it."""
        for user_id in users:
            if (shown := call.agents.get(user_id)) is not None:
                self._send(call, user_id, shown[0], shown[1], take_over=False)

    def _send(self, call: _Call, user_id: int, stage: str, at: datetime, *, take_over: bool) -> None:
        """A new ring (or answer) becomes the agent's current pop; a later stage of a call
        only replaces the current pop when that is still this call's."""
        current = self._current.get(user_id)
        if not take_over and current is not None and current["call_id"] != call.call_id:
            return
        assert call.context is not None and call.context.done()
        ticket = call.ticket if user_id == call.answered_by and stage != RINGING else None
        message = pop_message(call.call_id, stage, at, call.queue, call.context.result(), ticket)
        self._current[user_id] = message
        self.hub.send_to_user(user_id, message)

    def _stage_of(self, call: _Call, user_id: int) -> str | None:
        found = call.agents.get(user_id)
        return found[0] if found else None

    # -- tasks and memory ----------------------------------------------------------------------

    def _then(self, call: _Call, step: Step, *waits: asyncio.Future[Any]) -> None:
        """`step` in the call's lane: after its earlier steps, once the caller's context
        and `waits` are ready (at once, when they are and nothing is ahead)."""
        if call.lane is None:
            call.lane = Lane(f"pops.lane.{call.call_id}", lambda: self._context(call))
        call.lane.then(step, *waits)

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _call(self, call_id: str, at: datetime, *, known: bool = False) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            call = self._calls[call_id] = _Call(call_id, at)
            if not known and (record := self.calls.live_record(call_id)) is not None:
                # Taken up after a restart: the stored live call says who is calling.
                self._identify(call, record.caller_number, record.caller_name)
        call.seen_at = at
        return call

    def _sweep(self, now: datetime) -> None:
        """Forget calls that ended `forget_after` ago (by event time), and any call not heard
        of for STALE_AFTER. Agents' current pops stay: they are whole messages."""
        while self._ended:
            call_id, ended_at = next(iter(self._ended.items()))
            if now - ended_at < self.forget_after or not self._forget(call_id):
                break  # the rest ended later; or this one still has steps to run
            self._ended.popitem(last=False)
        if self._swept_at is None or now - self._swept_at >= self.forget_after:
            self._swept_at = now
            for call in [c for c in self._calls.values() if now - c.seen_at >= STALE_AFTER]:
                self._ended.pop(call.call_id, None)
                self._forget(call.call_id)

    def _forget(self, call_id: str) -> bool:
        call = self._calls.get(call_id)
        if call is None:
            return True
        if call.lane is not None and call.lane.busy:
            return False  # still has steps to run: the next sweep
        del self._calls[call_id]
        if call.ticket_id is not None:
            calls_of_ticket = self._ticket_calls.get(call.ticket_id, set())
            calls_of_ticket.discard(call_id)
            if not calls_of_ticket:
                self._ticket_calls.pop(call.ticket_id, None)
        return True

"""A hotline for the keep-place tests: calls stored and published as the capture does, a
floor of agents set by hand, the desk and the scheduler as the service builds them, on a
FakeClock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.tracker import CallTracker
from hotline.callbacks.policy import DEFAULT_WINDOW
from hotline.callbacks.tables import callbacks
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.clock import FakeClock
from hotline.events import CallAnswered, CallArrived, CallEnded, CallEvent, CallLeftQueue, CallQueued, EventBus, Outcome, RouteDecided
from hotline.floor.agents import AgentRow
from hotline.floor.states import AgentState
from hotline.keepplace.ask import KeepPlaceAnswer, KeepPlaceAsk
from hotline.keepplace.desk import KeepPlaceDesk, call_of_channel
from hotline.keepplace.model import KeepPlaceRules, as_utc
from hotline.keepplace.scheduler import KeepPlaceScheduler, live_line_of
from hotline.keepplace.tables import keep_place_requests
from hotline.metrics import Metrics
from hotline.tickets.workdays import LOCAL_ZONE
from tests.unit.callbacks.moments import FakeCalendar, at

START = at("2026-11-25 10:00")  # a Wednesday, inside the 09:00-20:00 calling window
RULES = KeepPlaceRules(DEFAULT_WINDOW, LOCAL_ZONE, FakeCalendar().is_working_day, max_attempts=3, default_area_code="0827", default_agent_extension="8101")


class Hotline:
    """One instance of the service; `restarted()` is another on the same database."""

    def __init__(self, engine: AsyncEngine, clock: FakeClock | None = None, agents: dict[str, AgentRow] | None = None) -> None:
        self.engine = engine
        self.clock = clock or FakeClock(START)
        self.bus = EventBus()
        self.store = CallStore(engine)
        self.capture = CallCapture(CallTracker({"96655"}), self.store, self.bus, Metrics())
        self.agents: dict[str, AgentRow] = agents if agents is not None else {}
        self.last_ask: KeepPlaceAsk | None = None
        live_line = live_line_of(self.store.live_records, RULES.default_area_code)
        self.scheduler = KeepPlaceScheduler(engine, self.clock, self.bus, agents=self.floor, live_line=live_line, rules=RULES)
        self.desk = KeepPlaceDesk(engine, self.clock, RULES, agents=self.floor, live_line=live_line, call_of=call_of_channel(self.capture.tracker), on_request=self.scheduler.wake)

    async def restarted(self) -> Hotline:
        """The service started again: nothing in memory but what it restores."""
        again = Hotline(self.engine, self.clock, self.agents)
        await again.capture.restore()
        return again

    # -- the floor ------------------------------------------------------------------------------

    def floor(self) -> list[AgentRow]:
        return list(self.agents.values())

    def agent(self, extension: str, state: str = "ready", *, queues: tuple[str, ...] = ("hotline",)) -> None:
        self.agents[extension] = AgentRow(extension, None, None, f"agent-{extension}", AgentState(state), None, self.clock.now(), queues)

    # -- calls ----------------------------------------------------------------------------------

    async def events(self, *events: CallEvent) -> None:
        await self.capture.commit(list(events))

    async def joins(self, call_id: str, number: str, *, priority: int = 0, tier: str = "regular", queue: str = "hotline") -> None:
        """A call arrives, is routed and joins the queue now; the clock then moves a minute."""
        now = self.clock.now()
        await self.events(
            CallArrived(call_id, now, number, None, f"PJSIP/trunk-{call_id}"),
            RouteDecided(call_id, now, queue=queue, priority=priority, tier=tier),
            CallQueued(call_id, now, queue, None),
        )
        self.clock.advance(timedelta(minutes=1))

    async def answered(self, call_id: str, agent: str = "8001") -> None:
        record = self.store.live_record(call_id)
        assert record is not None
        await self.events(CallAnswered(call_id, self.clock.now(), record.queue, f"agent-{agent}", f"PJSIP/{agent}", None))

    async def presses_1(self, call_id: str, *, number: str | None = None, position: int = 1) -> KeepPlaceAnswer:
        """The caller presses 1 and confirms the number (theirs unless given): they leave the
        queue, the FastAGI handler asks the desk, the call ends."""
        record = self.store.live_record(call_id)
        assert record is not None and record.queue is not None and record.caller_number is not None
        now = self.clock.now()
        await self.events(CallLeftQueue(call_id, now, record.queue, position, "hotline-exit", "1"))
        ask = KeepPlaceAsk(number or record.caller_number, number is not None, record.queue, position, record.route_priority or 0, record.tier or "regular", call_id, record.caller_number)
        self.last_ask = ask
        answer = await self.desk.request(ask)
        await self.events(CallEnded(call_id, now, Outcome.TIMEOUT, "16"))
        return answer

    # -- what is stored -------------------------------------------------------------------------

    async def requests(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(keep_place_requests).order_by(keep_place_requests.c.id))).mappings().all()
        return [{k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]

    async def callbacks(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(callbacks).order_by(callbacks.c.id))).mappings().all()
        return [{k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]

    async def callback_becomes(self, callback_id: int, **values: Any) -> None:
        """What the dispatcher writes as the call goes (placing, in flight, done ...), in UTC
        as it stores every moment."""
        values = {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in values.items()}
        async with self.engine.begin() as conn:
            await conn.execute(update(callbacks).where(callbacks.c.id == callback_id).values(**values, version=callbacks.c.version + 1))

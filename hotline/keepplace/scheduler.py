"""When each kept place is called back: hears the calls and the floor on the bus, and in
rounds lines up each queue's live and virtual callers (model.py), hands every virtual
caller whose turn has come to a free agent of that queue as an agent-first callback row
(the callbacks dispatcher places it), follows each callback to its end, holds a retry
until its turn and an agent come again, and carries what the calling window closes on to
its next opening.

Exactly once across restarts and instances: a round's decisions and the callback rows
they write are one transaction, with the requests locked (FOR UPDATE and one advisory
lock on PostgreSQL, the write lock on SQLite), and the callbacks' one-open-per-number key
refuses a second callback for a number whatever happens. A caller answered on a new call
ends their request; one whose callback is ringing already is let finish, not retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.callbacks.book import Owed, schedule
from hotline.callbacks.model import CallbackKind, CallbackState, Mode
from hotline.callbacks.policy import is_open
from hotline.callbacks.tables import callback_attempts, callbacks
from hotline.calls.projection import CallRecord
from hotline.clock import Clock
from hotline.cluster.lease import LeaseLost
from hotline.db.engine import Fence, write_transaction
from hotline.db.tables import calls
from hotline.events import CallAbandoned, CallAnswered, CallEnded, CallLeftQueue, CallQueued, EventBus
from hotline.floor.events import AgentStateChanged

from hotline.floor.agents import KEPT_PLACE_REASON

from .model import KeepPlaceRules, KeptPlace, LiveCaller, as_utc as _utc, carried_to, due, line, live_callers, number_of, request_key
from .tables import OPEN_STATES, RequestState, keep_place_requests as requests

log = structlog.get_logger(__name__)

R = RequestState
CB = CallbackState
KEEP_LOCK = 96655_08  # pg_advisory_xact_lock key: one round at a time across instances
LOST = (CallbackKind.ABANDONED.value, CallbackKind.AFTER_HOURS.value)
_RINGING = (CB.PLACING.value, CB.IN_FLIGHT.value)
_ENDS = {CB.DONE.value: R.DONE, CB.FAILED.value: R.FAILED, CB.CANCELLED.value: R.CANCELLED}
_ANSWERED_AGAIN = "来电已接通，无需回呼（通话 {call}） / the caller rang again and was answered (call {call})"
_SUPERSEDED = "已有保留排位请求 {key}，由其按排位回呼 / the keep-place request {key} calls this number back in its turn"


class AgentLike(Protocol):
    """hotline.floor.agents.AgentRow's part read here."""

    @property
    def extension(self) -> str: ...
    @property
    def state(self) -> Any: ...  # AgentState: "ready" is free
    @property
    def since(self) -> datetime | None: ...
    @property
    def queues(self) -> Sequence[str]: ...
    @property
    def reason(self) -> str | None: ...


class Floor(Protocol):
    """hotline.floor.agents.FloorAgents's part for kept places: an agent handed a kept
    place's callback is held (paused, KEPT_PLACE_REASON) until it is over, then released."""

    async def hold_for_kept_place(self, extension: str) -> None: ...
    async def release_from_kept_place(self, extension: str) -> None: ...


Agents = Callable[[], Sequence[AgentLike]]
LiveLine = Callable[[str], list[LiveCaller]]


def live_line_of(records: Callable[[], Iterable[CallRecord]], default_area_code: str) -> LiveLine:
    """A live_line from the call store: `live_line_of(store.live_records, "0827")`."""
    return lambda queue: live_callers(records(), queue, default_area_code)


def note_of(row: Mapping[str, Any]) -> str:
    """The callback's note: what the agent's screen and the supervisor read."""
    return f"保留排位回呼 {request_key(row['id'])}：{row['queue']} 队列第 {row['position'] or '?'} 位 / kept place {request_key(row['id'])} in {row['queue']}, position {row['position'] or '?'}"


class KeepPlaceScheduler:
    def __init__(self, engine: AsyncEngine, clock: Clock, bus: EventBus | None, *, agents: Agents, live_line: LiveLine, rules: KeepPlaceRules, poll_interval: timedelta = timedelta(seconds=2)) -> None:
        self.engine, self.clock, self.rules = engine, clock, rules
        self.agents, self.live_line = agents, live_line
        self.poll_interval = poll_interval
        self.floor: Floor | None = None  # set by the composition root (FloorAgents)
        # Several instances: Lease.fence. A round decides from the live calls and the agents
        # heard over AMI, so only the AMI owner's rounds are written.
        self.fence: Fence | None = None
        self._sqlite = engine.dialect.name == "sqlite"
        self._wake = asyncio.Event()
        if bus is not None:
            self.subscribe(bus)

    def subscribe(self, bus: EventBus) -> None:
        """After LostCallers: a lost caller's callback it writes for a number with a kept
        place is cancelled here at once (the kept place calls them back)."""
        for kind in (CallQueued, CallAbandoned, CallLeftQueue, AgentStateChanged):
            bus.subscribe(kind, self.on_change)
        bus.subscribe(CallAnswered, self.on_call_answered)
        bus.subscribe(CallEnded, self.on_call_ended)

    def wake(self) -> None:
        """Something changed (a request, a call, an agent): look again now."""
        self._wake.set()

    # -- the bus ------------------------------------------------------------------------------

    async def on_change(self, _event: object) -> None:
        self.wake()

    async def on_call_answered(self, event: CallAnswered) -> None:
        """The caller rang again and an agent answered: their request is not needed. A
        callback already ringing is let finish, and is not tried again."""
        number = await self._kept_number(event.call_id)
        if number is not None:
            async with write_transaction(self.engine) as conn:
                await self._answered_again(conn, number, event)
        self.wake()

    async def on_call_ended(self, event: CallEnded) -> None:
        number = await self._kept_number(event.call_id)
        if number is not None:
            async with write_transaction(self.engine) as conn:
                await cancel_superseded(conn, self.clock.now().astimezone(UTC), number=number)
        self.wake()

    async def _kept_number(self, call_id: str) -> str | None:
        """The call's number, as dialled, when a request is open for it (read first: most
        calls have none, and a write transaction would queue behind the capture's)."""
        async with self.engine.connect() as conn:
            raw = (await conn.execute(select(calls.c.caller_number).where(calls.c.id == call_id))).scalar()
            number = number_of(raw, self.rules.default_area_code)
            if number is None:
                return None
            query = select(requests.c.id).where(requests.c.state.in_(OPEN_STATES), or_(requests.c.open_key == number, requests.c.caller_number == number)).limit(1)
            return number if (await conn.execute(query)).first() is not None else None

    async def _answered_again(self, conn: AsyncConnection, number: str, event: CallAnswered) -> None:
        now = self.clock.now().astimezone(UTC)
        query = select(requests).where(requests.c.state.in_(OPEN_STATES), or_(requests.c.open_key == number, requests.c.caller_number == number)).order_by(requests.c.id)
        for row in (await conn.execute(self._locked(query))).mappings().all():
            if event.at.astimezone(UTC) < _utc(row["requested_at"]):  # type: ignore[operator]
                continue  # answered before 1 was pressed (a late event): not served since
            note = _ANSWERED_AGAIN.format(call=event.call_id)
            callback = "none" if row["callback_id"] is None else await self._cancel_callback(conn, row["callback_id"], note, now)
            if callback in ("none", "cancelled"):
                await self._end(conn, row, R.CANCELLED, now, note=note)
                log.info("keep_place.cancelled", request=request_key(row["id"]), reason="answered again", call=event.call_id)
            elif callback == "ringing":
                # Being placed now: that call ends by itself and is not tried again.
                await conn.execute(update(callbacks).where(callbacks.c.id == row["callback_id"], callbacks.c.state.in_(_RINGING)).values(stop_reason=note, updated_at=now, version=callbacks.c.version + 1))
                log.info("keep_place.stopping", request=request_key(row["id"]), callback=row["callback_id"], call=event.call_id)
            # "ended": the callback finished first; the next round gives the request its end.

    async def _cancel_callback(self, conn: AsyncConnection, callback_id: int, note: str, now: datetime) -> str:
        """Cancel it unless it is being placed: "cancelled", "ringing" or "ended"."""
        state = (await conn.execute(self._locked(select(callbacks.c.state).where(callbacks.c.id == callback_id)))).scalar_one()
        if state in _RINGING:
            return "ringing"
        if state != CB.SCHEDULED.value:
            return "ended"
        await conn.execute(
            update(callbacks)
            .where(callbacks.c.id == callback_id, callbacks.c.state == CB.SCHEDULED.value)
            .values(state=CB.CANCELLED.value, open_key=None, next_attempt_at=None, note=note, updated_at=now, version=callbacks.c.version + 1)
        )
        return "cancelled"

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, active: Callable[[], bool] = lambda: True) -> None:
        """Rounds until stop, while `active` (several instances: while this one owns AMI,
        whose live calls and agents the rounds line up)."""
        log.info("keep_place.started")
        while not stop.is_set():
            try:
                if active():
                    await self.run_once()
            except LeaseLost:
                log.warning("keep_place.fenced")
            except Exception:  # a database fault: logged, tried again next round
                log.exception("keep_place.round_failed")
            await self._nap(stop)
        log.info("keep_place.stopped")

    async def _nap(self, stop: asyncio.Event) -> None:
        waits = {
            asyncio.create_task(self.clock.sleep_until(self.clock.now() + self.poll_interval)),
            asyncio.create_task(stop.wait()),
            asyncio.create_task(self._wake.wait()),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def run_once(self) -> list[tuple[str, int, str]]:
        """One round: follow the callbacks, carry the requests a day ended on to the
        window's next opening, and (window open) hand the kept places whose turn came to
        free agents. The (request, callback, agent) handed over."""
        self._wake.clear()  # before reading: a change after this wakes the next nap
        now = self.clock.now().astimezone(UTC)
        await self._release_held_agents(now)
        if not await self._any_open():
            return []  # nothing kept: no write lock taken every few seconds for nothing
        async with write_transaction(self.engine, self.fence) as conn:
            if not self._sqlite:
                await conn.execute(select(func.pg_advisory_xact_lock(KEEP_LOCK)))
            await self._follow(conn, now)
            await cancel_superseded(conn, now)
            await self._carry(conn, now)
            handed = []
            if is_open(now, self.rules.window, self.rules.is_working_day, self.rules.tz):
                handed = await self._release(conn, now, self._free_agents)
        for key, callback_id, agent in handed:
            log.info("keep_place.due", request=key, callback=callback_id, agent=agent)
            if self.floor is not None:
                await self.floor.hold_for_kept_place(agent)
        return handed

    async def _release_held_agents(self, now: datetime) -> None:
        """Agents held for a kept place's callback that no callback holds any more (it
        ended, or waits for a retry): released (the floor may hand them the next one)."""
        if self.floor is None:
            return
        held = [row.extension for row in self.agents() if str(row.state) == "paused" and row.reason == KEPT_PLACE_REASON]
        if not held:
            return
        async with self.engine.connect() as conn:
            taken = await self._agents_taken(conn, now)
        for extension in held:
            if extension not in taken:
                log.info("keep_place.agent_released", agent=extension)
                await self.floor.release_from_kept_place(extension)

    async def claim_agent(self, extension: str) -> str | None:
        """For the floor, before it makes an agent ready in the queues: if a kept place is
        next in one of the agent's queues (no live caller before it), it is handed to this
        agent, who should then stay paused in the queues (Asterisk would otherwise offer
        them the next live caller first) until the callback is over. The request's key."""
        now = self.clock.now().astimezone(UTC)
        if not is_open(now, self.rules.window, self.rules.is_working_day, self.rules.tz):
            return None
        rows = {row.extension: row for row in self.agents()}
        if extension not in rows or not await self._any_open():
            return None  # read first: an agent made ready does not wait for the write lock for nothing
        queues = set(rows[extension].queues)

        def only_this_agent(queue: str, taken: set[str]) -> list[str]:
            return [extension] if queue in queues and extension not in taken else []

        async with write_transaction(self.engine, self.fence) as conn:
            if not self._sqlite:
                await conn.execute(select(func.pg_advisory_xact_lock(KEEP_LOCK)))
            handed = await self._release(conn, now, only_this_agent)
        if not handed:
            return None
        log.info("keep_place.due", request=handed[0][0], callback=handed[0][1], agent=extension, claimed=True)
        return handed[0][0]

    async def _any_open(self) -> bool:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(requests.c.id).where(requests.c.state.in_(OPEN_STATES)).limit(1))).first() is not None

    # -- following each callback ----------------------------------------------------------------

    async def _follow(self, conn: AsyncConnection, now: datetime) -> None:
        """Open requests with a callback take its end; a callback scheduled again for a
        retry (its tries went up since it was handed over) or for later is held (no time to
        be placed at), its agent released, and the request lines up again from that time."""
        query = (
            select(requests, callbacks.c.state.label("cb_state"), callbacks.c.attempts.label("cb_attempts"), callbacks.c.next_attempt_at.label("cb_next"), callbacks.c.note.label("cb_note"))
            .join(callbacks, callbacks.c.id == requests.c.callback_id)
            .where(requests.c.state.in_(OPEN_STATES))
        )
        for row in (await conn.execute(self._locked(query, of=requests))).mappings().all():
            ended = _ENDS.get(row["cb_state"])
            if ended is not None:
                await self._end(conn, row, ended, now, note=row["cb_note"], answered_at=await _answered_at(conn, row["callback_id"]) if ended is R.DONE else None)
                log.info("keep_place.ended", request=request_key(row["id"]), state=ended.value, callback=row["callback_id"])
            elif row["state"] == R.CALLING.value and row["cb_state"] == CB.SCHEDULED.value and row["cb_next"] is not None and (row["cb_attempts"] > row["attempts"] or _utc(row["cb_next"]) > now):  # type: ignore[operator]
                # A retry, or moved by the dispatcher to the window's next opening: either
                # way its agent is not to be held until then.
                held = await conn.execute(
                    update(callbacks)
                    .where(callbacks.c.id == row["callback_id"], callbacks.c.state == CB.SCHEDULED.value, callbacks.c.attempts == row["cb_attempts"])
                    .values(next_attempt_at=None, updated_at=now, version=callbacks.c.version + 1)
                )
                if held.rowcount == 1:
                    await self._write(conn, row, now, state=R.WAITING.value, not_before=_utc(row["cb_next"]))
                    log.info("keep_place.retry_held", request=request_key(row["id"]), callback=row["callback_id"], not_before=_utc(row["cb_next"]))

    async def _end(self, conn: AsyncConnection, row: Mapping[str, Any], state: RequestState, now: datetime, *, note: str | None, answered_at: datetime | None = None) -> None:
        await self._write(conn, row, now, state=state.value, open_key=None, not_before=None, note=note, ended_at=answered_at or now)

    async def _write(self, conn: AsyncConnection, row: Mapping[str, Any], now: datetime, **values: Any) -> None:
        done = await conn.execute(
            update(requests).where(requests.c.id == row["id"], requests.c.version == row["version"]).values(**values, updated_at=now, version=row["version"] + 1)
        )
        if done.rowcount != 1:
            raise RuntimeError(f"keep-place request {row['id']} changed under its lock")  # rolls the round back

    # -- handing kept places to free agents -----------------------------------------------------

    async def _release(self, conn: AsyncConnection, now: datetime, free: Callable[[str, set[str]], list[str]]) -> list[tuple[str, int, str]]:
        waiting = (await conn.execute(self._locked(select(requests).where(requests.c.state == R.WAITING.value).order_by(requests.c.id)))).mappings().all()
        if not waiting:
            return []
        taken = await self._agents_taken(conn, now)
        open_calls = {row["call_id"] for row in waiting}
        handed: list[tuple[str, int, str]] = []
        for queue in sorted({row["queue"] for row in waiting}):
            rows = {row["id"]: row for row in waiting if row["queue"] == queue}
            # The calls that pressed 1 left the queue; their CallLeftQueue may not be stored yet.
            live = [caller for caller in self.live_line(queue) if caller.call_id not in open_calls]
            kept = [KeptPlace(r["id"], r["number"], r["priority"], _utc(r["joined_at"]), r["carried"], _utc(r["not_before"])) for r in rows.values()]  # type: ignore[arg-type]
            for place, agent in due(line(live, kept, now), free(queue, taken)):
                assert place.request_id is not None
                callback_id = await self._hand_over(conn, rows[place.request_id], agent, now)
                if callback_id is not None:
                    taken.add(agent)
                    handed.append((place.key, callback_id, agent))
        return handed

    def _free_agents(self, queue: str, taken: set[str]) -> list[str]:
        """Agents of `queue` ready now and not set aside for a callback, the longest ready first."""
        ready = [row for row in self.agents() if str(row.state) == "ready" and queue in row.queues and row.extension not in taken]
        far_past = datetime.min.replace(tzinfo=UTC)
        return [row.extension for row in sorted(ready, key=lambda row: (_utc(row.since) or far_past, row.extension))]

    async def _agents_taken(self, conn: AsyncConnection, now: datetime) -> set[str]:
        """Agents an agent-first callback holds: being placed, about to be (scheduled and
        due), or its call not hung up yet."""
        held = or_(callbacks.c.state.in_(_RINGING), and_(callbacks.c.state == CB.SCHEDULED.value, callbacks.c.next_attempt_at <= now))
        query = select(callbacks.c.agent_extension).where(callbacks.c.mode == Mode.AGENT_FIRST.value, held)
        on_call = (
            select(callbacks.c.agent_extension)
            .select_from(callback_attempts.join(callbacks, callbacks.c.id == callback_attempts.c.callback_id))
            .where(callbacks.c.mode == Mode.AGENT_FIRST.value, callback_attempts.c.hung_up_at.is_(None))
        )
        found = set((await conn.execute(query)).scalars()) | set((await conn.execute(on_call)).scalars())
        if None in found:
            found.discard(None)
            if self.rules.default_agent_extension:
                found.add(self.rules.default_agent_extension)
        return found  # type: ignore[return-value]

    async def _hand_over(self, conn: AsyncConnection, row: Mapping[str, Any], agent: str, now: datetime) -> int | None:
        """Its callback, ringing `agent` first, due now; None when the number's callback is
        being placed already (a lost caller's: the request follows that one instead)."""
        if row["callback_id"] is not None:
            # A retry held until now: the same callback (its tries counted), a free agent.
            released = await conn.execute(
                update(callbacks)
                .where(callbacks.c.id == row["callback_id"], callbacks.c.state == CB.SCHEDULED.value, callbacks.c.next_attempt_at.is_(None))
                .values(agent_extension=agent, next_attempt_at=now, updated_at=now, version=callbacks.c.version + 1)
            )
            if released.rowcount != 1:
                return None  # it moved (a person cancelled it): the next round follows it
            attempts = (await conn.execute(select(callbacks.c.attempts).where(callbacks.c.id == row["callback_id"]))).scalar_one()
            await self._write(conn, row, now, state=R.CALLING.value, attempts=attempts, not_before=None)
            return int(row["callback_id"])
        owed = Owed(
            kind=CallbackKind.KEEP_PLACE, mode=Mode.AGENT_FIRST, number=row["number"], tier=row["tier"], due_at=now,
            max_attempts=self.rules.max_attempts, call_id=row["call_id"], agent_extension=agent, note=note_of(row), open_key=row["number"],
        )  # fmt: skip
        callback_id = await schedule(conn, owed, now)
        if callback_id is None:
            other = (await conn.execute(select(callbacks.c.id, callbacks.c.attempts).where(callbacks.c.open_key == row["number"]))).first()
            if other is not None:
                await self._write(conn, row, now, state=R.CALLING.value, callback_id=other.id, attempts=other.attempts, not_before=None)
                log.info("keep_place.follows_callback", request=request_key(row["id"]), callback=other.id)
            return None
        await self._write(conn, row, now, state=R.CALLING.value, callback_id=callback_id, attempts=0, not_before=None)
        return callback_id

    # -- the window closing ---------------------------------------------------------------------

    async def _carry(self, conn: AsyncConnection, now: datetime) -> None:
        """Requests a day ended on (the window shut, or the service was down over it) are
        called at the window's next opening, before the callers of that day."""
        query = select(requests).where(requests.c.state == R.WAITING.value)
        for row in (await conn.execute(self._locked(query))).mappings().all():
            opening = _utc(carried_to(_utc(row["requested_at"]), now, self.rules))  # type: ignore[arg-type]
            if opening is None:
                continue
            waits_until = _utc(row["not_before"])
            # Open now (opening == now): it only goes first; a retry's later time stays.
            not_before = waits_until if opening <= now else max(opening, waits_until or opening)
            if row["carried"] and waits_until == not_before:
                continue
            await self._write(conn, row, now, carried=True, not_before=not_before)
            log.info("keep_place.carried", request=request_key(row["id"]), to=not_before)

    def _locked(self, query: Select[Any], *, of: Any = None) -> Select[Any]:
        """FOR UPDATE on PostgreSQL (SQLite's write lock is taken already)."""
        if self._sqlite:
            return query
        return query.with_for_update(of=of) if of is not None else query.with_for_update()


async def cancel_superseded(conn: AsyncConnection, now: datetime, *, number: str | None = None) -> None:
    """A lost caller's callback not yet placed, for a number with a kept place, is
    cancelled: the kept place calls them back, in its turn (never both)."""
    query = select(requests.c.id, requests.c.open_key, requests.c.caller_number, requests.c.callback_id).where(requests.c.state.in_(OPEN_STATES))
    if number is not None:
        query = query.where(or_(requests.c.open_key == number, requests.c.caller_number == number))
    for request_id, key, caller, own in (await conn.execute(query)).all():
        numbers = [n for n in (key, caller) if n]
        cancelled = await conn.execute(
            update(callbacks)
            # Not the request's own (a lost caller's callback it follows, see _hand_over).
            .where(callbacks.c.open_key.in_(numbers), callbacks.c.kind.in_(LOST), callbacks.c.state == CB.SCHEDULED.value, callbacks.c.id != (own or 0))
            .values(state=CB.CANCELLED.value, open_key=None, next_attempt_at=None, note=_SUPERSEDED.format(key=request_key(request_id)), updated_at=now, version=callbacks.c.version + 1)
        )
        if cancelled.rowcount:
            log.info("keep_place.superseded_lost_callback", request=request_key(request_id), number=key)


async def _answered_at(conn: AsyncConnection, callback_id: int) -> datetime | None:
    query = select(func.max(callback_attempts.c.ended_at)).where(callback_attempts.c.callback_id == callback_id, callback_attempts.c.outcome == "answered")
    return _utc((await conn.execute(query)).scalar())

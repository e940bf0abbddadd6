"""Taking a keep-your-place request: the FastAGI handler (agi.py) asks when a waiting caller
has pressed 1 and confirmed the number; the request is stored, with its queue, priority,
join time and number, in one transaction before the caller is answered, and the answer
says roughly when they will be called and whether it is the next day.

One open request per number: pressing 1 again, on the same call or a new one, gets the
request already kept, in its earlier place. Also what the console reads: the virtual
callers waiting beside the live ones, and the kept place behind a callback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.ami.tracker import CallTracker
from hotline.callbacks.policy import priority as callback_priority
from hotline.callbacks.model import CallbackKind
from hotline.clock import Clock
from hotline.db.engine import write_transaction
from hotline.db.tables import calls

from .ask import KeepPlaceAnswer, KeepPlaceAsk, KeepPlaceRefused
from .model import KeepPlaceRules, KeptPlace, Place, Promise, ahead_of, as_utc as _utc, handle_time, line, minutes, number_of, promise, request_key, rough_wait
from .scheduler import Agents, LiveLine, cancel_superseded
from .tables import OPEN_STATES, RequestState, keep_place_requests as requests

log = structlog.get_logger(__name__)

HANDLE_SAMPLE = 20  # recent answered calls of the queue the rough wait learns from
_SERVING = frozenset({"ready", "ringing", "on_call", "wrapup"})  # logged in, not on a break
_NOT_CALLABLE = "这个号码无法回呼 / this is not a number we can call back"

CallOf = Callable[[str], str | None]


def call_of_channel(tracker: CallTracker) -> CallOf:
    """The call a channel belongs to (the AGI gives the caller channel's Uniqueid; a call
    is named by its Linkedid, which differs when the caller came in through a Local channel)."""

    def find(uniqueid: str) -> str | None:
        if uniqueid in tracker.calls:
            return uniqueid
        return next((call.call_id for call in tracker.calls.values() if uniqueid in call.channels), None)

    return find


class KeepPlaceDesk:
    def __init__(self, engine: AsyncEngine, clock: Clock, rules: KeepPlaceRules, *, agents: Agents, live_line: LiveLine, call_of: CallOf | None = None, on_request: Callable[[], None] | None = None) -> None:
        self.engine, self.clock, self.rules = engine, clock, rules
        self.agents, self.live_line = agents, live_line
        self.call_of, self.on_request = call_of, on_request

    async def request(self, ask: KeepPlaceAsk) -> KeepPlaceAnswer:
        """Keep their place (or give the one kept already); KeepPlaceRefused when the number
        cannot be called back."""
        number = number_of(ask.number, self.rules.default_area_code)
        if number is None:
            raise KeepPlaceRefused(_NOT_CALLABLE)
        caller = number_of(ask.caller_number, self.rules.default_area_code)
        now = self.clock.now().astimezone(UTC)
        async with write_transaction(self.engine) as conn:
            row = await self._open_for(conn, number, caller)
            kept_already = row is not None
            if row is None:
                row = await self._keep(conn, ask, number, caller, now)
                await cancel_superseded(conn, now, number=number)  # a lost caller's callback: not both
            answer = await self._answer(conn, row, now)
        if self.on_request is not None:
            self.on_request()
        log.info("keep_place.requested", request=answer.request_id, again=kept_already, queue=row["queue"], number=number, minutes=answer.minutes, next_day=answer.next_day)
        return answer

    async def _open_for(self, conn: AsyncConnection, number: str, caller: str | None) -> Mapping[str, Any] | None:
        """The open request for this number, or for this caller (who keyed another one)."""
        matches = [requests.c.open_key == number, requests.c.caller_number == number]
        if caller is not None:
            matches += [requests.c.open_key == caller, requests.c.caller_number == caller]
        query = select(requests).where(requests.c.state.in_(OPEN_STATES), or_(*matches)).order_by(requests.c.id).limit(1)
        return (await conn.execute(query)).mappings().first()

    async def _keep(self, conn: AsyncConnection, ask: KeepPlaceAsk, number: str, caller: str | None, now: datetime) -> Mapping[str, Any]:
        call_id, joined_at = await self._call(conn, ask.call_id)
        row: dict[str, Any] = {
            "number": number, "caller_number": caller or _bounded(ask.caller_number), "call_id": call_id, "queue": ask.queue,
            "priority": ask.priority, "tier": _tier(ask.tier), "position": ask.position, "joined_at": joined_at or now,
            "requested_at": now, "state": RequestState.WAITING.value, "callback_id": None, "attempts": 0, "carried": False,
            "not_before": None, "open_key": number, "note": None, "ended_at": None, "created_at": now, "updated_at": now, "version": 0,
        }  # fmt: skip
        told = await self._promise(conn, row, now)
        if told.next_day:
            row.update(carried=True, not_before=_utc(told.carried_to))
        try:
            async with conn.begin_nested():
                row["id"] = (await conn.execute(insert(requests).values(row).returning(requests.c.id))).scalar_one()
        except IntegrityError:
            # Another press of 1 for this number, at the same moment, was kept first.
            found = await self._open_for(conn, number, caller)
            if found is None:
                raise
            return found
        return row

    async def _call(self, conn: AsyncConnection, given: str) -> tuple[str, datetime | None]:
        """The stored call that pressed 1 (by its id, its Linkedid, or the call its channel
        belongs to) and when it joined the queue."""
        call_id = (self.call_of(given) if self.call_of is not None else None) or given
        query = select(calls.c.id, calls.c.queued_at).where(or_(calls.c.id == call_id, calls.c.linkedid == call_id)).limit(1)
        found = (await conn.execute(query)).first()
        if found is None:
            return call_id, None
        return found.id, _utc(found.queued_at)

    async def _answer(self, conn: AsyncConnection, row: Mapping[str, Any], now: datetime) -> KeepPlaceAnswer:
        waits_until = _utc(row["not_before"])
        if row["carried"] and waits_until is not None and waits_until > now:
            later_day = waits_until.astimezone(self.rules.tz).date() != now.astimezone(self.rules.tz).date()
            return KeepPlaceAnswer(request_key(row["id"]), minutes(waits_until - now), next_day=later_day)
        told = await self._promise(conn, row, now)
        return KeepPlaceAnswer(request_key(row["id"]), minutes(told.expected_at - now), next_day=told.next_day)

    async def _promise(self, conn: AsyncConnection, row: Mapping[str, Any], now: datetime) -> Promise:
        """Where the request stands in its queue's line and roughly when its turn comes."""
        queue = row["queue"]
        waiting = (await conn.execute(select(requests).where(requests.c.state == RequestState.WAITING.value, requests.c.queue == queue))).mappings().all()
        others = [KeptPlace(r["id"], r["number"], r["priority"], _utc(r["joined_at"]), r["carried"], _utc(r["not_before"])) for r in waiting if r["id"] != row.get("id")]  # type: ignore[arg-type]
        live = [c for c in self.live_line(queue) if c.call_id != row["call_id"] and c.number != row["number"]]
        place = Place(request_key(row.get("id") or 0), row["priority"], _utc(row["joined_at"]), virtual=True)  # type: ignore[arg-type]
        ahead = ahead_of(line(live, others, now), place)
        serving = [agent for agent in self.agents() if queue in agent.queues and str(agent.state) in _SERVING]
        free = sum(1 for agent in serving if str(agent.state) == "ready")
        wait = rough_wait(ahead, handle_time(await _handle_times(conn, queue)), len(serving), free)
        return promise(now, wait, self.rules)

    # -- what the console reads ---------------------------------------------------------------

    async def waiting(self, queue: str | None = None) -> list[dict[str, Any]]:
        """The virtual callers: open requests, best place first per queue (the supervisor's
        view beside the live callers)."""
        query = select(requests).where(requests.c.state.in_(OPEN_STATES)).order_by(requests.c.queue, requests.c.carried.desc(), requests.c.priority.desc(), requests.c.joined_at, requests.c.id)
        if queue is not None:
            query = query.where(requests.c.queue == queue)
        async with self.engine.connect() as conn:
            return [view(row) for row in (await conn.execute(query)).mappings().all()]

    async def of_callback(self, callback_id: int) -> dict[str, Any] | None:
        """The kept place behind a callback (the agent's screen pop: how long ago, which call)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(requests).where(requests.c.callback_id == callback_id).order_by(requests.c.id.desc()).limit(1))).mappings().first()
        return None if row is None else view(row)

    async def served(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Requests made in [since, until), for the SLA report: `wait_seconds` is press-1 to
        the callback answered (done), null when it was not."""
        query = select(requests).where(requests.c.requested_at >= since.astimezone(UTC), requests.c.requested_at < until.astimezone(UTC)).order_by(requests.c.requested_at, requests.c.id)
        async with self.engine.connect() as conn:
            return [view(row) for row in (await conn.execute(query)).mappings().all()]


def view(row: Mapping[str, Any]) -> dict[str, Any]:
    requested, ended = _utc(row["requested_at"]), _utc(row["ended_at"])
    done = row["state"] == RequestState.DONE.value and ended is not None and requested is not None
    return {
        "id": request_key(row["id"]), "number": row["number"], "caller_number": row["caller_number"], "call_id": row["call_id"],
        "queue": row["queue"], "priority": row["priority"], "tier": row["tier"], "position": row["position"],
        "joined_at": _utc(row["joined_at"]), "requested_at": requested, "state": row["state"], "callback_id": row["callback_id"],
        "carried": row["carried"], "not_before": _utc(row["not_before"]), "note": row["note"], "ended_at": ended,
        "wait_seconds": (ended - requested).total_seconds() if done else None,  # type: ignore[operator]
    }  # fmt: skip


async def _handle_times(conn: AsyncConnection, queue: str) -> list[timedelta]:
    query = (
        select(calls.c.answered_at, calls.c.ended_at)
        .where(calls.c.queue == queue, calls.c.answered_at.is_not(None), calls.c.ended_at.is_not(None))
        .order_by(calls.c.ended_at.desc())
        .limit(HANDLE_SAMPLE)
    )
    return [_utc(ended) - _utc(answered) for answered, ended in (await conn.execute(query)).all()]  # type: ignore[operator]


def _tier(tier: str) -> str:
    """A tier the callbacks know (their priority is by tier); anything else is regular."""
    try:
        callback_priority(CallbackKind.KEEP_PLACE, tier)
    except ValueError:
        return "regular"
    return tier


def _bounded(raw: str | None) -> str | None:
    return None if raw is None else raw[:40]

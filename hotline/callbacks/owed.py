"""Callbacks owed to callers who were lost: a caller who hung up waiting (abandoned) or
whose call ended unanswered outside working hours gets one, VIPs and key accounts first;
one open callback per number; the caller ringing again and being answered cancels it.

Hears CallEnded and CallAnswered on the bus (stored events only) and writes rows; the
dispatcher places the calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.calls.store import CallStore
from hotline.clock import Clock
from hotline.db.engine import write_transaction
from hotline.events import CallAnswered, CallEnded, EventBus, Outcome as CallOutcome
from hotline.routing.numbers import BadNumber, is_withheld, normalise

from .model import CallbackKind, CallbackState, Mode
from .policy import priority
from .tables import callbacks

log = structlog.get_logger(__name__)

OPEN = (CallbackState.SCHEDULED.value, CallbackState.PLACING.value, CallbackState.IN_FLIGHT.value)
_LOST = (CallbackKind.ABANDONED.value, CallbackKind.AFTER_HOURS.value)


@dataclass(frozen=True, slots=True)
class LostCallPolicy:
    mode: Mode
    max_attempts: int
    default_area_code: str


def dialled(number: str, default_area_code: str) -> str:
    """The digits to dial for a caller's number ("+8613912345678" -> "13912345678",
    "5551234" -> "08275551234"); BadNumber when it is not a phone number."""
    canonical = normalise(number, default_area_code=default_area_code)
    if canonical.startswith("ext:"):
        raise BadNumber(number, "an internal extension is not called back")
    parsed = phonenumbers.parse(canonical)
    if parsed.country_code != 86:
        return "00" + canonical[1:]
    national = str(parsed.national_number)
    return national if national.startswith("1") else "0" + national


class LostCallers:
    def __init__(self, engine: AsyncEngine, calls: CallStore, clock: Clock, policy: LostCallPolicy, *, in_working_hours: Callable[[datetime], bool]) -> None:
        self.engine, self.calls, self.clock, self.policy = engine, calls, clock, policy
        self.in_working_hours = in_working_hours

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(CallEnded, self.on_call_ended)
        bus.subscribe(CallAnswered, self.on_call_answered)

    async def on_call_ended(self, event: CallEnded) -> None:
        kind = self._kind(event)
        if kind is None:
            return
        record = await self.calls.call_record(event.call_id)
        if record is None or is_withheld(record.caller_number):
            return
        assert record.caller_number is not None
        try:
            number = dialled(record.caller_number, self.policy.default_area_code)
        except BadNumber:
            log.info("callback.not_owed", call=event.call_id, reason="not a number to call", caller_number=record.caller_number)
            return
        tier = record.tier or "regular"
        await self.owe(kind, number, tier, call_id=event.call_id, at=event.at)

    def _kind(self, event: CallEnded) -> CallbackKind | None:
        if event.outcome == CallOutcome.ABANDONED:
            return CallbackKind.ABANDONED
        if event.outcome != CallOutcome.ANSWERED and not self.in_working_hours(event.at):
            return CallbackKind.AFTER_HOURS
        return None

    async def owe(self, kind: CallbackKind, number: str, tier: str, *, call_id: str | None, at: datetime) -> int | None:
        """A callback for a lost caller, unless one is open for the number already (then
        that one keeps its place, raised to this tier's priority if higher)."""
        now = self.clock.now()
        rank = priority(kind, tier)
        row = {
            "kind": kind.value, "mode": self.policy.mode.value, "number": number, "customer_id": None, "ticket_id": None,
            "call_id": call_id, "tier": tier, "priority": rank, "state": CallbackState.SCHEDULED.value, "due_at": at,
            "deadline_at": None, "next_attempt_at": at, "attempts": 0, "max_attempts": self.policy.max_attempts,
            "agent_extension": None, "outcome": None, "score": None, "note": None, "open_key": number,
            "created_at": now, "updated_at": now, "version": 0,
        }  # fmt: skip
        try:
            async with self.engine.begin() as conn:
                created = (await conn.execute(insert(callbacks).values(row).returning(callbacks.c.id))).scalar_one()
        except IntegrityError:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(callbacks)
                    .where(callbacks.c.open_key == number, callbacks.c.priority < rank)
                    .values(priority=rank, tier=tier, updated_at=now, version=callbacks.c.version + 1)
                )
            log.info("callback.already_owed", kind=kind.value, number=number, call=call_id)
            return None
        log.info("callback.owed", callback=created, kind=kind.value, number=number, tier=tier, call=call_id)
        return int(created)

    async def on_call_answered(self, event: CallAnswered) -> None:
        """The caller rang again and an agent answered: the callback owed is not needed."""
        record = await self.calls.call_record(event.call_id)
        if record is None or is_withheld(record.caller_number):
            return
        assert record.caller_number is not None
        try:
            number = dialled(record.caller_number, self.policy.default_area_code)
        except BadNumber:
            return
        note = f"来电已接通，无需回呼（通话 {event.call_id}） / the caller rang again and was answered (call {event.call_id})"
        async with write_transaction(self.engine) as conn:
            found = (await conn.execute(select(callbacks.c.id, callbacks.c.state).where(callbacks.c.open_key == number, callbacks.c.kind.in_(_LOST)))).first()
            if found is None:
                return
            if found.state == CallbackState.SCHEDULED.value:
                values = {"state": CallbackState.CANCELLED.value, "open_key": None, "next_attempt_at": None, "note": note}
            else:
                # Being placed now: that call ends by itself and is not tried again.
                values = {"stop_reason": note}
            await conn.execute(update(callbacks).where(callbacks.c.id == found.id, callbacks.c.state == found.state).values(**values, updated_at=self.clock.now(), version=callbacks.c.version + 1))
        log.info("callback.cancelled", callback=found.id, reason="answered again", call=event.call_id, in_flight=found.state != CallbackState.SCHEDULED.value)

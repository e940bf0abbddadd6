"""Writing a callback owed: one row, scheduled, for the dispatcher to place (or, for a
visit or reply letter, for a person to record). Every part that owes a callback (lost
callers, follow-ups, samples, the monthly calls, an agent's booking) writes it here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .model import CallbackKind, CallbackState, Mode
from .policy import priority
from .tables import callbacks


@dataclass(frozen=True, slots=True)
class Owed:
    kind: CallbackKind
    mode: Mode
    number: str  # as dialled: digits only
    tier: str  # a Tier value
    due_at: datetime  # not placed before
    max_attempts: int
    deadline_at: datetime | None = None  # the standard's limit
    customer_id: int | None = None
    ticket_id: int | None = None
    call_id: str | None = None
    agent_extension: str | None = None
    note: str | None = None
    open_key: str | None = None  # one open callback per key (lost callers: the number)
    source_key: str | None = None  # one callback ever per key (follow-ups, samples, monthly)


def utc(moment: datetime | None) -> datetime | None:
    """Stored in UTC: SQLite keeps a datetime's wall time and drops its zone."""
    return None if moment is None else moment.astimezone(UTC)


def row_of(owed: Owed, now: datetime) -> dict[str, Any]:
    due_at, deadline_at, now = utc(owed.due_at), utc(owed.deadline_at), utc(now)
    return {
        "kind": owed.kind.value, "mode": owed.mode.value, "number": owed.number, "customer_id": owed.customer_id,
        "ticket_id": owed.ticket_id, "call_id": owed.call_id, "tier": owed.tier, "priority": priority(owed.kind, owed.tier),
        "state": CallbackState.SCHEDULED.value, "due_at": due_at, "deadline_at": deadline_at,
        "next_attempt_at": due_at, "attempts": 0, "max_attempts": owed.max_attempts,
        "agent_extension": owed.agent_extension, "outcome": None, "score": None, "note": owed.note,
        "open_key": owed.open_key, "source_key": owed.source_key, "created_at": now, "updated_at": now, "version": 0,
    }  # fmt: skip


async def schedule(conn: AsyncConnection, owed: Owed, now: datetime) -> int | None:
    """Insert it; None when its open_key or source_key is taken already (nothing written).
    Runs in a savepoint, so the caller's transaction goes on either way."""
    try:
        async with conn.begin_nested():
            created = (await conn.execute(insert(callbacks).values(row_of(owed, now)).returning(callbacks.c.id))).scalar_one()
    except IntegrityError as exc:
        # Only the two keys mean "owed already"; a broken foreign key is a fault.
        if "open_key" not in str(exc) and "source_key" not in str(exc):
            raise
        return None
    return int(created)

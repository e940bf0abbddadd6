"""Stores call events (append-only) and the calls they add up to, in one transaction a batch.

Storing is idempotent: an event already stored (same digest) is not stored again, so a
replayed stream or a resync after a restart never doubles a call or its timeline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.ami.tracker import LiveCall
from hotline.db.dialect import insert_ignoring_duplicates, upsert
from hotline.db.tables import call_events, calls, queue_counters
from hotline.events import CallArrived, CallEvent, CallState
from hotline.db.engine import write_transaction

from .projection import CallRecord, apply

_RECORD_FIELDS = tuple(CallRecord.__dataclass_fields__)


def event_key(event: CallEvent) -> str:
    payload = json.dumps([event.call_id, event.kind, event.at.isoformat(), event.data()], sort_keys=True, default=str)
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def utc(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every time we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class CallStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._live: dict[str, CallRecord] = {}
        self._ins_event = insert_ignoring_duplicates(engine, call_events, "key")
        self._upsert_call = upsert(engine, calls, "id")
        self._upsert_counters = upsert(engine, queue_counters, "queue")
        self._counters: dict[str, tuple[int, int]] = {}  # as stored
        # Several instances: Lease.fence, run first in each batch's transaction. It raises
        # (and nothing of the batch is stored) once another instance owns the AMI stream.
        self.fence: Callable[[AsyncConnection], Awaitable[None]] | None = None

    async def load_live(self) -> list[LiveCall]:
        """Calls not ended when the service last stopped, for the tracker to take up again."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(calls).where(calls.c.state != CallState.ENDED.value))).mappings().all()
        self._live = {row["id"]: _record(row) for row in rows}
        return [_live_call(record) for record in self._live.values()]

    async def load_counters(self) -> dict[str, tuple[int, int]]:
        """The queue counters stored with the last batch of events (the tracker's baseline)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(queue_counters))).mappings().all()
        self._counters = {row["queue"]: (row["completed"], row["abandoned"]) for row in rows}
        return dict(self._counters)

    async def record(self, events: Sequence[CallEvent], counters: dict[str, tuple[int, int]] | None = None) -> None:
        """Store a batch of events and the calls they change, all or nothing; with the
        tracker's queue counters as of the batch, when they moved."""
        moved = [{"queue": q, "completed": c, "abandoned": a} for q, (c, a) in (counters or {}).items() if self._counters.get(q) != (c, a)]
        if not events and not moved:
            return
        touched: dict[str, CallRecord] = {}
        for event in events:
            current = touched.get(event.call_id) or self._live.get(event.call_id)
            if current is None and not isinstance(event, CallArrived):
                current = await self._load(event.call_id)  # a call that ended, or an old one
            touched[event.call_id] = apply(current, event)
        event_rows = [{"call_id": e.call_id, "key": event_key(e), "kind": e.kind, "at": e.at, "data": e.data()} for e in events]
        async with write_transaction(self.engine, self.fence) as conn:
            if touched:
                await conn.execute(self._upsert_call, [r.row() for r in touched.values()])
                await conn.execute(self._ins_event, event_rows)
            if moved:
                await conn.execute(self._upsert_counters, moved)
        self._counters |= {row["queue"]: (row["completed"], row["abandoned"]) for row in moved}
        for call_id, record in touched.items():
            if record.state == CallState.ENDED.value:
                self._live.pop(call_id, None)
            else:
                self._live[call_id] = record

    async def observe(self, event: CallEvent) -> None:
        """Another instance stored this event (it owns the AMI stream): the calls as this
        instance shows them follow, without writing (live_record, live_records)."""
        current = self._live.get(event.call_id)
        if current is None and not isinstance(event, CallArrived):
            current = await self._load(event.call_id)
        record = apply(current, event)
        if record.state == CallState.ENDED.value:
            self._live.pop(event.call_id, None)
        else:
            self._live[event.call_id] = record

    def live_record(self, call_id: str) -> CallRecord | None:
        """The call as stored, while it is live (None once it ended): no database trip."""
        return self._live.get(call_id)

    def live_records(self) -> list[CallRecord]:
        """Every live call as stored, oldest first: no database trip."""
        return sorted(self._live.values(), key=lambda r: (r.arrived_at, r.id))

    async def call_record(self, call_id: str) -> CallRecord | None:
        """The call, live or not: from memory when live, else from the calls table."""
        return self._live.get(call_id) or await self._load(call_id)

    async def _load(self, call_id: str) -> CallRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(calls).where(calls.c.id == call_id))).mappings().first()
        return _record(row) if row else None

    async def list_calls(self, *, state: str | None = None, outcome: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(calls).order_by(calls.c.arrived_at.desc(), calls.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(calls.c.state == state)
        if outcome is not None:
            query = query.where(calls.c.outcome == outcome)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_record(row).row() for row in rows]

    async def get_call(self, call_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(calls).where(calls.c.id == call_id))).mappings().first()
            if row is None:
                return None
            timeline = (await conn.execute(select(call_events).where(call_events.c.call_id == call_id).order_by(call_events.c.at, call_events.c.id))).mappings().all()
        call = _record(row).row()
        call["timeline"] = [{"kind": e["kind"], "at": utc(e["at"]), **e["data"]} for e in timeline]
        return call

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM calls"))).scalar_one())

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True


def _record(row: Any) -> CallRecord:
    values = {name: row[name] for name in _RECORD_FIELDS}
    for name, value in values.items():
        if isinstance(value, datetime):
            values[name] = utc(value)
    return CallRecord(**values)


def _live_call(record: CallRecord) -> LiveCall:
    return LiveCall(
        call_id=record.id,
        state=CallState(record.state),
        caller_number=record.caller_number,
        caller_name=record.caller_name,
        queue=record.queue,
        queued_at=record.queued_at,
        agent=record.agent,
        interface=record.agent_interface,
        answered=record.answered_at is not None,
        abandoned=record.abandoned_at is not None,
        left_queue=record.left_queue_at is not None,
        route_sent=record.tier is not None or record.route_queue is not None,
    )

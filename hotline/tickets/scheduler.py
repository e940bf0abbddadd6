"""The durable deadline scheduler: claims due deadline rows, fires each step once (stored on
the ticket's timeline in the claiming transaction), then publishes DeadlineWarned/Breached.

Exactly once: a claim and its record are one transaction that moves next_fire_at past what
it fired. Rolled back (crash, error), nothing fired and the row is still due; committed, the
row no longer matches the claim. PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so several
instances share the rows; SQLite: BEGIN IMMEDIATE takes the one write lock before the read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.clock import Clock
from hotline.db.tables import users
from hotline.events import EventBus
from hotline.metrics import Metrics
from hotline.tickets.events import DeadlineBreached, DeadlineWarned
from hotline.tickets.tables import department_members, departments, deadlines, ticket_events, tickets
from hotline.tickets.timers import WARNED, Fire, Firing, People, TimerState, recipients, step
from hotline.db.engine import write_transaction

log = structlog.get_logger(__name__)

_LIVE = ("pending", "breached")
_TIMER_COLUMNS = ("state", "warn_at", "due_at", "warned_at", "breached_at", "escalation_level")
_CLAIMED = [deadlines.c[name] for name in ("id", "ticket_id", "kind", "version", *_TIMER_COLUMNS)]

_WRITE = (
    update(deadlines)
    .where(deadlines.c.id == bindparam("b_id"), deadlines.c.version == bindparam("b_claimed"))
    .values(
        state=bindparam("b_state"),
        warned_at=bindparam("b_warned_at"),
        breached_at=bindparam("b_breached_at"),
        escalation_level=bindparam("b_level"),
        next_fire_at=bindparam("b_next"),
        version=bindparam("b_version"),
    )
)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    ticket_id: int
    kind: str
    version: int  # as stored now, under our claim
    timer: TimerState


@dataclass(frozen=True, slots=True)
class Scan:
    claimed: int  # rows
    fired: int  # steps
    soonest: datetime | None  # the earliest next_fire_at left, when asked


@dataclass(frozen=True, slots=True)
class _Ticket:
    number: str
    people: People


# A ticket_events row to insert, and the domain event to publish once it is committed.
_Record = tuple[dict[str, Any], DeadlineWarned | DeadlineBreached]


class ClaimLost(Exception):
    """A claimed row changed under the claim: cannot happen while the claim holds a lock."""


class DeadlineScheduler:
    """Fires due deadline steps: run() as the service's "deadlines" task, run_once() in tests."""

    def __init__(
        self,
        engine: AsyncEngine,
        bus: EventBus,
        clock: Clock,
        *,
        escalate_every: timedelta = timedelta(minutes=10),
        poll_interval: timedelta = timedelta(seconds=1),
        batch: int = 500,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine, self.bus, self.clock = engine, bus, clock
        self.escalate_every, self.poll_interval, self.batch = escalate_every, poll_interval, batch
        self.metrics = metrics if metrics is not None else Metrics()
        self._sqlite = engine.dialect.name == "sqlite"
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Something new may be due sooner than the loop knows: scan now."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Fire what is due until `stop`; database faults are logged and retried."""
        log.info("deadlines.started", escalate_every=self.escalate_every.total_seconds(), batch=self.batch)
        while not stop.is_set():
            self._wake.clear()  # before the scan: a notify() during it wakes the next nap
            try:
                scan = await self._fire_batch()
            except (DBAPIError, OSError) as exc:
                self.metrics.inc("hotline_deadline_claim_errors_total")
                log.warning("deadlines.claim_failed", error=repr(exc))
                scan = Scan(0, 0, None)
            if scan.claimed < self.batch:
                await self._nap(self._wake_at(scan.soonest), stop)
            # else more is due: the next batch at once (stop is checked first)
        log.info("deadlines.stopped")

    async def run_once(self) -> int:
        """Fire everything due now, batch after batch; how many steps fired."""
        fired = 0
        while True:
            scan = await self._fire_batch()
            fired += scan.fired
            if scan.claimed < self.batch:
                return fired

    async def _fire_batch(self) -> Scan:
        now = self.clock.now().astimezone(UTC)
        async with write_transaction(self.engine) as conn:
            rows = await self._claim(conn, now)
            records = await self._fire(conn, rows, now) if rows else []
            # Asked in the same transaction: one round trip less per scan.
            soonest = await self._soonest(conn) if len(rows) < self.batch else None
        # Committed: the steps are fired and recorded; tell the rest of the service.
        for event, announcement in records:
            log.info("deadline.fired", ticket=announcement.number, deadline=announcement.deadline, kind=event["kind"], level=event["data"]["level"], late_seconds=event["data"]["late_seconds"], notify=event["data"]["notify_user_ids"])
            await self.bus.publish(announcement)
        self.metrics.inc("hotline_deadline_firings_total", len(records))
        return Scan(len(rows), len(records), soonest)

    async def _fire(self, conn: AsyncConnection, rows: list[Claimed], now: datetime) -> list[_Record]:
        done = [(row, step(row.timer, now, escalate_every=self.escalate_every)) for row in rows]
        about = await self._tickets(conn, {row.ticket_id for row in rows})
        await self._write(conn, done)
        records = [self._record(row, fire, about[row.ticket_id], now) for row, firing in done for fire in firing.fires]
        if records:
            await conn.execute(insert(ticket_events), [event for event, _ in records])
        return records

    async def _claim(self, conn: AsyncConnection, now: datetime) -> list[Claimed]:
        # On SQLite write_transaction holds the one write lock: the rows read next are ours.
        claim = select(*_CLAIMED).where(deadlines.c.next_fire_at <= now, deadlines.c.state.in_(_LIVE)).order_by(deadlines.c.next_fire_at).limit(self.batch)
        if not self._sqlite:
            # Rows locked by another instance (or a use case) are skipped, not waited for.
            claim = claim.with_for_update(skip_locked=True)
        rows = (await conn.execute(claim)).all()
        return sorted((_claimed(row) for row in rows), key=lambda row: (row.timer.due_at, row.id))

    async def _tickets(self, conn: AsyncConnection, ticket_ids: set[int]) -> dict[int, _Ticket]:
        query = (
            select(tickets.c.id, tickets.c.number, tickets.c.owner_user_id, tickets.c.department_id, departments.c.head_user_id)
            .outerjoin(departments, departments.c.id == tickets.c.department_id)
            .where(tickets.c.id.in_(ticket_ids))
        )
        found = (await conn.execute(query)).all()
        members = await self._members(conn, {row.department_id for row in found if row.department_id is not None})
        supervisors = tuple((await conn.scalars(select(users.c.id).where(users.c.role == "supervisor").order_by(users.c.id))).all())
        return {
            row.id: _Ticket(row.number, People(row.owner_user_id, members.get(row.department_id, ()), row.head_user_id, supervisors))
            for row in found
        }

    async def _members(self, conn: AsyncConnection, department_ids: set[int]) -> dict[int, tuple[int, ...]]:
        if not department_ids:
            return {}
        query = select(department_members.c.department_id, department_members.c.user_id).where(department_members.c.department_id.in_(department_ids)).order_by(department_members.c.user_id)
        members: dict[int, tuple[int, ...]] = {}
        for department_id, user_id in (await conn.execute(query)).all():
            members[department_id] = (*members.get(department_id, ()), user_id)
        return members

    async def _write(self, conn: AsyncConnection, done: Sequence[tuple[Claimed, Firing]]) -> None:
        params = [
            {
                "b_id": row.id,
                "b_claimed": row.version,
                "b_version": row.version + 1,
                "b_state": firing.after.state,
                "b_warned_at": firing.after.warned_at,
                "b_breached_at": firing.after.breached_at,
                "b_level": firing.after.escalation_level,
                "b_next": firing.next_fire_at,
            }
            for row, firing in done
        ]
        result = await conn.execute(_WRITE, params)
        if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(params):
            raise ClaimLost(f"{len(params) - result.rowcount} claimed deadline rows changed under the claim")

    def _record(self, row: Claimed, fire: Fire, ticket: _Ticket, now: datetime) -> _Record:
        notify = recipients(row.kind, fire.level, ticket.people)
        data = {
            "deadline_id": row.id,
            "deadline": row.kind,
            "due_at": row.timer.due_at.isoformat(),
            "level": fire.level,
            "notify_user_ids": list(notify),
            "scheduled_for": fire.scheduled_for.isoformat(),
            "late_seconds": round(fire.late_seconds, 3),
            # Later than one poll: the service was down (or overloaded) when it came due.
            "late": fire.late_seconds > self.poll_interval.total_seconds(),
        }
        event = {"ticket_id": row.ticket_id, "kind": fire.kind, "at": now, "actor_user_id": None, "reason": None, "data": data}
        return event, _announcement(row, fire, ticket.number, notify, now)

    async def _soonest(self, conn: AsyncConnection) -> datetime | None:
        query = select(deadlines.c.next_fire_at).where(deadlines.c.next_fire_at.is_not(None), deadlines.c.state.in_(_LIVE)).order_by(deadlines.c.next_fire_at).limit(1)
        return _utc((await conn.execute(query)).scalar())

    def _wake_at(self, soonest: datetime | None) -> datetime:
        """The soonest next_fire_at, or one poll from now, whichever comes first."""
        now = self.clock.now()
        if soonest is not None and soonest <= now:
            # Due but not claimed: another instance or a use case holds it; look again soon.
            self.metrics.inc("hotline_deadline_claims_contended_total")
            return now + min(self.poll_interval, timedelta(milliseconds=50))
        return min(soonest, now + self.poll_interval) if soonest is not None else now + self.poll_interval

    async def _nap(self, until: datetime, stop: asyncio.Event) -> None:
        waits = {
            asyncio.create_task(self.clock.sleep_until(until), name="deadlines.nap"),
            asyncio.create_task(self._wake.wait(), name="deadlines.notified"),
            asyncio.create_task(stop.wait(), name="deadlines.stop"),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)


def _announcement(row: Claimed, fire: Fire, number: str, notify: tuple[int, ...], now: datetime) -> DeadlineWarned | DeadlineBreached:
    common = {"ticket_id": row.ticket_id, "number": number, "at": now, "deadline": row.kind, "due_at": row.timer.due_at, "notify_user_ids": notify, "late_seconds": fire.late_seconds}
    if fire.kind == WARNED:
        return DeadlineWarned(**common)
    return DeadlineBreached(**common, level=fire.level)


def _claimed(row: Any) -> Claimed:
    timer = TimerState(
        state=row.state,
        warn_at=_aware(row.warn_at),
        due_at=_aware(row.due_at),
        warned_at=_utc(row.warned_at),
        breached_at=_utc(row.breached_at),
        escalation_level=row.escalation_level,
    )
    return Claimed(row.id, row.ticket_id, row.kind, row.version, timer)


def _aware(value: datetime) -> datetime:
    """SQLite gives back naive datetimes; every moment we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)

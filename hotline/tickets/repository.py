"""The ticket tables' queries and row writes, each on the caller's connection, so a use case
composes them into one transaction. Times come back aware (SQLite returns them naive)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.db.tables import calls, users
from hotline.errors import HotlineError
from hotline.tickets.lifecycle import TicketStatus
from hotline.tickets.tables import deadlines, department_members, extension_requests, ticket_calls, ticket_events, tickets
from hotline.tickets.workdays import to_local

OPEN_STATUSES = (TicketStatus.OPEN.value, TicketStatus.FORWARDED.value, TicketStatus.ACKNOWLEDGED.value)
OPEN_DEADLINE = ("pending", "breached")
_ATTEMPTS = 5


class DeadlineBusy(HotlineError):
    """The deadline kept changing under this request (the scheduler is firing it); try again."""

    error_id = "deadline_busy"


def utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def stored(values: Mapping[str, Any]) -> dict[str, Any]:
    """Moments in UTC: SQLite keeps no offset, so a Bazhong-local time would come back 8 h off."""
    return {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in values.items()}


def iso(moment: datetime) -> str:
    """A moment as the timeline's data and the API show it: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat()


def _fields(cls: type, row: Mapping[str, Any]) -> dict[str, Any]:
    return {f.name: utc(row[f.name]) for f in fields(cls)}


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    number: str
    status: str
    source: str
    category: str
    fault_kind: str | None
    install_kind: str | None
    tier: str
    area: str
    customer_id: int | None
    caller_number: str | None
    caller_name: str | None
    call_id: str | None
    owner_user_id: int | None
    department_id: int | None
    summary: str
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    follow_up_needed: bool


@dataclass(frozen=True, slots=True)
class Deadline:
    id: int
    ticket_id: int
    kind: str
    rule: str
    started_at: datetime
    warn_at: datetime
    due_at: datetime
    state: str
    met_at: datetime | None
    warned_at: datetime | None
    breached_at: datetime | None
    escalation_level: int
    next_fire_at: datetime | None
    version: int

    @property
    def open(self) -> bool:
        return self.state in OPEN_DEADLINE


@dataclass(frozen=True, slots=True)
class ExtensionRequest:
    id: int
    deadline_id: int
    ticket_id: int
    requested_by: int
    requested_at: datetime
    reason: str
    new_due_at: datetime
    state: str
    decided_by: int | None
    decided_at: datetime | None
    decision_reason: str | None


# --- tickets ---------------------------------------------------------------------------


async def touch(conn: AsyncConnection, ticket_id: int, now: datetime) -> bool:
    """Write to the ticket first: its row lock (PostgreSQL) or the write lock (SQLite) then
    serialises use cases on one ticket, so none acts on a state another just changed."""
    result = await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(updated_at=now.astimezone(UTC)))
    return result.rowcount == 1


async def ticket(conn: AsyncConnection, ticket_id: int) -> Ticket | None:
    row = (await conn.execute(select(tickets).where(tickets.c.id == ticket_id))).mappings().first()
    return Ticket(**_fields(Ticket, row)) if row else None


async def change_ticket(conn: AsyncConnection, ticket_id: int, values: Mapping[str, Any]) -> None:
    await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(**stored(values)))


# PostgreSQL advisory lock key for numbering tickets: "tick" in ASCII.
_NUMBERING_LOCK = 0x7469636B


async def next_number(conn: AsyncConnection, opened_at: datetime) -> str:
    """T-YYYYMMDD-NNNN on the Bazhong date. Opens take turns until they commit (a burst of
    them would otherwise all read the same last number and retry in rounds); the unique
    index stays the guard."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(_NUMBERING_LOCK)))
    else:
        # SQLite: a write, even one that changes nothing, takes the database's write lock.
        await conn.execute(update(tickets).where(tickets.c.id == -1).values(number=tickets.c.number))
    prefix = f"T-{to_local(opened_at):%Y%m%d}-"
    query = (
        select(tickets.c.number)
        .where(tickets.c.number.like(f"{prefix}%"))
        .order_by(func.length(tickets.c.number).desc(), tickets.c.number.desc())
        .limit(1)
    )
    last = (await conn.execute(query)).scalar_one_or_none()
    return f"{prefix}{(int(last.removeprefix(prefix)) if last else 0) + 1:04d}"


async def insert_ticket(conn: AsyncConnection, values: Mapping[str, Any]) -> int:
    result = await conn.execute(insert(tickets).values(**stored(values)))
    return int(result.inserted_primary_key[0])


async def record(
    conn: AsyncConnection, ticket_id: int, kind: str, at: datetime, actor: int | None, reason: str | None, data: Mapping[str, Any]
) -> None:
    """One line of the ticket's timeline: what, when, who, why."""
    values = {"ticket_id": ticket_id, "kind": kind, "at": at, "actor_user_id": actor, "reason": reason, "data": dict(data)}
    await conn.execute(insert(ticket_events).values(**stored(values)))


async def has_callback_result(conn: AsyncConnection, ticket_id: int, callback_id: int, attempts: int) -> bool:
    """Whether this callback's result, after that many attempts, is on the ticket's
    timeline already (a supervisor's retry of a failed callback gives it another)."""
    query = select(ticket_events.c.data).where(ticket_events.c.ticket_id == ticket_id, ticket_events.c.kind == "callback_result")
    return any((data or {}).get("callback_id") == callback_id and (data or {}).get("attempts") == attempts for data in (await conn.execute(query)).scalars())


async def has_complaint_from(conn: AsyncConnection, ticket_id: int, callback_id: int) -> bool:
    """Whether a complaint found on this callback was sent back already."""
    query = select(ticket_events.c.data).where(ticket_events.c.ticket_id == ticket_id, ticket_events.c.kind == "complaint_found")
    return any((data or {}).get("callback_id") == callback_id for data in (await conn.execute(query)).scalars())


async def forward_times(conn: AsyncConnection, ticket_id: int) -> tuple[datetime | None, datetime | None]:
    """When the ticket was first and last forwarded."""
    where = (ticket_events.c.ticket_id == ticket_id, ticket_events.c.kind == "forwarded")
    row = (await conn.execute(select(func.min(ticket_events.c.at), func.max(ticket_events.c.at)).where(*where))).one()
    return utc(row[0]), utc(row[1])


# --- calls ------------------------------------------------------------------------------


async def lock_call(conn: AsyncConnection, call_id: str) -> Mapping[str, Any] | None:
    """The call's row, written first so two deliveries of one answer queue up behind each
    other (row lock on PostgreSQL, write lock on SQLite) and open one ticket."""
    await conn.execute(update(calls).where(calls.c.id == call_id).values(reconciled=calls.c.reconciled))
    return (await conn.execute(select(calls).where(calls.c.id == call_id))).mappings().first()


async def ticket_of_call(conn: AsyncConnection, call_id: str) -> int | None:
    query = select(ticket_calls.c.ticket_id).where(ticket_calls.c.call_id == call_id).limit(1)
    return (await conn.execute(query)).scalar_one_or_none()


async def open_ticket_of_caller(conn: AsyncConnection, customer_id: int | None, number: str | None) -> Ticket | None:
    """The caller's newest ticket still being worked on, by customer, else by number."""
    if customer_id is not None:
        where = tickets.c.customer_id == customer_id
    elif number is not None:
        where = tickets.c.caller_number == number
    else:
        return None
    query = select(tickets).where(where, tickets.c.status.in_(OPEN_STATUSES)).order_by(tickets.c.opened_at.desc(), tickets.c.id.desc())
    row = (await conn.execute(query.limit(1))).mappings().first()
    return Ticket(**_fields(Ticket, row)) if row else None


async def link_call(conn: AsyncConnection, ticket_id: int, call_id: str, at: datetime) -> None:
    await conn.execute(insert(ticket_calls).values(ticket_id=ticket_id, call_id=call_id, linked_at=at.astimezone(UTC)))


async def user_of_agent(conn: AsyncConnection, extension: str | None, member_name: str | None) -> int | None:
    """The user who answered: by the extension of the queue member's interface, else by
    a user named like the member (agent-8001)."""
    for column, value in ((users.c.extension, extension), (users.c.name, member_name)):
        if value:
            found = (await conn.execute(select(users.c.id).where(column == value))).scalar_one_or_none()
            if found is not None:
                return int(found)
    return None


async def answered_calls_without_ticket(conn: AsyncConnection, since: datetime) -> list[Mapping[str, Any]]:
    linked = select(ticket_calls.c.call_id)
    query = select(calls).where(calls.c.answered_at >= since.astimezone(UTC), calls.c.id.not_in(linked)).order_by(calls.c.answered_at)
    return list((await conn.execute(query)).mappings().all())


# --- deadlines --------------------------------------------------------------------------


async def deadlines_of(conn: AsyncConnection, ticket_id: int) -> dict[str, Deadline]:
    rows = (await conn.execute(select(deadlines).where(deadlines.c.ticket_id == ticket_id))).mappings()
    return {row["kind"]: Deadline(**_fields(Deadline, row)) for row in rows}


async def insert_deadline(conn: AsyncConnection, values: Mapping[str, Any]) -> None:
    await conn.execute(insert(deadlines).values(**stored(values), version=0))


async def change_deadline(
    conn: AsyncConnection, deadline_id: int, change: Callable[[Deadline], Mapping[str, Any] | None]
) -> tuple[Deadline, Mapping[str, Any] | None]:
    """Apply `change` (new column values from the row as it is, or None for no change) under
    the row's version, re-reading it when the scheduler changed it meanwhile, so a claim the
    scheduler committed is never overwritten. Returns the row it saw and the values written."""
    for _ in range(_ATTEMPTS):
        query = select(deadlines).where(deadlines.c.id == deadline_id).with_for_update()
        row = Deadline(**_fields(Deadline, (await conn.execute(query)).mappings().one()))
        values = change(row)
        if values is None:
            return row, None
        statement = (
            update(deadlines)
            .where(deadlines.c.id == deadline_id, deadlines.c.version == row.version)
            .values(**stored(values), version=row.version + 1)
        )
        if (await conn.execute(statement)).rowcount == 1:
            return row, values
    raise DeadlineBusy(deadline_id=deadline_id)


async def approved_extensions(conn: AsyncConnection, ticket_id: int) -> dict[int, datetime]:
    """The latest approved due time per deadline: a reclassification keeps it."""
    query = (
        select(extension_requests.c.deadline_id, func.max(extension_requests.c.new_due_at))
        .where(extension_requests.c.ticket_id == ticket_id, extension_requests.c.state == "approved")
        .group_by(extension_requests.c.deadline_id)
    )
    return {row[0]: utc(row[1]) for row in await conn.execute(query)}


# --- extension requests -----------------------------------------------------------------


async def extension_requests_of(conn: AsyncConnection, ticket_id: int) -> list[ExtensionRequest]:
    query = select(extension_requests).where(extension_requests.c.ticket_id == ticket_id).order_by(extension_requests.c.id)
    return [ExtensionRequest(**_fields(ExtensionRequest, row)) for row in (await conn.execute(query)).mappings()]


async def insert_extension_request(conn: AsyncConnection, values: Mapping[str, Any]) -> int:
    result = await conn.execute(insert(extension_requests).values(**stored(values), state="pending"))
    return int(result.inserted_primary_key[0])


async def decide_extension(conn: AsyncConnection, request_id: int, values: Mapping[str, Any]) -> bool:
    """Decide a pending request; False when someone decided it first."""
    statement = update(extension_requests).where(extension_requests.c.id == request_id, extension_requests.c.state == "pending")
    return (await conn.execute(statement.values(**stored(values)))).rowcount == 1


# --- who sees a ticket (the console's feed) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may see a ticket besides supervisors and admins: its owner and its department's staff."""

    owner_user_id: int | None
    department_id: int | None
    status: str
    department_staff: tuple[int, ...]


async def audience(conn: AsyncConnection, ticket_id: int) -> Audience | None:
    """One query: the ticket's owner, department and status, with the department's members."""
    query = (
        select(tickets.c.owner_user_id, tickets.c.department_id, tickets.c.status, department_members.c.user_id)
        .outerjoin(department_members, department_members.c.department_id == tickets.c.department_id)
        .where(tickets.c.id == ticket_id)
    )
    rows = (await conn.execute(query)).all()
    if not rows:
        return None
    first = rows[0]
    staff = tuple(sorted({row.user_id for row in rows if row.user_id is not None}))
    return Audience(first.owner_user_id, first.department_id, first.status, staff)

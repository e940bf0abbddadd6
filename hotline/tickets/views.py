"""What the API shows of tickets: a filtered page of the list, and one ticket's detail with
its timeline, its deadlines (met, breached, how late) and its extension requests."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.db.tables import users
from hotline.tickets import repository as repo
from hotline.tickets.lifecycle import TicketStatus, allowed_actions
from hotline.tickets.tables import departments, ticket_calls, ticket_events, tickets
from hotline.tickets.tables import extension_requests as request_rows
from hotline.tickets.tables import deadlines as deadline_rows


@dataclass(frozen=True, slots=True)
class TicketFilter:
    statuses: tuple[TicketStatus, ...] = ()
    department_id: int | None = None
    owner_user_id: int | None = None
    overdue: bool = False
    attention: bool = False  # an open deadline past its warning time (near or past due)
    limit: int = 50
    offset: int = 0


def _open_deadline(now: datetime | None = None, *, column: str = "due_at") -> ColumnElement[bool]:
    """A deadline of the ticket still running; with `now`, one whose `column` time has passed."""
    where = [deadline_rows.c.ticket_id == tickets.c.id, deadline_rows.c.state.in_(repo.OPEN_DEADLINE)]
    if now is not None:
        where.append(deadline_rows.c[column] < now.astimezone(UTC))
    return and_(*where)


async def list_tickets(conn: AsyncConnection, wanted: TicketFilter, visible: ColumnElement[bool] | None, now: datetime) -> tuple[list[dict[str, Any]], int]:
    """A page of tickets, newest first, and how many match in all."""
    where: list[ColumnElement[bool]] = [] if visible is None else [visible]
    if wanted.statuses:
        where.append(tickets.c.status.in_([s.value for s in wanted.statuses]))
    if wanted.department_id is not None:
        where.append(tickets.c.department_id == wanted.department_id)
    if wanted.owner_user_id is not None:
        where.append(tickets.c.owner_user_id == wanted.owner_user_id)
    if wanted.overdue:
        where.append(exists().where(_open_deadline(now)))
    if wanted.attention:
        where.append(exists().where(_open_deadline(now, column="warn_at")))
    total = (await conn.execute(select(func.count()).select_from(tickets).where(*where))).scalar_one()
    soonest = select(deadline_rows.c.due_at).where(_open_deadline()).order_by(deadline_rows.c.due_at, deadline_rows.c.id).limit(1)
    next_due = soonest.scalar_subquery().label("next_due_at")
    next_kind = soonest.with_only_columns(deadline_rows.c.kind).scalar_subquery().label("next_due_kind")
    query = select(tickets, next_due, next_kind).where(*where).order_by(tickets.c.opened_at.desc(), tickets.c.id.desc())
    rows = (await conn.execute(query.limit(wanted.limit).offset(wanted.offset))).mappings().all()
    return [_summary(row, now) for row in rows], int(total)


def _summary(row: Any, now: datetime) -> dict[str, Any]:
    names = ("id", "number", "status", "source", "category", "fault_kind", "install_kind", "tier", "area", "customer_id", "caller_number", "caller_name", "call_id", "owner_user_id", "department_id", "summary", "opened_at", "updated_at", "resolved_at", "closed_at", "follow_up_needed")
    summary = {name: repo.utc(row[name]) for name in names}
    next_due = repo.utc(row["next_due_at"])
    return {**summary, "next_due_at": next_due, "next_due_kind": row["next_due_kind"], "overdue": next_due is not None and next_due < now}


async def ticket_detail(conn: AsyncConnection, ticket: repo.Ticket, now: datetime) -> dict[str, Any]:
    names = await _names(conn)
    requests = await repo.extension_requests_of(conn, ticket.id)
    rows = await repo.deadlines_of(conn, ticket.id)
    detail = asdict(ticket)
    department = None
    if ticket.department_id is not None:
        department = (await conn.execute(select(departments.c.name).where(departments.c.id == ticket.department_id))).scalar_one()
    detail.update(
        owner=names.get(ticket.owner_user_id) if ticket.owner_user_id else None,
        department=department,
        allowed_actions=sorted(allowed_actions(TicketStatus(ticket.status))),
        calls=await _calls(conn, ticket.id),
        timeline=await _timeline(conn, ticket.id, names),
        deadlines=[deadline_view(row, now, [r for r in requests if r.deadline_id == row.id]) for row in sorted(rows.values(), key=lambda r: (r.due_at, r.id))],
        extension_requests=[_request_view(r, rows, names) for r in requests],
    )
    return detail


def deadline_view(row: repo.Deadline, now: datetime, requests: list[repo.ExtensionRequest]) -> dict[str, Any]:
    """A deadline as people read it: breached when it was or is late, and by how much."""
    late: float | None = None
    if row.state == "met" and row.met_at is not None:
        late = max(0.0, (row.met_at - row.due_at).total_seconds())
    elif row.open:
        late = max(0.0, (now - row.due_at).total_seconds())
    return {
        "kind": row.kind,
        "rule": row.rule,
        "state": row.state,
        "started_at": row.started_at,
        "warn_at": row.warn_at,
        "due_at": row.due_at,
        "met_at": row.met_at,
        "breached": row.breached_at is not None or bool(late),
        "breached_at": row.breached_at,
        "late_seconds": late,
        "warned_at": row.warned_at,
        "escalation_level": row.escalation_level,
        "pending_extension": next(({"id": r.id, "new_due_at": r.new_due_at, "reason": r.reason} for r in requests if r.state == "pending"), None),
    }


def _request_view(request: repo.ExtensionRequest, rows: dict[str, repo.Deadline], names: dict[int, str]) -> dict[str, Any]:
    kind = next((row.kind for row in rows.values() if row.id == request.deadline_id), None)
    view = asdict(request)
    view.update(deadline=kind, requested_by_name=names.get(request.requested_by), decided_by_name=names.get(request.decided_by or 0))
    return view


async def _names(conn: AsyncConnection) -> dict[int, str]:
    # Users are tens, not thousands: one query beats a join per list.
    return {row.id: row.name for row in await conn.execute(select(users.c.id, users.c.name))}


async def _calls(conn: AsyncConnection, ticket_id: int) -> list[dict[str, Any]]:
    query = select(ticket_calls.c.call_id, ticket_calls.c.linked_at).where(ticket_calls.c.ticket_id == ticket_id).order_by(ticket_calls.c.linked_at)
    return [{"call_id": row.call_id, "linked_at": repo.utc(row.linked_at)} for row in await conn.execute(query)]


async def _timeline(conn: AsyncConnection, ticket_id: int, names: dict[int, str]) -> list[dict[str, Any]]:
    query = select(ticket_events).where(ticket_events.c.ticket_id == ticket_id).order_by(ticket_events.c.at, ticket_events.c.id)
    return [
        {"kind": e.kind, "at": repo.utc(e.at), "actor_user_id": e.actor_user_id, "actor": names.get(e.actor_user_id or 0), "reason": e.reason, "data": e.data}
        for e in await conn.execute(query)
    ]


async def extension_requests(conn: AsyncConnection, state: str | None, visible: ColumnElement[bool] | None) -> list[dict[str, Any]]:
    """Extension requests (newest first) on the tickets `visible` lets one see, with what
    a supervisor needs to decide: the ticket, the deadline, its due time and the new one."""
    names = await _names(conn)
    query = (
        select(
            request_rows,
            tickets.c.number.label("ticket_number"),
            deadline_rows.c.kind.label("deadline"),
            deadline_rows.c.due_at.label("due_at"),
        )
        .join(tickets, tickets.c.id == request_rows.c.ticket_id)
        .join(deadline_rows, deadline_rows.c.id == request_rows.c.deadline_id)
        .order_by(request_rows.c.requested_at.desc(), request_rows.c.id.desc())
        .limit(500)
    )
    if state is not None:
        query = query.where(request_rows.c.state == state)
    if visible is not None:
        query = query.where(visible)
    return [
        {
            **{name: repo.utc(row[name]) for name in row.keys()},
            "requested_by_name": names.get(row["requested_by"]),
            "decided_by_name": names.get(row["decided_by"] or 0),
        }
        for row in (await conn.execute(query)).mappings()
    ]


# --- the console's screen pop and feed ----------------------------------------------------


async def open_tickets_of_caller(
    conn: AsyncConnection, customer_id: int | None, number: str | None, *, opened_by_other_than: str | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    """The caller's tickets still being worked on, newest first, as a screen pop lists them:
    by customer, or by the (canonical) number for a caller not in the directory; without the
    ticket the call `opened_by_other_than` opened itself (its pop shows that one apart)."""
    who = [tickets.c.caller_number == number] if number is not None else []
    if customer_id is not None:
        who.append(tickets.c.customer_id == customer_id)
    if not who:
        return []
    where = [or_(*who), tickets.c.status.in_(repo.OPEN_STATUSES)]
    if opened_by_other_than is not None:
        where.append(or_(tickets.c.call_id.is_(None), tickets.c.call_id != opened_by_other_than))
    soonest = select(deadline_rows.c.due_at).where(_open_deadline()).order_by(deadline_rows.c.due_at, deadline_rows.c.id).limit(1)
    query = (
        select(
            tickets.c.id, tickets.c.number, tickets.c.status, tickets.c.summary, tickets.c.opened_at,
            soonest.scalar_subquery().label("next_due_at"), soonest.with_only_columns(deadline_rows.c.kind).scalar_subquery().label("next_due_kind"),
        )  # fmt: skip
        .where(*where)
        .order_by(tickets.c.opened_at.desc(), tickets.c.id.desc())
        .limit(limit)
    )
    return [{name: repo.utc(value) for name, value in row.items()} for row in (await conn.execute(query)).mappings()]


async def pop_ticket(conn: AsyncConnection, ticket_id: int, *, linked: bool) -> dict[str, Any] | None:
    """The ticket as a screen pop shows it from `talking` on: its status, the forward
    countdown while the forward deadline runs, and every deadline's state."""
    found = await repo.ticket(conn, ticket_id)
    if found is None:
        return None
    rows = sorted((await repo.deadlines_of(conn, ticket_id)).values(), key=lambda r: (r.due_at, r.id))
    forward = next((r for r in rows if r.kind == "forward" and r.open), None)
    return {
        "id": found.id,
        "number": found.number,
        "status": found.status,
        "linked": linked,
        "forward_due_at": forward.due_at if forward else None,
        "deadlines": [{"kind": r.kind, "due_at": r.due_at, "state": r.state} for r in rows],
    }

"""Rows the scheduler tests start from: people, a department, tickets and deadline rows
written straight to the database, as the ticket service would leave them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.db.tables import users
from hotline.tickets.tables import deadlines, department_members, departments, ticket_events, tickets
from hotline.tickets.timers import next_fire_at

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
EVERY = timedelta(minutes=10)


def minutes(n: float) -> datetime:
    return START + timedelta(minutes=n)


@dataclass(frozen=True)
class People:
    owner: int
    members: tuple[int, int]
    head: int
    supervisors: tuple[int, int]
    department: int
    headless_department: int


async def add_people(engine: AsyncEngine) -> People:
    async with engine.begin() as conn:
        ids = {name: await add_user(conn, name, role) for name, role in [("agent", "agent"), ("clerk1", "department"), ("clerk2", "department"), ("head", "department"), ("sup1", "supervisor"), ("sup2", "supervisor"), ("admin", "admin")]}
        department = await _insert(conn, departments, name="network", head_user_id=ids["head"], created_at=START)
        headless = await _insert(conn, departments, name="billing", head_user_id=None, created_at=START)
        await conn.execute(insert(department_members), [{"user_id": ids[n], "department_id": department} for n in ("clerk1", "clerk2")])
    return People(ids["agent"], (ids["clerk1"], ids["clerk2"]), ids["head"], (ids["sup1"], ids["sup2"]), department, headless)


async def add_ticket(conn: AsyncConnection, number: str, *, owner: int | None, department: int | None = None) -> int:
    return await _insert(conn, tickets, number=number, status="open", source="call", category="fault_report", tier="regular", area="urban", owner_user_id=owner, department_id=department, summary="", opened_at=START, updated_at=START, follow_up_needed=False)


async def add_deadline(conn: AsyncConnection, ticket_id: int, kind: str = "repair_fix", *, due: float = 10, **columns: Any) -> int:
    """A pending deadline started at START, due `due` minutes later, warned at 80 %."""
    row = {"state": "pending", "warn_at": minutes(due * 0.8), "due_at": minutes(due), "warned_at": None, "breached_at": None, "escalation_level": 0, **columns}
    moment = next_fire_at(**row, escalate_every=EVERY)
    return await _insert(conn, deadlines, ticket_id=ticket_id, kind=kind, rule="test", started_at=START, next_fire_at=moment, version=0, **row)


async def ticket_with_deadline(engine: AsyncEngine, people: People, kind: str = "repair_fix", *, number: str = "T-1", department: int | None = None, **columns: Any) -> int:
    async with engine.begin() as conn:
        ticket = await add_ticket(conn, number, owner=people.owner, department=department)
        return await add_deadline(conn, ticket, kind, **columns)


async def firings(engine: AsyncEngine) -> list[tuple[int, str, dict[str, Any]]]:
    """(deadline id, kind, data) of every timer firing on any timeline, in order."""
    query = select(ticket_events.c.kind, ticket_events.c.data).where(ticket_events.c.kind.like("deadline_%")).order_by(ticket_events.c.id)
    async with engine.connect() as conn:
        return [(row.data["deadline_id"], row.kind, row.data) for row in (await conn.execute(query)).all()]


async def deadline(engine: AsyncEngine, deadline_id: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(deadlines).where(deadlines.c.id == deadline_id))).one()


async def count_due(engine: AsyncEngine, now: datetime) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(deadlines).where(deadlines.c.next_fire_at <= now))).scalar_one())


async def add_user(conn: AsyncConnection, name: str, role: str) -> int:
    return await _insert(conn, users, name=name, role=role, created_at=START)


async def _insert(conn: AsyncConnection, table: Any, **values: Any) -> int:
    return int((await conn.execute(insert(table).values(**values))).inserted_primary_key[0])

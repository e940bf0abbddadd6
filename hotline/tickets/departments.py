"""Departments and their members, as data: tickets are forwarded to a department by id or
name, its members acknowledge them, its head hears of a breach at the second level."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.clock import Clock
from hotline.db.dialect import upsert
from hotline.db.tables import users
from hotline.errors import BadRequest, NotFound
from hotline.tickets.tables import department_members, departments
from hotline.db.engine import write_transaction


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class Department:
    id: int
    name: str
    head_user_id: int | None
    members: tuple[Member, ...]


class Departments:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def create(self, name: str, *, head_user_id: int | None = None) -> Department:
        name = name.strip()
        if not 1 <= len(name) <= 80:
            raise BadRequest("a department name is 1 to 80 characters", name=name)
        try:
            async with write_transaction(self.engine) as conn:
                result = await conn.execute(insert(departments).values(name=name, created_at=self.clock.now()))
                department_id = int(result.inserted_primary_key[0])
                if head_user_id is not None:
                    await _make_member(conn, department_id, head_user_id, head=True)
                return await _department(conn, department_id)
        except IntegrityError:
            raise BadRequest(f"a department named {name!r} exists already", name=name) from None

    async def list(self) -> list[Department]:
        async with self.engine.connect() as conn:
            ids = (await conn.execute(select(departments.c.id).order_by(departments.c.name))).scalars().all()
            return [await _department(conn, department_id) for department_id in ids]

    async def add_member(self, department_id: int, user_id: int, *, head: bool = False) -> Department:
        """A user belongs to one department: adding them here moves them from any other."""
        async with write_transaction(self.engine) as conn:
            if (await conn.execute(select(departments.c.id).where(departments.c.id == department_id))).first() is None:
                raise NotFound("no such department", id=department_id)
            await _make_member(conn, department_id, user_id, head=head)
            return await _department(conn, department_id)

    async def set_head(self, department_id: int, user_id: int) -> Department:
        """The head is a member too (escalations reach them as the department's head)."""
        return await self.add_member(department_id, user_id, head=True)


async def _make_member(conn: AsyncConnection, department_id: int, user_id: int, *, head: bool) -> None:
    if (await conn.execute(select(users.c.id).where(users.c.id == user_id))).first() is None:
        raise BadRequest(f"no user with id {user_id}", user_id=user_id)
    # A member who moves stops heading the department they leave.
    await conn.execute(
        update(departments).where(departments.c.head_user_id == user_id, departments.c.id != department_id).values(head_user_id=None)
    )
    await conn.execute(upsert(conn.engine, department_members, "user_id"), {"user_id": user_id, "department_id": department_id})
    if head:
        await conn.execute(update(departments).where(departments.c.id == department_id).values(head_user_id=user_id))


async def _department(conn: AsyncConnection, department_id: int) -> Department:
    row = (await conn.execute(select(departments).where(departments.c.id == department_id))).first()
    if row is None:
        raise NotFound("no such department", id=department_id)
    query = (
        select(users.c.id, users.c.name, users.c.role)
        .join(department_members, department_members.c.user_id == users.c.id)
        .where(department_members.c.department_id == department_id)
        .order_by(users.c.name)
    )
    members = tuple(Member(m.id, m.name, m.role) for m in await conn.execute(query))
    return Department(row.id, row.name, row.head_user_id, members)


async def find(conn: AsyncConnection, ref: int | str) -> tuple[int, str] | None:
    """A department's (id, name) from its id or its name."""
    where = departments.c.id == ref if isinstance(ref, int) else departments.c.name == ref.strip()
    row = (await conn.execute(select(departments.c.id, departments.c.name).where(where))).first()
    return (row.id, row.name) if row else None


async def department_of(conn: AsyncConnection, user_id: int) -> int | None:
    query = select(department_members.c.department_id).where(department_members.c.user_id == user_id)
    return (await conn.execute(query)).scalar_one_or_none()

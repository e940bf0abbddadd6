"""A ticket desk on a fresh database: users of every role, two departments, the service on
a FakeClock, and a record of what it published on the bus."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.calls.store import CallStore
from hotline.clock import FakeClock
from hotline.db.tables import users
from hotline.events import CallAnswered, EventBus
from hotline.metrics import Metrics
from hotline.routing.directory import CustomerDirectory
from hotline.tickets import repository as repo
from hotline.tickets.departments import Departments
from hotline.tickets.events import TicketEvent
from hotline.tickets.opening import HandTicket
from hotline.tickets.service import TicketService
from hotline.tickets.standard import Category
from hotline.tickets.tables import deadlines, ticket_events, tickets
from hotline.users.store import User, UserStore
from hotline.web.app import create_app
from hotline.web.tickets import add_ticket_routes
from tests.unit.tickets.moments import at

START = at("2026-11-25 10:00")  # a Wednesday morning in Bazhong

# name, role, extension, department ("head" heads it)
PEOPLE = [
    ("小王", "agent", "8001", None),
    ("小李", "agent", "8002", None),
    ("维修员", "department", None, "维修部"),
    ("维修部主任", "department", None, "维修部 head"),
    ("营业员", "department", None, "营业厅"),
    ("值班长", "supervisor", None, None),
    ("管理员", "admin", None, None),
]


@dataclass
class Desk:
    engine: AsyncEngine
    clock: FakeClock
    bus: EventBus
    service: TicketService
    departments: Departments
    directory: CustomerDirectory
    people: dict[str, User]
    tokens: dict[str, str]
    department_ids: dict[str, int]
    heard: list[Any] = field(default_factory=list)

    async def open(self, by: str = "小王", category: Category = Category.COMPLAINT, **more: Any) -> int:
        draft = HandTicket(source=more.pop("source", "walk_in"), category=category, summary=more.pop("summary", "信号差"), **more)
        return await self.service.open_by_hand(self.people[by], draft)

    async def ticket(self, ticket_id: int) -> repo.Ticket:
        async with self.engine.connect() as conn:
            found = await repo.ticket(conn, ticket_id)
        assert found is not None
        return found

    async def deadlines(self, ticket_id: int) -> dict[str, repo.Deadline]:
        async with self.engine.connect() as conn:
            return await repo.deadlines_of(conn, ticket_id)

    async def timeline(self, ticket_id: int) -> list[tuple[str, int | None, str | None]]:
        query = select(ticket_events.c.kind, ticket_events.c.actor_user_id, ticket_events.c.reason).where(ticket_events.c.ticket_id == ticket_id).order_by(ticket_events.c.id)
        async with self.engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(query)]  # type: ignore[misc]

    async def count_tickets(self) -> int:
        async with self.engine.connect() as conn:
            return len((await conn.execute(select(tickets.c.id))).all())

    async def scheduler_breaches(self, ticket_id: int, kind: str, *, warned: bool = True) -> None:
        """What the scheduler does to an overdue row: breached at its due time, level 1."""
        row = (await self.deadlines(ticket_id))[kind]
        values = {"state": "breached", "breached_at": row.due_at, "escalation_level": 1, "version": row.version + 1}
        if warned:
            values["warned_at"] = row.warn_at
        async with self.engine.begin() as conn:
            await conn.execute(update(deadlines).where(deadlines.c.id == row.id).values(**values))

    def id_of(self, name: str) -> int:
        return self.people[name].id


@pytest.fixture
async def desk(engine: AsyncEngine) -> Desk:
    clock = FakeClock(START)
    store = UserStore(engine)
    people, tokens = {}, {}
    for name, role, extension, _ in PEOPLE:
        people[name], tokens[name] = await store.add(name, role)
        if extension:
            async with engine.begin() as conn:
                await conn.execute(update(users).where(users.c.id == people[name].id).values(extension=extension))
    departments = Departments(engine, clock)
    department_ids: dict[str, int] = {}
    for name, _, _, membership in PEOPLE:
        if membership:
            department, _, head = membership.partition(" ")
            if department not in department_ids:
                department_ids[department] = (await departments.create(department)).id
            await departments.add_member(department_ids[department], people[name].id, head=bool(head))
    bus = EventBus()
    directory = CustomerDirectory(engine, default_area_code="0827", now=clock.now)
    service = TicketService(engine, bus, clock, directory=directory)
    desk = Desk(engine, clock, bus, service, departments, directory, people, tokens, department_ids)

    async def hear(event: Any) -> None:
        desk.heard.append(event)

    bus.subscribe(TicketEvent, hear)
    bus.subscribe(CallAnswered, service.on_call_answered)
    return desk


class Api:
    def __init__(self, client: TestClient[Any, Any], desk: Desk) -> None:
        self.client, self.desk = client, desk

    async def call(self, method: str, path: str, as_: str = "小王", **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.desk.tokens[as_]}"}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.read()

    async def open(self, as_: str = "小王", **body: Any) -> dict[str, Any]:
        status, ticket = await self.call("POST", "/api/tickets", as_, json={"source": "walk_in", "category": "complaint", "summary": "信号差", **body})
        assert status == 201, ticket
        return ticket  # type: ignore[no-any-return]

    async def act(self, ticket_id: int, action: str, as_: str = "小王", **body: Any) -> tuple[int, Any]:
        return await self.call("POST", f"/api/tickets/{ticket_id}/{action}", as_, json=body)


@pytest.fixture
async def api(desk: Desk, aiohttp_client: Any) -> Api:
    app = create_app(CallStore(desk.engine), UserStore(desk.engine), Metrics(), lambda: True)
    add_ticket_routes(app, desk.service, desk.departments)
    return Api(await aiohttp_client(app), desk)

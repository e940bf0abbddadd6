"""A console on a fresh database: users of every role with extensions, two departments, a
customer directory, the real capture path (tracker -> CallStore -> bus) with screen pops,
the feed and the ticket service subscribed as the service wires them, and GET /ws served
by a small app whose middleware sets request[USER] from the X-Test-User header (the real
auth middleware sets it from the session cookie or a bearer token)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.framing import AmiFramer
from hotline.ami.tracker import CallTracker
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.clock import FakeClock
from hotline.console.feed import ConsoleFeed
from hotline.console.hub import Hub
from hotline.console.pops import ScreenPops
from hotline.db.tables import users
from hotline.events import CallAnswered, EventBus
from hotline.metrics import Metrics
from hotline.routing.customers import CustomerDraft, PhoneNumber
from hotline.routing.directory import CustomerDirectory
from hotline.testing.transcripts import recorded_events
from hotline.tickets.departments import Departments
from hotline.tickets.service import TicketService
from hotline.users.store import Role, User, UserStore
from hotline.web.app import USER
from hotline.web.ws import add_ws_routes
from tests.unit.tickets.moments import at

START = at("2026-11-25 10:00")
WAIT = 5.0  # seconds a test waits for a message before it fails

# name, role, extension, department
PEOPLE = [
    ("agent8001", "agent", "8001", None),
    ("agent8002", "agent", "8002", None),
    ("agent8003", "agent", "8003", None),
    ("王经理", "agent", "8009", None),
    ("维修员", "department", None, "维修部"),
    ("营业员", "department", None, "营业厅"),
    ("值班长", "supervisor", None, None),
    ("管理员", "admin", None, None),
]
VIP_NOTES = "巴中分公司的专线，报修先查光猫"


def messages(name: str, replace: dict[bytes, bytes] | None = None) -> list[dict[str, str]]:
    """A recorded transcript's events as the AMI client queues them (framed, decoded)."""
    raw = b"".join(recorded_events(name))
    for old, new in (replace or {}).items():
        raw = raw.replace(old, new)
    return [f for f in AmiFramer(expect_banner=False).feed(raw) if isinstance(f, dict)]


class Socket:
    """One browser: a real WebSocket, read in the background so no message is missed."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self.frames: list[str] = []
        self._taken: set[int] = set()
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type is WSMsgType.TEXT:
                async with self._arrived:
                    self.frames.append(frame.data)
                    self.received.append(json.loads(frame.data))
                    self._arrived.notify_all()

    async def next(self, type_: str, timeout: float = WAIT, where: Callable[[dict[str, Any]], bool] | None = None, **fields: Any) -> dict[str, Any]:
        """The first message of `type_` (with `fields`, and `where` true) not taken yet by
        an earlier next(), waiting for it. Taken or not, of_type() still lists it."""
        def found() -> dict[str, Any] | None:
            for index, message in enumerate(self.received):
                if index in self._taken or message["type"] != type_:
                    continue
                if all(message.get(k) == v for k, v in fields.items()) and (where is None or where(message)):
                    self._taken.add(index)
                    return message
            return None

        async with asyncio.timeout(timeout), self._arrived:
            while (message := found()) is None:
                await self._arrived.wait()
        return message

    async def sync(self) -> None:
        """Ping and wait for the pong: the socket's queue is in order, so every message
        queued for it before has arrived too."""
        await self.ws.send_json({"type": "ping"})
        await self.next("pong")

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m["type"] == type_]

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)


@dataclass
class Console:
    engine: AsyncEngine
    bus: EventBus
    store: CallStore
    capture: CallCapture
    hub: Hub
    pops: ScreenPops
    feed: ConsoleFeed
    tickets: TicketService
    departments: Departments
    directory: CustomerDirectory
    people: dict[str, User]
    department_ids: dict[str, int]
    client: TestClient[Any, Any]
    sockets: list[Socket]

    async def connect(self, name: str) -> Socket:
        ws = await self.client.ws_connect("/ws", headers={"X-Test-User": str(self.people[name].id)})
        socket = Socket(ws)
        self.sockets.append(socket)
        return socket

    async def play(self, name: str, *, one_by_one: bool = True, replace: dict[bytes, bytes] | None = None) -> None:
        """Through the capture path: one message a batch (as a calm link brings them), or
        the whole transcript as one batch (a burst: stored first, then published)."""
        found = messages(name, replace)
        if one_by_one:
            for message in found:
                await self.capture.handle([message])  # type: ignore[list-item]
        else:
            await self.capture.handle(found)  # type: ignore[arg-type]

    async def settled(self) -> None:
        """Until every background lane and load has run (pops, feed, user look-ups), and
        every socket has received what was queued for it."""
        for _ in range(200):
            busy = [t for t in asyncio.all_tasks() if t.get_name().startswith(("pops.", "feed."))]
            if not busy:
                break
            await asyncio.wait(busy, timeout=WAIT)
        else:
            raise AssertionError("background work never settled")
        for socket in self.sockets:
            if not socket.ws.closed:
                await socket.sync()


async def agents(console: Console, *names: str) -> list[Socket]:
    """Connected users' sockets, each past its hello."""
    sockets = [await console.connect(name) for name in names]
    for socket in sockets:
        await socket.next("hello")
    return sockets


def wiring(engine: AsyncEngine, bus: EventBus, live: EventBus, store: CallStore, hub: Hub, directory: CustomerDirectory, tickets: TicketService) -> tuple[ScreenPops, ConsoleFeed]:
    """As hotline/app.py does: pops hear call events on the capture's live bus, and pops and
    feed are subscribed before the ticket service opens tickets."""
    pops = ScreenPops(hub, engine, directory, store)
    feed = ConsoleFeed(hub, engine, store)
    pops.subscribe(bus, calls_from=live)
    feed.subscribe(bus)
    bus.subscribe(CallAnswered, tickets.on_call_answered)
    return pops, feed


def ws_app(hub: Hub, people: dict[str, User], greetings: list[Callable[[User], Any]]) -> web.Application:
    @web.middleware
    async def as_test_user(request: web.Request, handler: Any) -> web.StreamResponse:
        if (given := request.headers.get("X-Test-User")) is not None:
            request[USER] = next(user for user in people.values() if user.id == int(given))
        return await handler(request)

    app = web.Application(middlewares=[as_test_user])
    add_ws_routes(app, hub, hello=greetings)
    return app


async def make_people(engine: AsyncEngine, departments: Departments) -> tuple[dict[str, User], dict[str, int]]:
    store = UserStore(engine)
    people: dict[str, User] = {}
    department_ids: dict[str, int] = {}
    for name, role, extension, department in PEOPLE:
        added, _ = await store.add(name, role)
        if extension:
            async with engine.begin() as conn:
                await conn.execute(update(users).where(users.c.id == added.id).values(extension=extension))
        department_id = None
        if department:
            if department not in department_ids:
                department_ids[department] = (await departments.create(department)).id
            department_id = department_ids[department]
            await departments.add_member(department_id, added.id)
        people[name] = User(added.id, name, Role(role), extension=extension, department_id=department_id)
    return people, department_ids


@pytest.fixture
async def console(engine: AsyncEngine, aiohttp_client: Any) -> AsyncIterator[Console]:
    clock = FakeClock(START)
    departments = Departments(engine, clock)
    people, department_ids = await make_people(engine, departments)
    directory = CustomerDirectory(engine, default_area_code="0827", now=clock.now)
    await directory.create(CustomerDraft("李四", "vip", "urban", [PhoneNumber("13800000001")], account_manager_id=people["王经理"].id, notes=VIP_NOTES))
    bus, live, store, hub = EventBus(), EventBus(), CallStore(engine), Hub(clock)
    tickets = TicketService(engine, bus, clock, directory=directory)
    pops, feed = wiring(engine, bus, live, store, hub, directory, tickets)
    capture = CallCapture(CallTracker({"96655"}), store, bus, Metrics(), live=live)
    client = await aiohttp_client(ws_app(hub, people, [pops.hello, feed.hello]))
    console = Console(engine, bus, store, capture, hub, pops, feed, tickets, departments, directory, people, department_ids, client, [])
    yield console
    for socket in console.sockets:
        await socket.close()
    await pops.aclose()
    await feed.aclose()
    await directory.aclose()

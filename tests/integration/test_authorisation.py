"""Authorisation of the service as composed (hotline/app.py `build` + `web_app`, every route):
no route of the API or the WebSocket answers without a log-in, each role reaches only what
docs/console.md's "Who may do what" gives it, a department sees only its own tickets (over
HTTP and over the WebSocket), and a cookie session acts only with its CSRF token from this
site. The parts have tests of their own; this one catches a route wired without them."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hotline.app import Parts, build, web_app
from hotline.config import load_settings
from hotline.db.tables import api_tokens, sessions, users
from hotline.db.migrate import upgrade
from hotline.routing.customers import CustomerDraft, PhoneNumber
from hotline.tickets.opening import HandTicket
from hotline.tickets.standard import Category, FaultKind
from hotline.users.store import User

COOKIE = "hotline_session"
PASSWORD = "热线-passw0rd"
FOREIGN = "http://evil.example"
WAIT = 5.0  # seconds a test waits for a WebSocket message before it fails

# name, role, extension, department
PEOPLE = [
    ("agent8001", "agent", "8001", None),
    ("agent8002", "agent", "8002", None),
    ("维修员", "department", None, "维修部"),  # department A
    ("营业员", "department", None, "营业厅"),  # department B
    ("值班长", "supervisor", None, None),
    ("管理员", "admin", None, None),
]
EVERYONE = [name for name, *_ in PEOPLE]
WATCHERS = {"值班长", "管理员"}
ADMINS = {"管理员"}

# Every route that is neither API nor WebSocket, as a conscious choice: a new one fails
# test_every_route_outside_the_api_is_a_known_page_or_public until it is listed here.
PAGES = {"/agent", "/department", "/supervisor", "/admin", "/reports", "/wallboard"}
PUBLIC = {("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/login"), ("POST", "/login"), ("GET", "/static")}
NOT_API = {("GET", "/"), ("POST", "/logout"), *(("GET", page) for page in PAGES), *PUBLIC}
# What a path's placeholders are filled with when a route is called without credentials.
FILL = {"action": "note", "filename": "console.js"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """The composed service behind a test client that keeps no cookies: every request
    carries exactly the credentials the test gives it."""

    client: TestClient[Any, Any]
    app: web.Application
    parts: Parts
    people: dict[str, User]
    tokens: dict[str, str]
    department_ids: dict[str, int]
    customer_id: int

    @property
    def origin(self) -> str:
        return f"http://{self.client.server.host}:{self.client.server.port}"

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def id_of(self, name: str) -> int:
        return self.people[name].id

    async def call(self, method: str, path: str, as_: str | None = None, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        sent = {**(self.bearer(as_) if as_ else {}), **(headers or {})}
        response = await self.client.request(method, path, json=body, headers=sent, allow_redirects=False)
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()

    async def act(self, ticket_id: int, action: str, as_: str, **body: Any) -> tuple[int, Any]:
        return await self.call("POST", f"/api/tickets/{ticket_id}/{action}", as_, body)

    async def open_ticket(self, by: str = "agent8001") -> int:
        draft = HandTicket(source="walk_in", category=Category.FAULT_REPORT, fault_kind=FaultKind.MAJOR, summary="整栋楼无信号")
        return await self.parts.tickets.open_by_hand(self.people[by], draft)

    async def state(self) -> tuple[Any, ...]:
        """What a refused request must leave as it was: users (password hashes and tokens
        included), sessions, customers, departments."""
        async with self.parts.engine.connect() as conn:
            rows = [list(await conn.execute(select(table).order_by(*table.primary_key))) for table in (users, api_tokens, sessions)]
        customers = (await self.parts.directory.search("", limit=100, offset=0)).customers
        departments = await self.parts.departments.list()
        return rows, customers, departments

    async def timeline(self, ticket_id: int) -> list[tuple[str, str | None]]:
        detail = await self.parts.tickets.detail(self.people["管理员"], ticket_id)
        return [(event["kind"], event["actor"]) for event in detail["timeline"]]


@pytest.fixture
async def service(tmp_path: Path, aiohttp_client: Any) -> AsyncIterator[Service]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    await upgrade(url)
    # A configured Asterisk (nothing listens there, and build() does not connect): no demo PBX.
    environ = {"HOTLINE_DATABASE_URL": url, "HOTLINE_AMI_HOST": "127.0.0.1", "HOTLINE_AMI_PORT": str(free_port()), "HOTLINE_AMI_SECRET": "not-used"}
    settings = load_settings(environ=environ)
    parts = await build(settings)
    assert parts.pbx is None
    client: TestClient[Any, Any] | None = None
    try:
        people, tokens, department_ids = {}, {}, {}
        for name, role, extension, department in PEOPLE:
            if department and department not in department_ids:
                department_ids[department] = (await parts.departments.create(department)).id
            password = PASSWORD if name == "管理员" else None  # the one cookie session; argon2 costs
            people[name], tokens[name] = await parts.users.add(name, role, extension=extension, password=password, department_id=department_ids.get(department or ""))
        customer = await parts.directory.create(CustomerDraft("李四", "vip", "urban", [PhoneNumber("13800000001")], notes="专线"))
        app = web_app(settings, parts)
        client = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
        yield Service(client, app, parts, people, tokens, department_ids, customer.id)
    finally:
        # As serve() stops them: the web first, then the console's lanes, then the database.
        if client is not None:
            await client.close()
        await parts.pops.aclose()
        await parts.feed.aclose()
        await parts.directory.aclose()
        await parts.engine.dispose()


# --- every route, without credentials ------------------------------------------------------


def _routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path pattern) of every route; HEAD goes with its GET."""
    return {(route.method, route.resource.canonical) for route in app.router.routes() if route.method != "HEAD" and route.resource is not None}


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/ws"


def _filled(pattern: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: FILL.get(m[1], "1"), pattern)


async def test_every_route_outside_the_api_is_a_known_page_or_public(service: Service) -> None:
    found = {route for route in _routes(service.app) if not _is_api(route[1])}

    assert found == NOT_API, "a new route outside /api/ and /ws: list it in PAGES or PUBLIC (a conscious choice)"
    assert len([route for route in _routes(service.app) if _is_api(route[1])]) >= 20  # the API really was enumerated


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="unknown-bearer"),
        pytest.param({"Authorization": "Bearer "}, id="empty-bearer"),
        pytest.param({"Cookie": f"{COOKIE}=forged"}, id="unknown-session"),
    ],
)
async def test_every_api_route_and_the_websocket_answer_401_without_a_log_in(service: Service, credentials: dict[str, str]) -> None:
    before = await service.state()
    api = sorted(route for route in _routes(service.app) if _is_api(route[1]))
    answered = {}
    for method, pattern in api:
        for each in (method, "HEAD") if method == "GET" else (method,):
            response = await service.client.request(each, _filled(pattern), json=None if each in ("GET", "HEAD") else {}, headers=credentials)
            body = await response.json() if each != "HEAD" else {"error_id": "unauthorized"}
            answered[each, pattern] = (response.status, body["error_id"])

    assert answered == {route: (401, "unauthorized") for route in answered}
    assert await service.state() == before


async def test_the_websocket_handshake_without_a_log_in_is_refused(service: Service) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await service.client.ws_connect("/ws")
    assert refused.value.status == 401
    assert service.parts.hub.count() == 0


async def test_a_disabled_users_token_is_refused_everywhere(service: Service) -> None:
    status, _ = await service.call("PATCH", f"/api/users/{service.id_of('值班长')}", "管理员", {"disabled": True})
    assert status == 200

    assert (await service.call("GET", "/api/me", "值班长"))[0] == 401
    assert (await service.call("GET", "/api/calls", "值班长"))[0] == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await service.client.ws_connect("/ws", headers=service.bearer("值班长"))
    assert refused.value.status == 401
    assert (await service.call("GET", "/supervisor", "值班长"))[0] == 303  # a page sends them to log in


@pytest.mark.parametrize("page", sorted(PAGES))
async def test_a_page_without_a_log_in_sends_the_browser_to_log_in(service: Service, page: str) -> None:
    status, _ = await service.call("GET", page)
    response = await service.client.get(page, allow_redirects=False)

    assert (status, response.headers["Location"]) == (303, f"/login?next={page}")


async def test_the_home_and_log_out_without_a_log_in_only_send_the_browser_to_log_in(service: Service) -> None:
    for method, path in (("GET", "/"), ("POST", "/logout")):
        response = await service.client.request(method, path, allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/login")


async def test_the_public_routes_answer_without_a_log_in(service: Service) -> None:
    health = await service.client.get("/healthz")
    assert (health.status, (await health.json())["database"]) == (200, {"reachable": True})
    metrics = await service.client.get("/metrics")
    assert (metrics.status, metrics.content_type) == (200, "text/plain")
    login = await service.client.get("/login")
    assert (login.status, login.content_type) == (200, "text/html")
    script = await service.client.get("/static/console.js")
    assert script.status == 200


# --- each role: what it may do, and the exact refusal otherwise ----------------------------

# (what, method, path, body, who may, their status). {self} is the caller's id, {customer}
# the stored customer's, {B} department B's; {who} makes a body's name differ per caller.
# Refused callers get 403 forbidden and change nothing; the rows that change something
# are tried by the admin last.
CUSTOMER = {"name": "王五", "tier": "regular", "area": "rural", "numbers": ["13900000009"]}
MATRIX = [
    ("live calls", "GET", "/api/calls", None, WATCHERS, 200),
    ("one call (authorised before it is looked up)", "GET", "/api/calls/no-such-call", None, WATCHERS, 404),
    ("users", "GET", "/api/users", None, WATCHERS, 200),
    ("add an admin", "POST", "/api/users", {"name": "new-{who}", "role": "admin"}, ADMINS, 201),
    ("make oneself admin", "PATCH", "/api/users/{self}", {"role": "admin"}, ADMINS, 200),
    ("reset another's password", "PATCH", "/api/users/{agent8002}", {"password": "另一个密码-2026"}, ADMINS, 200),
    ("customers", "GET", "/api/customers", None, WATCHERS, 200),
    ("one customer", "GET", "/api/customers/{customer}", None, WATCHERS, 200),
    ("add a customer", "POST", "/api/customers", CUSTOMER, ADMINS, 201),
    ("change a customer", "PUT", "/api/customers/{customer}", CUSTOMER, ADMINS, 200),
    ("delete a customer", "DELETE", "/api/customers/{customer}", None, ADMINS, 204),
    ("departments", "GET", "/api/departments", None, set(EVERYONE), 200),
    ("add a department", "POST", "/api/departments", {"name": "客服部-{who}"}, ADMINS, 201),
    ("join department B", "POST", "/api/departments/{B}/members", {"user_id": "{self}"}, ADMINS, 200),
    ("SLA report", "GET", "/api/reports/sla?from=2026-11-01&to=2026-11-30", None, WATCHERS, 200),
    ("SLA report as CSV", "GET", "/api/reports/sla?from=2026-11-01&to=2026-11-30&format=csv", None, WATCHERS, 200),
    ("one's own account", "GET", "/api/me", None, set(EVERYONE), 200),
]


def _fill(value: Any, service: Service, who: str) -> Any:
    names = {"self": service.id_of(who), "customer": service.customer_id, "B": service.department_ids["营业厅"], "agent8002": service.id_of("agent8002"), "who": who}
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        return names[whole[1]] if whole else value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, service, who) for k, v in value.items()}
    return value


@pytest.mark.parametrize("what, method, path, body, allowed, status", MATRIX, ids=[row[0] for row in MATRIX])
async def test_each_role_may_do_only_what_its_role_gives_it(service: Service, what: str, method: str, path: str, body: Any, allowed: set[str], status: int) -> None:
    answered = {}
    for who in sorted(EVERYONE, key=lambda name: name in ADMINS):  # the admin last
        before = await service.state()
        got, answer = await service.call(method, _fill(path, service, who), who, _fill(body, service, who))
        answered[who] = got if who in allowed else (got, answer["error_id"])
        if who not in allowed:
            assert await service.state() == before, f"{what}: refused for {who}, yet something changed"

    assert answered == {who: status if who in allowed else (403, "forbidden") for who in EVERYONE}


@pytest.mark.parametrize("page", sorted(PAGES))
async def test_a_page_opens_only_for_its_roles(service: Service, page: str) -> None:
    may = {"/agent": {"agent8001", "agent8002"}, "/department": {"维修员", "营业员"}, "/supervisor": WATCHERS, "/admin": ADMINS, "/reports": WATCHERS, "/wallboard": WATCHERS}[page]
    answered = {who: (await service.call("GET", page, who))[0] for who in EVERYONE}

    assert answered == {who: 200 if who in may else 403 for who in EVERYONE}


# --- tickets: owners, departments, supervisors ---------------------------------------------


def _action_bodies(service: Service, request_id: int) -> dict[str, dict[str, Any]]:
    """A body each ticket action accepts, so a refusal is the authorisation's, not the body's."""
    later = (datetime.now().astimezone() + timedelta(days=30)).isoformat()
    return {
        "classify": {"tier": "vip"},
        "note": {"text": "我来处理"},
        "reply": {"text": "已答复客户"},
        "resolve": {"resolution": "已修复"},
        "forward": {"department": service.department_ids["营业厅"]},
        "acknowledge": {},
        "request-extension": {"deadline": "repair_fix", "new_due_at": later, "reason": "等配件"},
        "approve-extension": {"request_id": request_id},
        "reject-extension": {"request_id": request_id},
        "follow-up": {"result": "客户满意"},
        "close": {},
    }


async def _listed(service: Service, who: str, query: str = "") -> list[int]:
    status, page = await service.call("GET", f"/api/tickets{query}", who)
    assert status == 200
    return [ticket["id"] for ticket in page["tickets"]]


async def _requests(service: Service, who: str) -> list[tuple[int, str]]:
    status, found = await service.call("GET", "/api/extension-requests", who)
    assert status == 200
    return [(request["id"], request["state"]) for request in found["requests"]]


async def test_before_it_is_forwarded_a_ticket_is_its_owners_and_the_supervisors(service: Service) -> None:
    tid = await service.open_ticket(by="agent8001")

    answered = {who: (await service.call("GET", f"/api/tickets/{tid}", who))[0] for who in EVERYONE}
    assert answered == {"agent8001": 200, "agent8002": 403, "维修员": 403, "营业员": 403, "值班长": 200, "管理员": 200}
    assert {who: await _listed(service, who) for who in EVERYONE} == {
        "agent8001": [tid], "agent8002": [], "维修员": [], "营业员": [], "值班长": [tid], "管理员": [tid],
    }  # fmt: skip
    status, refused = await service.act(tid, "note", "维修员", text="我来")
    assert (status, refused["error_id"]) == (403, "forbidden")


async def test_a_department_sees_and_works_only_its_own_tickets(service: Service) -> None:
    tid = await service.open_ticket(by="agent8001")
    status, forwarded = await service.act(tid, "forward", "agent8001", department=service.department_ids["维修部"], reason="需上门")
    assert (status, forwarded["department"]) == (200, "维修部")
    status, _ = await service.act(tid, "acknowledge", "维修员", reason="收到")
    assert status == 200
    status, asked = await service.act(tid, "request-extension", "维修员", **_action_bodies(service, 0)["request-extension"])
    assert status == 200
    [request] = [r for d in asked["deadlines"] if (r := d["pending_extension"])]
    before = await service.timeline(tid)

    # Department B and another agent: not a word of it, and no action goes through.
    for outsider in ("营业员", "agent8002"):
        status, refused = await service.call("GET", f"/api/tickets/{tid}", outsider)
        assert (status, refused["error_id"]) == (403, "forbidden")
        for action, body in _action_bodies(service, request["id"]).items():
            status, refused = await service.act(tid, action, outsider, **body)
            assert (status, refused["error_id"]) == (403, "forbidden"), f"{outsider} {action}"
        assert await _listed(service, outsider) == []
        assert await _listed(service, outsider, f"?department={service.department_ids['维修部']}") == []  # filters narrow, never widen
        assert await _requests(service, outsider) == []
    assert await service.timeline(tid) == before

    # Department A and the owner see it and its extension request; only a supervisor decides it.
    assert await _listed(service, "维修员") == [tid]
    assert (await service.call("GET", f"/api/tickets/{tid}", "维修员"))[0] == 200
    for who in ("维修员", "agent8001", "营业员"):
        status, refused = await service.act(tid, "approve-extension", who, request_id=request["id"])
        assert (status, refused["error_id"]) == (403, "forbidden"), who
    assert await _requests(service, "维修员") == await _requests(service, "agent8001") == [(request["id"], "pending")]
    assert await service.timeline(tid) == before
    status, _ = await service.act(tid, "approve-extension", "值班长", request_id=request["id"], reason="同意")
    assert status == 200
    assert await _requests(service, "管理员") == [(request["id"], "approved")]


async def test_a_department_that_forwards_a_ticket_on_loses_it(service: Service) -> None:
    tid = await service.open_ticket(by="agent8001")
    await service.act(tid, "forward", "agent8001", department=service.department_ids["维修部"])

    status, _ = await service.act(tid, "forward", "维修员", department=service.department_ids["营业厅"], reason="不归我们")
    assert status == 200

    assert (await service.call("GET", f"/api/tickets/{tid}", "维修员"))[0] == 403
    assert await _listed(service, "维修员") == []
    assert await _listed(service, "营业员") == [tid]
    assert (await service.call("GET", f"/api/tickets/{tid}", "营业员"))[0] == 200


async def test_an_unknown_ticket_is_404_for_everyone(service: Service) -> None:
    for who in EVERYONE:
        status, refused = await service.call("GET", "/api/tickets/999", who)
        assert (status, refused["error_id"]) == (404, "not_found")
        status, refused = await service.act(999, "note", who, text="x")
        assert (status, refused["error_id"]) == (404, "not_found")


# --- cookie sessions: CSRF and Origin --------------------------------------------------------


async def _log_in(service: Service, name: str = "管理员") -> tuple[str, str]:
    response = await service.client.post("/login", json={"name": name, "password": PASSWORD})
    assert response.status == 200
    return response.cookies[COOKIE].value, (await response.json())["csrf"]


def _cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={token}"}


async def test_a_cookie_session_changes_nothing_without_its_csrf_token(service: Service) -> None:
    token, csrf = await _log_in(service)
    tid = await service.open_ticket()
    before, timeline = await service.state(), await service.timeline(tid)
    attempts = [
        ("POST", "/api/users", {"name": "mallory", "role": "admin", "password": "mallory-passw0rd"}),
        ("PATCH", f"/api/users/{service.id_of('agent8001')}", {"role": "admin"}),
        ("POST", "/api/customers", CUSTOMER),
        ("DELETE", f"/api/customers/{service.customer_id}", None),
        ("POST", "/api/departments", {"name": "客服部"}),
        ("POST", f"/api/tickets/{tid}/note", {"text": "跨站写入"}),
        ("POST", "/api/me/password", {"old_password": PASSWORD, "new_password": "mallory-passw0rd"}),
    ]
    for method, path, body in attempts:
        for headers in (_cookie(token), {**_cookie(token), "X-CSRF-Token": "guessed"}, {**_cookie(token), "X-CSRF-Token": ""}):
            status, refused = await service.call(method, path, body=body, headers=headers)
            assert (status, refused["error_id"]) == (403, "csrf"), (method, path, headers)
    # The log-out form without its csrf field does not end the session either.
    response = await service.client.post("/logout", data={"next": "/"}, headers=_cookie(token), allow_redirects=False)
    assert response.status == 403

    assert await service.state() == before
    assert await service.timeline(tid) == timeline
    assert await service.parts.users.authenticate("管理员", PASSWORD) is not None
    assert (await service.call("GET", "/api/me", headers=_cookie(token)))[0] == 200
    # With the token the same session does it: the refusals above were the CSRF check's.
    status, created = await service.call("POST", "/api/users", body={"name": "mallory", "role": "agent"}, headers={**_cookie(token), "X-CSRF-Token": csrf})
    assert (status, created["name"]) == (201, "mallory")


async def test_a_cookie_session_from_another_site_is_refused(service: Service) -> None:
    token, csrf = await _log_in(service)
    before = await service.state()
    foreign = {**_cookie(token), "X-CSRF-Token": csrf, "Origin": FOREIGN}

    status, refused = await service.call("POST", "/api/users", body={"name": "mallory", "role": "admin"}, headers=foreign)
    assert (status, refused["error_id"], refused["details"]) == (403, "bad_origin", {"origin": FOREIGN})
    status, refused = await service.call("GET", "/api/users", headers=foreign)  # not even a read
    assert (status, refused["error_id"]) == (403, "bad_origin")
    assert await service.state() == before

    own = {**_cookie(token), "X-CSRF-Token": csrf, "Origin": service.origin}
    assert (await service.call("GET", "/api/users", headers=own))[0] == 200
    # A bearer token is no browser credential: it needs neither CSRF nor Origin.
    status, _ = await service.call("POST", "/api/departments", "管理员", {"name": "客服部"}, headers={"Origin": FOREIGN})
    assert status == 201


# --- the WebSocket ------------------------------------------------------------------------------


async def _next(ws: ClientWebSocketResponse, wanted: Callable[[dict[str, Any]], bool]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first message `wanted` accepts, and every message read up to it."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT):
        while True:
            message = await ws.receive()
            assert message.type is WSMsgType.TEXT, message
            seen.append(message.json())
            if wanted(seen[-1]):
                return seen[-1], seen


async def _synced(ws: ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Everything queued for the socket so far (its queue is in order: the pong comes last)."""
    await ws.send_json({"type": "ping"})
    return (await _next(ws, lambda m: m["type"] == "pong"))[1]


async def test_the_websocket_refuses_a_cookie_from_another_site(service: Service) -> None:
    token, _ = await _log_in(service)

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await service.client.ws_connect("/ws", headers={**_cookie(token), "Origin": FOREIGN})
    assert refused.value.status == 403
    assert service.parts.hub.count() == 0

    ws = await service.client.ws_connect("/ws", headers={**_cookie(token), "Origin": service.origin})
    hello, _ = await _next(ws, lambda m: True)
    assert (hello["type"], hello["user"]["name"]) == ("hello", "管理员")
    await ws.close()


async def test_the_websocket_greets_a_bearer_token_with_what_its_role_may_see(service: Service) -> None:
    agent = await service.client.ws_connect("/ws", headers=service.bearer("agent8001"))
    supervisor = await service.client.ws_connect("/ws", headers=service.bearer("值班长"))

    hello, _ = await _next(agent, lambda m: True)
    assert hello["type"] == "hello"
    assert hello["user"] == {"id": service.id_of("agent8001"), "name": "agent8001", "role": "agent", "extension": "8001", "department_id": None}
    assert hello["pop"] is None
    assert "calls" not in hello  # live calls are for supervisors and admins
    hello, _ = await _next(supervisor, lambda m: True)
    assert (hello["user"]["role"], hello["calls"]) == ("supervisor", [])
    await agent.close()
    await supervisor.close()


async def test_a_tickets_messages_reach_only_those_who_may_see_it(service: Service) -> None:
    sockets = {who: await service.client.ws_connect("/ws", headers=service.bearer(who)) for who in EVERYONE}
    for ws in sockets.values():
        await _next(ws, lambda m: m["type"] == "hello")
    tid = await service.open_ticket(by="agent8001")

    status, _ = await service.act(tid, "forward", "agent8001", department=service.department_ids["维修部"])
    assert status == 200

    def forwarded(message: dict[str, Any]) -> bool:
        return message["type"] == "ticket" and message["ticket_id"] == tid and message["kind"] == "forwarded"

    for who in ("agent8001", "维修员", "值班长", "管理员"):
        message, _ = await _next(sockets[who], forwarded)
        assert message["department_id"] == service.department_ids["维修部"], who
    for who in ("agent8002", "营业员"):
        heard = await _synced(sockets[who])
        assert [m for m in heard if m["type"] == "ticket"] == [], who
    for ws in sockets.values():
        await ws.close()


async def _closed(ws: ClientWebSocketResponse) -> bool:
    """Whether the server closes the socket (within WAIT), with no ticket message before."""
    async with asyncio.timeout(WAIT):
        while (message := await ws.receive()).type is WSMsgType.TEXT:
            assert message.json()["type"] != "ticket", "heard of a ticket after the change"
    return message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)


async def test_disabling_a_user_closes_their_open_websocket(service: Service) -> None:
    ws = await service.client.ws_connect("/ws", headers=service.bearer("agent8001"))
    await _next(ws, lambda m: m["type"] == "hello")
    tid = await service.open_ticket(by="agent8001")
    await _next(ws, lambda m: m["type"] == "ticket")

    status, _ = await service.call("PATCH", f"/api/users/{service.id_of('agent8001')}", "管理员", {"disabled": True})
    assert status == 200
    status, _ = await service.act(tid, "note", "值班长", text="抽查")  # a change its owner would hear of
    assert status == 200

    assert await _closed(ws)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await service.client.ws_connect("/ws", headers=service.bearer("agent8001"))
    assert refused.value.status == 401


async def test_a_demoted_supervisor_reconnects_with_the_new_role_only(service: Service) -> None:
    ws = await service.client.ws_connect("/ws", headers=service.bearer("值班长"))
    hello, _ = await _next(ws, lambda m: m["type"] == "hello")
    assert "calls" in hello

    status, _ = await service.call("PATCH", f"/api/users/{service.id_of('值班长')}", "管理员", {"role": "agent"})
    assert status == 200

    assert await _closed(ws)
    again = await service.client.ws_connect("/ws", headers=service.bearer("值班长"))
    hello, _ = await _next(again, lambda m: m["type"] == "hello")
    assert (hello["user"]["role"], "calls" in hello) == ("agent", False)
    assert (await service.call("GET", "/api/calls", "值班长"))[0] == 403
    await again.close()


# --- the floor, as composed: listen-in and force share a path prefix --------------------------


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
async def test_listen_in_reaches_its_own_route_and_is_refused_to_agents(service: Service, mode: str) -> None:
    status, body = await service.call("POST", f"/api/floor/agents/8001/{mode}", "值班长", {})
    assert (status, body["error_id"]) == (409, "supervisor_without_phone")  # the spy route, not force's 404
    status, body = await service.call("POST", f"/api/floor/agents/8001/{mode}", "agent8002", {})
    assert (status, body["error_id"]) == (403, "forbidden")


async def test_force_actions_are_supervisors_only(service: Service) -> None:
    status, body = await service.call("POST", "/api/floor/agents/8001/force-pause", "agent8002", {"reason": "开会"})
    assert (status, body["error_id"]) == (403, "forbidden")
    status, body = await service.call("POST", "/api/floor/agents/8001/shout", "值班长", {})
    assert status == 404

"""The web app as the console sees it (log-in, sessions, users API) on a FakeClock, with
helpers that log in and send the cookie by hand, so every test says what it sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from argon2 import PasswordHasher
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.calls.store import CallStore
from hotline.clock import FakeClock
from hotline.metrics import Metrics
from hotline.users.guard import LoginGuard
from hotline.users.passwords import Passwords
from hotline.users.sessions import SessionStore
from hotline.users.store import User, UserStore
from hotline.web.app import CSRF, USER, create_app
from hotline.web.auth import add_auth_routes
from hotline.web.users import add_user_routes

START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
PASSWORD = "热线-passw0rd"
COOKIE = "hotline_session"
# Still argon2id, at a thousandth of the cost: the tests log in hundreds of times, and what
# they check (who may log in, when) does not depend on the cost. Tests of the stored hash
# itself ask for the service's own parameters (build_console(..., real_hashing=True)).
QUICK_HASHING = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass
class Session:
    token: str
    csrf: str

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={self.token}"}

    @property
    def headers(self) -> dict[str, str]:
        """The cookie and the CSRF header, as the pages' fetch sends them."""
        return {**self.cookie, "X-CSRF-Token": self.csrf}


@dataclass
class Console:
    client: TestClient[Any, Any]
    engine: AsyncEngine
    clock: FakeClock
    users: UserStore
    sessions: SessionStore
    guard: LoginGuard

    @property
    def origin(self) -> str:
        return f"http://{self.client.server.host}:{self.client.server.port}"

    async def add(self, name: str, role: str, **kwargs: Any) -> tuple[User, str]:
        kwargs.setdefault("password", PASSWORD)
        return await self.users.add(name, role, **kwargs)

    async def log_in(self, name: str, password: str = PASSWORD) -> Session:
        response = await self.client.post("/login", json={"name": name, "password": password})
        assert response.status == 200, await response.text()
        return Session(response.cookies[COOKIE].value, (await response.json())["csrf"])

    async def status_of(self, session: Session) -> int:
        return (await self.client.get("/api/me", headers=session.cookie)).status


async def whoami(request: web.Request) -> web.Response:
    """A stand-in page: pages are served with or without a user (they redirect themselves)."""
    user = request.get(USER)
    return web.json_response({"user": user.name if user else None, "cookie_session": CSRF in request})


async def build_console(engine: AsyncEngine, aiohttp_client: Any, *, secure_cookies: bool = False, real_hashing: bool = False) -> Console:
    clock = FakeClock(START)
    passwords = Passwords() if real_hashing else Passwords(QUICK_HASHING)
    users, sessions, guard = UserStore(engine, clock, passwords), SessionStore(engine, clock), LoginGuard(engine, clock)
    app = create_app(CallStore(engine), users, Metrics(), lambda: True)
    add_auth_routes(app, users, sessions, guard, secure_cookies=secure_cookies)
    add_user_routes(app, users, sessions)
    app.router.add_route("*", "/page", whoami)
    # No cookie jar: each request carries exactly the cookie the test gives it.
    client = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    return Console(client, engine, clock, users, sessions, guard)

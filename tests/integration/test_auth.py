"""Log-in, sessions, CSRF, Origin and the rate limit, over HTTP (docs/console.md, "Log-in
and sessions"), on SQLite and PostgreSQL, with the clock moved by hand."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from hotline.db.tables import login_failures, sessions, users
from hotline.users.guard import LoginGuard
from tests.integration.console_app import COOKIE, PASSWORD, START, Console, build_console


@pytest.fixture
async def console(engine: AsyncEngine, aiohttp_client: Any) -> Console:
    console = await build_console(engine, aiohttp_client)
    await console.users.add("admin1", "admin", password=PASSWORD)
    await console.users.add("agent8001", "agent", password=PASSWORD, extension="8001")
    return console


async def _session_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(sessions))).all())


async def _form_log_in(console: Console, name: str, password: str, **extra: str) -> Any:
    return await console.client.post("/login", data={"name": name, "password": password, **extra}, allow_redirects=False)


# --- log-in -----------------------------------------------------------------------------


async def test_form_log_in_sets_a_strict_http_only_cookie_and_goes_to_the_role_page(console: Console) -> None:
    response = await _form_log_in(console, "agent8001", PASSWORD)

    assert response.status == 303
    assert response.headers["Location"] == "/agent"
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]
    assert "Max-Age" not in response.headers["Set-Cookie"]  # gone with the browser; the server ends it anyway
    me = await console.client.get("/api/me", headers={"Cookie": f"{COOKIE}={cookie.value}"})
    assert (await me.json()) == {"id": 2, "name": "agent8001", "role": "agent", "extension": "8001", "department_id": None, "department": None, "disabled": False}


async def test_the_database_keeps_only_the_tokens_digest(console: Console) -> None:
    session = await console.log_in("admin1")

    [row] = await _session_rows(console.engine)
    assert row.id == hashlib.sha256(session.token.encode()).hexdigest()
    assert session.token not in {row.id, row.csrf_token}
    assert row.csrf_token == session.csrf
    assert row.expires_at.replace(tzinfo=None) == (START + timedelta(days=7)).replace(tzinfo=None)


async def test_json_log_in_answers_the_user_and_the_csrf_token(console: Console) -> None:
    response = await console.client.post("/login", json={"name": "admin1", "password": PASSWORD})

    body = await response.json()
    assert response.status == 200
    assert body["user"]["name"] == "admin1" and body["user"]["role"] == "admin"
    assert len(body["csrf"]) >= 32
    assert response.cookies[COOKIE]["httponly"] is True


async def test_the_cookie_is_secure_when_configured(engine: AsyncEngine, aiohttp_client: Any) -> None:
    console = await build_console(engine, aiohttp_client, secure_cookies=True)
    await console.add("admin1", "admin")

    response = await _form_log_in(console, "admin1", PASSWORD)

    assert response.cookies[COOKIE]["secure"] is True
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize("role, page", [("department", "/department"), ("supervisor", "/supervisor"), ("admin", "/admin")])
async def test_each_role_is_sent_to_its_page(console: Console, role: str, page: str) -> None:
    await console.add(f"someone-{role}", role)

    response = await _form_log_in(console, f"someone-{role}", PASSWORD)

    assert response.headers["Location"] == page


async def test_a_local_next_is_followed(console: Console) -> None:
    response = await _form_log_in(console, "admin1", PASSWORD, next="/supervisor?tab=sla")

    assert response.headers["Location"] == "/supervisor?tab=sla"


@pytest.mark.parametrize("next_path", ["//evil.example", "//evil.example/agent", "https://evil.example/", "/\\evil.example", "\\\\evil.example", "agent", "/agent\r\nSet-Cookie: x=y", ""])
async def test_a_next_that_leaves_the_site_is_ignored(console: Console, next_path: str) -> None:
    response = await _form_log_in(console, "agent8001", PASSWORD, next=next_path)

    assert response.status == 303
    assert response.headers["Location"] == "/agent"


async def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(console: Console) -> None:
    wrong = await _form_log_in(console, "agent8001", "wrong-password", next="/agent")
    unknown = await _form_log_in(console, "nobody", "wrong-password", next="/agent")
    for response in (wrong, unknown):
        assert response.status == 303
        assert response.headers["Location"] == "/login?error=bad&next=/agent"
        assert COOKIE not in response.cookies

    wrong_json = await console.client.post("/login", json={"name": "agent8001", "password": "wrong-password"})
    unknown_json = await console.client.post("/login", json={"name": "nobody", "password": "wrong-password"})
    assert wrong_json.status == unknown_json.status == 401
    assert await wrong_json.json() == await unknown_json.json() == {"error_id": "bad_login", "message": "Wrong name or password.", "details": {}}
    assert await _session_rows(console.engine) == []


async def test_a_user_without_a_password_cannot_log_in(console: Console) -> None:
    await console.users.add("integration", "supervisor")  # an API token only

    for password in ("", "anything-at-all"):
        response = await console.client.post("/login", json={"name": "integration", "password": password})
        assert response.status == 401


async def test_a_json_log_in_without_its_fields_is_a_bad_request(console: Console) -> None:
    response = await console.client.post("/login", json={"name": "admin1"})

    assert response.status == 400
    assert "password is missing" in (await response.json())["message"]


async def test_the_password_is_stored_as_argon2id_and_a_weak_old_hash_is_upgraded(engine: AsyncEngine, aiohttp_client: Any) -> None:
    console = await build_console(engine, aiohttp_client, real_hashing=True)
    await console.add("agent8001", "agent")
    async with console.engine.connect() as conn:
        stored = (await conn.execute(select(users.c.password_hash).where(users.c.name == "agent8001"))).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    async with console.engine.begin() as conn:
        await conn.execute(update(users).where(users.c.name == "agent8001").values(password_hash=weak))

    await console.log_in("agent8001")

    async with console.engine.connect() as conn:
        stored = (await conn.execute(select(users.c.password_hash).where(users.c.name == "agent8001"))).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert stored != weak
    await console.log_in("agent8001")  # and the new hash still takes the password


async def test_logs_say_who_logged_in_and_who_failed_never_the_password(console: Console) -> None:
    with capture_logs() as logs:
        await _form_log_in(console, "agent8001", "not-the-Password")
        await console.log_in("agent8001")

    events = [(entry["event"], entry.get("name")) for entry in logs if entry["event"].startswith("auth.")]
    assert events == [("auth.login_failed", "agent8001"), ("auth.login", "agent8001")]
    assert not any(PASSWORD in repr(entry) or "not-the-Password" in repr(entry) for entry in logs)


async def test_logging_in_again_ends_the_session_the_browser_came_with(console: Console) -> None:
    old = await console.log_in("agent8001")

    response = await console.client.post("/login", json={"name": "agent8001", "password": PASSWORD}, headers=old.cookie)

    assert response.status == 200
    assert response.cookies[COOKIE].value != old.token
    assert await console.status_of(old) == 401


# --- the rate limit ---------------------------------------------------------------------


async def test_five_failures_lock_the_name_even_for_the_right_password_until_the_window_passes(console: Console) -> None:
    for _ in range(5):
        assert (await console.client.post("/login", json={"name": "agent8001", "password": "guess-guess"})).status == 401

    with capture_logs() as logs:
        locked = await console.client.post("/login", json={"name": "agent8001", "password": PASSWORD})
        form = await _form_log_in(console, "agent8001", PASSWORD, next="/agent")

    assert locked.status == 429
    assert locked.headers["Retry-After"] == "900"
    assert (await locked.json())["error_id"] == "locked"
    assert COOKIE not in locked.cookies
    assert form.headers["Location"] == "/login?error=locked&next=/agent"
    assert [entry["event"] for entry in logs] == ["auth.locked", "auth.locked"]
    assert (await console.client.post("/login", json={"name": "admin1", "password": PASSWORD})).status == 200  # another name is not locked

    console.clock.advance(timedelta(minutes=14, seconds=59))
    still = await console.client.post("/login", json={"name": "agent8001", "password": PASSWORD})
    assert (still.status, still.headers["Retry-After"]) == (429, "1")
    console.clock.advance(timedelta(seconds=1))
    await console.log_in("agent8001")


async def test_a_success_clears_the_names_failures(console: Console) -> None:
    for _ in range(4):
        await console.client.post("/login", json={"name": "agent8001", "password": "guess-guess"})
    await console.log_in("agent8001")
    for _ in range(4):
        await console.client.post("/login", json={"name": "agent8001", "password": "guess-guess"})

    await console.log_in("agent8001")


async def test_twenty_failures_from_one_address_lock_every_name_from_it(console: Console) -> None:
    for attempt in range(20):  # five names, four tries each: no name reaches its limit, the address does
        await console.client.post("/login", json={"name": f"guess{attempt % 5}", "password": "guess-guess"})

    refused = await console.client.post("/login", json={"name": "admin1", "password": PASSWORD})

    assert refused.status == 429
    console.clock.advance(timedelta(minutes=15))
    await console.log_in("admin1")


async def test_the_address_limit_is_per_address(engine: AsyncEngine) -> None:
    from hotline.clock import FakeClock

    guard = LoginGuard(engine, FakeClock(START))
    for attempt in range(20):
        await guard.failed(f"name{attempt % 5}", "10.0.0.1")

    assert await guard.retry_after("someone", "10.0.0.1") == timedelta(minutes=15)
    assert await guard.retry_after("someone", "10.0.0.2") is None
    assert await guard.retry_after("name0", "10.0.0.2") is None  # four failures for that name: under its limit


async def test_failures_older_than_the_window_are_swept(engine: AsyncEngine) -> None:
    from hotline.clock import FakeClock

    clock = FakeClock(START)
    guard = LoginGuard(engine, clock)
    await guard.failed("a", "10.0.0.1")
    clock.advance(timedelta(minutes=16))
    await guard.failed("b", "10.0.0.1")

    async with engine.connect() as conn:
        assert (await conn.execute(select(login_failures.c.name))).scalars().all() == ["b"]


# --- sessions ---------------------------------------------------------------------------


async def test_a_session_ends_after_twelve_idle_hours(console: Console) -> None:
    session = await console.log_in("agent8001")

    console.clock.advance(timedelta(hours=11, minutes=59))
    assert await console.status_of(session) == 200  # and it slid
    console.clock.advance(timedelta(hours=11, minutes=59))
    assert await console.status_of(session) == 200
    console.clock.advance(timedelta(hours=12))
    assert await console.status_of(session) == 401
    assert await _session_rows(console.engine) == []


async def test_a_session_ends_seven_days_after_log_in_however_busy(console: Console) -> None:
    session = await console.log_in("agent8001")

    for _ in range(15):  # 165 hours, seen every 11 hours
        console.clock.advance(timedelta(hours=11))
        assert await console.status_of(session) == 200
    console.clock.advance(timedelta(hours=3))  # 168 hours: 7 days
    assert await console.status_of(session) == 401


async def test_last_seen_is_written_at_most_once_a_minute(console: Console) -> None:
    session = await console.log_in("agent8001")

    console.clock.advance(timedelta(seconds=59))
    assert await console.sessions.resolve(session.token) is not None
    [row] = await _session_rows(console.engine)
    assert row.last_seen_at.replace(tzinfo=None) == START.replace(tzinfo=None)

    console.clock.advance(timedelta(seconds=1))
    assert await console.sessions.resolve(session.token) is not None
    [row] = await _session_rows(console.engine)
    assert row.last_seen_at.replace(tzinfo=None) == (START + timedelta(minutes=1)).replace(tzinfo=None)


async def test_an_unknown_or_made_up_cookie_is_no_session(console: Console) -> None:
    for token in ("", "nope", "x" * 400):
        response = await console.client.get("/api/me", headers={"Cookie": f"{COOKIE}={token}"})
        assert response.status == 401
        assert (await response.json())["error_id"] == "unauthorized"


async def test_log_out_deletes_the_session_so_the_old_cookie_is_refused(console: Console) -> None:
    session = await console.log_in("agent8001")
    other = await console.log_in("agent8001")  # another browser of the same user

    response = await console.client.post("/logout", data={"csrf": session.csrf}, headers=session.cookie, allow_redirects=False)

    assert response.status == 303
    assert response.headers["Location"] == "/login"
    cleared = response.cookies[COOKIE]
    assert cleared.value == "" and cleared["max-age"] == "0"
    assert await console.status_of(session) == 401
    assert await console.status_of(other) == 200
    assert len(await _session_rows(console.engine)) == 1


async def test_log_out_without_the_csrf_token_is_refused_and_the_session_lives(console: Console) -> None:
    session = await console.log_in("agent8001")

    for data in ({}, {"csrf": "wrong"}):
        response = await console.client.post("/logout", data=data, headers=session.cookie, allow_redirects=False)
        assert response.status == 403
        assert (await response.json())["error_id"] == "csrf"
    assert await console.status_of(session) == 200


async def test_pages_pass_with_or_without_a_user(console: Console) -> None:
    session = await console.log_in("agent8001")

    anonymous = await (await console.client.get("/page")).json()
    known = await (await console.client.get("/page", headers=session.cookie)).json()

    assert anonymous == {"user": None, "cookie_session": False}
    assert known == {"user": "agent8001", "cookie_session": True}


async def test_the_websocket_path_needs_a_user(console: Console) -> None:
    response = await console.client.get("/ws")

    assert response.status == 401
    assert (await response.json())["error_id"] == "unauthorized"


# --- CSRF and Origin --------------------------------------------------------------------


async def _users_named(console: Console) -> list[str]:
    return [user.name for user in await console.users.list()]


async def test_a_cookie_request_that_changes_something_needs_the_csrf_token(console: Console) -> None:
    session = await console.log_in("admin1")
    body = {"name": "new-agent", "role": "agent", "password": PASSWORD}

    for headers in (session.cookie, {**session.cookie, "X-CSRF-Token": "wrong"}, {**session.cookie, "X-CSRF-Token": ""}, {**session.cookie, "X-CSRF-Token": "密码"}):
        response = await console.client.post("/api/users", json=body, headers=headers)
        assert response.status == 403
        assert (await response.json())["error_id"] == "csrf"
    assert "new-agent" not in await _users_named(console)

    response = await console.client.post("/api/users", json=body, headers=session.headers)
    assert response.status == 201
    assert "new-agent" in await _users_named(console)


async def test_the_csrf_token_also_comes_as_a_form_field(console: Console) -> None:
    session = await console.log_in("admin1")

    refused = await console.client.post("/page", data={"x": "1"}, headers=session.cookie)
    accepted = await console.client.post("/page", data={"csrf": session.csrf}, headers=session.cookie)

    assert refused.status == 403
    assert (await accepted.json())["user"] == "admin1"


async def test_reading_needs_no_csrf_token(console: Console) -> None:
    session = await console.log_in("admin1")

    assert (await console.client.get("/api/users", headers=session.cookie)).status == 200


async def test_another_sites_origin_is_refused_for_cookie_requests(console: Console) -> None:
    session = await console.log_in("admin1")
    evil = {"Origin": "https://evil.example"}

    changing = await console.client.post("/api/users", json={"name": "x-agent", "role": "agent"}, headers={**session.headers, **evil})
    reading = await console.client.get("/api/me", headers={**session.cookie, **evil})
    websocket = await console.client.get("/ws", headers={**session.cookie, **evil, "Connection": "Upgrade", "Upgrade": "websocket"})

    for response in (changing, reading, websocket):
        assert response.status == 403
        assert (await response.json())["error_id"] == "bad_origin"
    assert "x-agent" not in await _users_named(console)


async def test_this_sites_origin_is_accepted_also_behind_a_tls_proxy(console: Console) -> None:
    session = await console.log_in("admin1")
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hotline.example.cn", "Origin": "https://hotline.example.cn"}

    direct = await console.client.get("/api/me", headers={**session.cookie, "Origin": console.origin})
    behind_proxy = await console.client.get("/api/me", headers={**session.cookie, **proxied})

    assert direct.status == behind_proxy.status == 200


async def test_a_log_in_posted_from_another_site_is_refused(console: Console) -> None:
    response = await console.client.post("/login", data={"name": "admin1", "password": PASSWORD}, headers={"Origin": "https://evil.example"}, allow_redirects=False)

    assert response.status == 403
    assert (await response.json())["error_id"] == "bad_origin"
    assert COOKIE not in response.cookies
    ok = await console.client.post("/login", data={"name": "admin1", "password": PASSWORD}, headers={"Origin": console.origin}, allow_redirects=False)
    assert ok.status == 303


async def test_bearer_requests_need_neither_csrf_nor_origin(console: Console) -> None:
    _, token = await console.users.add("integration", "admin")
    headers = {"Authorization": f"Bearer {token}", "Origin": "https://evil.example"}

    response = await console.client.post("/api/users", json={"name": "from-crm", "role": "agent"}, headers=headers)

    assert response.status == 201


async def test_a_bad_bearer_token_is_not_rescued_by_a_cookie(console: Console) -> None:
    session = await console.log_in("admin1")

    response = await console.client.get("/api/me", headers={**session.cookie, "Authorization": "Bearer nope"})

    assert response.status == 401


# --- the user's own account -------------------------------------------------------------


async def test_me_names_the_department(console: Console) -> None:
    from hotline.tickets.departments import Departments

    repair = await Departments(console.engine, console.clock).create("维修部")
    await console.add("repair1", "department", department_id=repair.id)
    session = await console.log_in("repair1")

    me = await (await console.client.get("/api/me", headers=session.cookie)).json()

    assert (me["department_id"], me["department"]) == (repair.id, "维修部")


async def test_changing_ones_password_ends_the_other_sessions_only(console: Console) -> None:
    here, elsewhere = await console.log_in("agent8001"), await console.log_in("agent8001")

    response = await console.client.post("/api/me/password", json={"old_password": PASSWORD, "new_password": "新的密码-2026"}, headers=here.headers)

    assert response.status == 204
    assert await console.status_of(here) == 200
    assert await console.status_of(elsewhere) == 401
    assert (await console.client.post("/login", json={"name": "agent8001", "password": PASSWORD})).status == 401
    await console.log_in("agent8001", "新的密码-2026")


async def test_a_wrong_old_password_or_a_short_new_one_changes_nothing(console: Console) -> None:
    session = await console.log_in("agent8001")

    wrong = await console.client.post("/api/me/password", json={"old_password": "not-it-at-all", "new_password": "新的密码-2026"}, headers=session.headers)
    short = await console.client.post("/api/me/password", json={"old_password": PASSWORD, "new_password": "short"}, headers=session.headers)
    no_csrf = await console.client.post("/api/me/password", json={"old_password": PASSWORD, "new_password": "新的密码-2026"}, headers=session.cookie)

    assert (wrong.status, (await wrong.json())["error_id"]) == (403, "wrong_password")
    assert (short.status, (await short.json())["message"]) == (400, "new_password must be 8 to 200 characters (it has 5)")
    assert no_csrf.status == 403
    await console.log_in("agent8001")


async def test_guessing_the_old_password_is_rate_limited(console: Console) -> None:
    session = await console.log_in("agent8001")
    for _ in range(5):
        await console.client.post("/api/me/password", json={"old_password": "guess-guess", "new_password": "新的密码-2026"}, headers=session.headers)

    response = await console.client.post("/api/me/password", json={"old_password": PASSWORD, "new_password": "新的密码-2026"}, headers=session.headers)

    assert response.status == 429
    assert response.headers["Retry-After"] == "900"


# --- who may read calls -----------------------------------------------------------------


@pytest.mark.parametrize("role, status", [("agent", 403), ("department", 403), ("supervisor", 200), ("admin", 200)])
async def test_only_supervisors_and_admins_read_calls(console: Console, role: str, status: int) -> None:
    await console.add(f"the-{role}", role)
    session = await console.log_in(f"the-{role}")

    listing = await console.client.get("/api/calls", headers=session.cookie)
    one = await console.client.get("/api/calls/nope", headers=session.cookie)

    assert listing.status == status
    assert one.status == (404 if status == 200 else 403)
    if status == 403:
        assert (await listing.json())["error_id"] == "forbidden"


async def test_a_session_of_a_disabled_user_stops_working(console: Console, engine: AsyncEngine) -> None:
    session = await console.log_in("agent8001")
    async with engine.begin() as conn:  # disabled behind the API's back: the flag alone is enough
        await conn.execute(update(users).where(users.c.name == "agent8001").values(disabled=True))

    assert await console.status_of(session) == 401
    assert (await console.client.post("/login", json={"name": "agent8001", "password": PASSWORD})).status == 401

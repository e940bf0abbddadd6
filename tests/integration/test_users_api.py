"""The users API and the user store behind it: supervisors and admins read, admins create
and change; every problem is named and nothing changes; no hash ever leaves the service."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db.tables import api_tokens, users
from hotline.errors import BadRequest, NotFound
from hotline.tickets.departments import Departments
from hotline.tickets.tables import departments
from hotline.users.store import UNSET, Role, User, UserStore
from tests.integration.console_app import PASSWORD, Console, Session, build_console

NEW_PASSWORD = "另一个密码-2026"


class Admin:
    """The console as one logged-in user: JSON in, (status, JSON) out."""

    def __init__(self, console: Console, session: Session) -> None:
        self.console, self.session = console, session

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = await self.console.client.request(method, path, json=body, headers=self.session.headers)
        text = await response.text()
        assert "$argon2" not in text and PASSWORD not in text and NEW_PASSWORD not in text
        return response.status, await response.json() if response.content_type == "application/json" else text


@pytest.fixture
async def console(engine: AsyncEngine, aiohttp_client: Any) -> Console:
    console = await build_console(engine, aiohttp_client)
    for name, role in (("admin1", "admin"), ("boss", "supervisor"), ("agent8001", "agent"), ("repair1", "department")):
        await console.add(name, role, extension="8001" if name == "agent8001" else None)
    return console


@pytest.fixture
async def repair(console: Console) -> int:
    return (await Departments(console.engine, console.clock).create("维修部")).id


async def as_(console: Console, name: str) -> Admin:
    return Admin(console, await console.log_in(name))


async def _names(console: Console) -> list[str]:
    return [user.name for user in await console.users.list()]


# --- reading ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["admin1", "boss"])
async def test_admins_and_supervisors_list_the_users(console: Console, repair: int, name: str) -> None:
    await console.add("repair2", "department", department_id=repair)

    status, body = await (await as_(console, name)).call("GET", "/api/users")

    assert status == 200
    listed = {user["name"]: user for user in body["users"]}
    assert list(listed) == sorted(listed)
    assert listed["repair2"] == {"id": listed["repair2"]["id"], "name": "repair2", "role": "department", "extension": None, "department_id": repair, "department": "维修部", "disabled": False}
    assert listed["agent8001"]["extension"] == "8001"


@pytest.mark.parametrize("name", ["agent8001", "repair1"])
async def test_agents_and_department_staff_may_not_list_users(console: Console, name: str) -> None:
    status, body = await (await as_(console, name)).call("GET", "/api/users")

    assert (status, body["error_id"]) == (403, "forbidden")


async def test_the_users_api_needs_a_log_in(console: Console) -> None:
    for method in ("GET", "POST"):
        assert (await console.client.request(method, "/api/users", json={})).status == 401
    assert (await console.client.patch("/api/users/1", json={})).status == 401


# --- creating ---------------------------------------------------------------------------


async def test_an_admin_creates_a_user_who_can_log_in_at_once(console: Console, repair: int) -> None:
    admin = await as_(console, "admin1")

    status, body = await admin.call("POST", "/api/users", {"name": " 张三 ", "role": "department", "password": PASSWORD, "extension": "8020", "department_id": repair})

    assert status == 201
    token = body.pop("api_token")
    assert body == {"id": body["id"], "name": "张三", "role": "department", "extension": "8020", "department_id": repair, "department": "维修部", "disabled": False}
    assert (await console.users.by_token(token)) == User(body["id"], "张三", Role.DEPARTMENT, "8020", repair)
    session = await console.log_in("张三")
    me = await (await console.client.get("/api/me", headers=session.cookie)).json()
    assert me["department"] == "维修部"


async def test_an_api_only_user_has_a_token_and_no_password(console: Console) -> None:
    status, body = await (await as_(console, "admin1")).call("POST", "/api/users", {"name": "crm", "role": "supervisor"})

    assert status == 201
    assert (await console.users.by_token(body["api_token"])) is not None
    assert (await console.client.post("/login", json={"name": "crm", "password": ""})).status == 401


@pytest.mark.parametrize("name", ["boss", "agent8001", "repair1"])
async def test_only_an_admin_creates_users(console: Console, name: str) -> None:
    status, body = await (await as_(console, name)).call("POST", "/api/users", {"name": "sneaky", "role": "admin", "password": PASSWORD})

    assert (status, body["error_id"]) == (403, "forbidden")
    assert "sneaky" not in await _names(console)


async def test_a_bad_new_user_names_every_problem_and_creates_nothing(console: Console) -> None:
    body = {"role": "boss", "password": "short", "extension": "80-01", "department_id": "维修部", "colour": "red"}

    status, answer = await (await as_(console, "admin1")).call("POST", "/api/users", body)

    assert status == 400
    assert sorted(answer["details"]["problems"]) == sorted([
        "unknown field 'colour'; the fields are: name, role, password, extension, department_id",
        "name is missing",
        "role must be one of: agent, department, supervisor, admin",
        "password must be 8 to 200 characters (it has 5)",
        'extension must be 2 to 10 digits, as a text (e.g. "8001")',
        "department_id must be an id (a whole number from 1)",
    ])  # fmt: skip
    assert len(await _names(console)) == 4


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": "agent8001", "role": "agent"}, "a user named 'agent8001' exists already"),
        ({"name": "someone", "role": "agent", "extension": "8001"}, "extension 8001 belongs to agent8001"),
        ({"name": "agent8001", "role": "agent", "extension": "8001"}, "a user named 'agent8001' exists already; extension 8001 belongs to agent8001"),
        ({"name": "someone", "role": "agent", "department_id": 99}, "no department with id 99"),
    ],
)
async def test_a_new_user_that_clashes_or_names_no_department_is_refused_whole(console: Console, body: dict[str, Any], message: str) -> None:
    status, answer = await (await as_(console, "admin1")).call("POST", "/api/users", {**body, "password": PASSWORD})

    assert (status, answer["message"]) == (400, message)
    assert sorted(await _names(console)) == ["admin1", "agent8001", "boss", "repair1"]
    async with console.engine.connect() as conn:
        assert len((await conn.execute(select(api_tokens.c.id))).all()) == 4


# --- changing ---------------------------------------------------------------------------


async def test_an_admin_changes_role_extension_and_department(console: Console, repair: int) -> None:
    admin = await as_(console, "admin1")
    agent = await console.users.by_name("agent8001")
    assert agent is not None

    status, moved = await admin.call("PATCH", f"/api/users/{agent.id}", {"role": "department", "extension": "8002", "department_id": repair})
    assert status == 200
    assert (moved["role"], moved["extension"], moved["department_id"], moved["department"]) == ("department", "8002", repair, "维修部")

    status, cleared = await admin.call("PATCH", f"/api/users/{agent.id}", {"extension": None, "department_id": None})
    assert (cleared["role"], cleared["extension"], cleared["department_id"]) == ("department", None, None)
    assert await console.users.get(agent.id) == User(agent.id, "agent8001", Role.DEPARTMENT)


async def test_a_password_reset_ends_the_users_sessions(console: Console) -> None:
    victim = await console.log_in("agent8001")
    admin = await as_(console, "admin1")
    agent = await console.users.by_name("agent8001")
    assert agent is not None

    status, _ = await admin.call("PATCH", f"/api/users/{agent.id}", {"password": NEW_PASSWORD})

    assert status == 200
    assert await console.status_of(victim) == 401
    assert (await console.client.post("/login", json={"name": "agent8001", "password": PASSWORD})).status == 401
    await console.log_in("agent8001", NEW_PASSWORD)
    assert await console.status_of(admin.session) == 200


async def test_a_disabled_user_loses_sessions_token_and_log_in_until_enabled(console: Console) -> None:
    _, token = await console.add("agent8002", "agent")
    session = await console.log_in("agent8002")
    admin = await as_(console, "admin1")
    user = await console.users.by_name("agent8002")
    assert user is not None

    status, body = await admin.call("PATCH", f"/api/users/{user.id}", {"disabled": True})

    assert (status, body["disabled"]) == (200, True)
    assert await console.status_of(session) == 401
    assert (await console.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status == 401
    assert (await console.client.post("/login", json={"name": "agent8002", "password": PASSWORD})).status == 401
    assert await console.status_of(session) == 401
    await admin.call("PATCH", f"/api/users/{user.id}", {"disabled": False})
    assert await console.status_of(session) == 401  # enabling again does not bring old sessions back
    await console.log_in("agent8002")
    assert (await console.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status == 200


@pytest.mark.parametrize("name", ["boss", "agent8001", "repair1"])
async def test_only_an_admin_changes_users(console: Console, name: str) -> None:
    caller = await as_(console, name)
    target = await console.users.by_name("agent8001")
    assert target is not None

    status, body = await caller.call("PATCH", f"/api/users/{target.id}", {"role": "admin"})

    assert (status, body["error_id"]) == (403, "forbidden")
    assert (await console.users.get(target.id)) == target


async def test_a_bad_change_names_every_problem_and_changes_nothing(console: Console, repair: int) -> None:
    admin = await as_(console, "admin1")
    target = await console.users.by_name("agent8001")
    assert target is not None

    status, body = await admin.call("PATCH", f"/api/users/{target.id}", {"extension": "8009", "role": None, "disabled": "yes", "password": "x", "name": "new"})

    assert status == 400
    assert sorted(body["details"]["problems"]) == sorted([
        "unknown field 'name'; the fields are: role, extension, department_id, password, disabled",
        "role must be one of: agent, department, supervisor, admin",
        "disabled must be true or false",
        "password must be 8 to 200 characters (it has 1)",
    ])  # fmt: skip
    assert (await console.users.get(target.id)) == target


@pytest.mark.parametrize(
    "change, message",
    [
        ({"extension": "8001", "role": "supervisor"}, None),  # its own extension again: fine
        ({"department_id": 99, "role": "supervisor"}, "no department with id 99"),
    ],
)
async def test_a_change_naming_no_department_changes_nothing(console: Console, change: dict[str, Any], message: str | None) -> None:
    admin = await as_(console, "admin1")
    target = await console.users.by_name("agent8001")
    assert target is not None

    status, body = await admin.call("PATCH", f"/api/users/{target.id}", change)

    if message is None:
        assert status == 200
        return
    assert (status, body["message"]) == (400, message)
    assert (await console.users.get(target.id)) == target


async def test_an_extension_of_someone_else_is_refused(console: Console) -> None:
    admin = await as_(console, "admin1")
    boss = await console.users.by_name("boss")
    assert boss is not None

    status, body = await admin.call("PATCH", f"/api/users/{boss.id}", {"extension": "8001", "role": "agent"})

    assert (status, body["message"]) == (400, "extension 8001 belongs to agent8001")
    assert (await console.users.get(boss.id)) == boss


async def test_an_unknown_user_is_404(console: Console) -> None:
    admin = await as_(console, "admin1")

    for path in ("/api/users/999", "/api/users/abc", "/api/users/0"):
        status, body = await admin.call("PATCH", path, {"role": "agent"})
        assert (status, body["error_id"]) == (404, "not_found")


async def test_the_last_admin_stays_an_admin(console: Console) -> None:
    admin = await as_(console, "admin1")
    me = admin.session
    user = await console.users.by_name("admin1")
    assert user is not None

    for change in ({"role": "agent"}, {"disabled": True}):
        status, body = await admin.call("PATCH", f"/api/users/{user.id}", change)
        assert (status, body["error_id"]) == (400, "bad_request")
    assert await console.status_of(me) == 200

    await console.add("admin2", "admin")
    status, _ = await admin.call("PATCH", f"/api/users/{user.id}", {"role": "supervisor"})
    assert status == 200


# --- the store itself -------------------------------------------------------------------


async def test_the_old_add_still_works_and_every_lookup_carries_extension_and_department(engine: AsyncEngine) -> None:
    store = UserStore(engine)
    department = await Departments(engine, store.clock).create("客服部")
    agent, token = await store.add("agent8001", "agent", extension="8001")
    staff, _ = await store.add("staff", "department", department_id=department.id)

    expected_staff = User(staff.id, "staff", Role.DEPARTMENT, None, department.id)
    assert staff == expected_staff
    assert await store.by_token(token) == User(agent.id, "agent8001", Role.AGENT, "8001", None)
    assert await store.by_extension("8001") == agent
    assert await store.by_extension("9999") is None
    assert await store.get(staff.id) == expected_staff
    assert await store.get(999) is None
    assert await store.by_name("staff") == expected_staff
    assert list(await store.list()) == [agent, expected_staff]


async def test_moving_a_user_drops_the_headship_of_the_department_they_leave(engine: AsyncEngine) -> None:
    store = UserStore(engine)
    places = Departments(engine, store.clock)
    head, _ = await store.add("head", "department")
    first = await places.create("一部", head_user_id=head.id)
    second = await places.create("二部")

    await store.update(head.id, department_id=second.id)

    async with engine.connect() as conn:
        heads = dict((await conn.execute(select(departments.c.name, departments.c.head_user_id))).all())
    assert heads == {"一部": None, "二部": None}
    assert (await store.get(head.id)) == User(head.id, "head", Role.DEPARTMENT, None, second.id)
    assert first.head_user_id == head.id


async def test_update_leaves_what_is_not_given(engine: AsyncEngine) -> None:
    store = UserStore(engine)
    agent, _ = await store.add("agent8001", "agent", extension="8001")

    assert await store.update(agent.id) == agent
    assert await store.update(agent.id, role=UNSET, extension=UNSET, disabled=False) == agent
    assert await store.update(agent.id, extension=None) == User(agent.id, "agent8001", Role.AGENT)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"role": "king"}, "unknown role 'king'; one of: agent, department, supervisor, admin"),
        ({"extension": "12345678901"}, "an extension is 2 to 10 digits, not '12345678901'"),
        ({"password": "short"}, "the password must be 8 to 200 characters (it has 5)"),
        ({"role": "king", "extension": "x"}, "unknown role 'king'; one of: agent, department, supervisor, admin; an extension is 2 to 10 digits, not 'x'"),
        ({"department_id": "维修部", "disabled": "yes"}, "a department id is a whole number from 1, not '维修部'; disabled is true or false, not 'yes'"),
    ],
)
async def test_the_store_refuses_bad_values_and_changes_nothing(engine: AsyncEngine, kwargs: dict[str, Any], message: str) -> None:
    store = UserStore(engine)
    agent, _ = await store.add("agent8001", "agent", extension="8001")

    with pytest.raises(BadRequest) as refused:
        await store.update(agent.id, **kwargs)

    assert str(refused.value) == message
    assert await store.get(agent.id) == agent


async def test_setting_a_password_of_nobody_is_not_found(engine: AsyncEngine) -> None:
    with pytest.raises(NotFound):
        await UserStore(engine).set_password(42, PASSWORD)


async def test_a_name_too_long_or_blank_is_refused(engine: AsyncEngine) -> None:
    store = UserStore(engine)
    for name in ("", "   ", "名" * 81):
        with pytest.raises(BadRequest, match="a user name is 1 to 80 characters"):
            await store.add(name, "agent")
    async with engine.connect() as conn:
        assert (await conn.execute(select(users.c.id))).all() == []

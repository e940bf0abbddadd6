"""The customers API over HTTP: admins write, supervisors read, others are refused; bad
payloads are 400 with every problem named, and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.calls.store import CallStore
from hotline.metrics import Metrics
from hotline.routing.directory import CustomerDirectory
from hotline.routing.tables import customer_numbers, customers
from hotline.users.store import UserStore
from hotline.web.app import create_app
from hotline.web.customers import add_customer_routes

HOSPITAL = {
    "name": "巴中市人民医院",
    "tier": "key_account",
    "area": "urban",
    "numbers": [{"number": "0827-5551234", "label": "总机"}, "139 1234 5678"],
    "notes": "24 小时值班",
    "external_ref": "H-1",
}


class Api:
    def __init__(self, client: TestClient[Any, Any], tokens: dict[str, str], manager_id: int) -> None:
        self.client, self.tokens, self.manager_id = client, tokens, manager_id

    async def call(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> tuple[int, Any]:
        response = await self.client.request(method, path, headers={"Authorization": f"Bearer {self.tokens[role]}"}, **kwargs)
        body = None if response.status == 204 else await response.json()
        return response.status, body


@pytest.fixture
async def api(engine: AsyncEngine, aiohttp_client: Any) -> Api:
    users = UserStore(engine)
    tokens = {}
    for role in ("admin", "supervisor", "agent", "department"):
        user, tokens[role] = await users.add(f"{role}1", role)
    manager, _ = await users.add("王经理", "agent")
    app = create_app(CallStore(engine), users, Metrics(), lambda: True)
    add_customer_routes(app, CustomerDirectory(engine, default_area_code="0827"))
    return Api(await aiohttp_client(app), tokens, manager.id)


async def rows(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        return (
            (await conn.execute(select(func.count()).select_from(customers))).scalar_one(),
            (await conn.execute(select(func.count()).select_from(customer_numbers))).scalar_one(),
        )


async def test_an_admin_creates_reads_updates_and_deletes_a_customer_with_numbers(api: Api) -> None:
    status, created = await api.call("POST", "/api/customers", json=HOSPITAL | {"account_manager_id": api.manager_id})
    assert status == 201
    assert created["numbers"] == [
        {"number": "+868275551234", "display": "0827 555 1234", "label": "总机"},
        {"number": "+8613912345678", "display": "139 1234 5678", "label": None},
    ]
    assert created["account_manager"] == {"id": api.manager_id, "name": "王经理"}
    assert (created["name"], created["tier"], created["external_ref"]) == ("巴中市人民医院", "key_account", "H-1")
    path = f"/api/customers/{created['id']}"
    assert await api.call("GET", path) == (200, created)

    status, updated = await api.call("PUT", path, json={"name": "巴中医院", "tier": "vip", "area": "城郊", "numbers": ["08275551234", {"number": "8001", "label": "分机"}]})
    assert status == 200
    assert (updated["name"], updated["tier"], updated["area"], updated["account_manager"]) == ("巴中医院", "vip", "suburban", None)
    assert [(n["number"], n["label"]) for n in updated["numbers"]] == [("+868275551234", "总机"), ("ext:8001", "分机")]

    assert await api.call("DELETE", path) == (204, None)
    status, body = await api.call("GET", path)
    assert status == 404 and body["error_id"] == "not_found"
    assert (await api.call("DELETE", path))[0] == 404


async def test_search_filters_and_pages(api: Api) -> None:
    await api.call("POST", "/api/customers", json=HOSPITAL)
    await api.call("POST", "/api/customers", json={"name": "张三", "tier": "vip", "area": "rural", "numbers": ["13800000000"]})
    status, body = await api.call("GET", "/api/customers?q=5551234")
    assert status == 200 and [c["name"] for c in body["customers"]] == ["巴中市人民医院"] and body["total"] == 1
    status, body = await api.call("GET", "/api/customers", params={"q": "张"})
    assert [c["name"] for c in body["customers"]] == ["张三"]
    status, body = await api.call("GET", "/api/customers?tier=vip&area=rural&limit=1&offset=0")
    assert [c["name"] for c in body["customers"]] == ["张三"]
    status, body = await api.call("GET", "/api/customers?limit=1&offset=1")
    assert (len(body["customers"]), body["total"]) == (1, 2)
    for query in ("tier=gold", "area=moon", "limit=0", "limit=abc", "offset=-1", "offset=x"):
        status, body = await api.call("GET", f"/api/customers?{query}")
        assert status == 400 and body["error_id"] == "bad_request", query


async def test_supervisors_read_only_and_other_roles_are_refused(engine: AsyncEngine, api: Api) -> None:
    _, created = await api.call("POST", "/api/customers", json=HOSPITAL)
    path = f"/api/customers/{created['id']}"
    assert (await api.call("GET", "/api/customers", "supervisor"))[0] == 200
    assert (await api.call("GET", path, "supervisor"))[0] == 200
    for role in ("supervisor", "agent", "department"):
        for method, target, body in (("POST", "/api/customers", HOSPITAL), ("PUT", path, HOSPITAL), ("DELETE", path, None)):
            status, refusal = await api.call(method, target, role, json=body)
            assert status == 403 and refusal["error_id"] == "forbidden", (role, method)
    for role in ("agent", "department"):
        status, refusal = await api.call("GET", "/api/customers", role)
        assert (status, refusal["details"]) == (403, {"role": role})
    response = await api.client.get("/api/customers")
    assert response.status == 401
    assert await rows(engine) == (1, 2)


@pytest.mark.parametrize(
    "payload, named",
    [
        ("not json", ["JSON object"]),
        ([1, 2], ["JSON object"]),
        ({}, ["name is missing", "tier is missing", "area is missing", "numbers is missing"]),
        (HOSPITAL | {"name": 5, "numbers": "13912345678", "colour": "red"}, ["unknown field 'colour'", "name must be a string", "numbers must be a list"]),
        (HOSPITAL | {"numbers": [5, {"number": "1", "extra": 2}]}, ["numbers: 5", "numbers: {\"number\": \"1\", \"extra\": 2}"]),
        (HOSPITAL | {"account_manager_id": True}, ["account_manager_id must be a user id or null"]),
        (HOSPITAL | {"tier": "gold", "area": "moon", "numbers": ["12"]}, ["tier 'gold'", "area 'moon'", "'12' is not a phone number: 2 digits is too short"]),
        (HOSPITAL | {"numbers": []}, ["at least one phone number"]),
        (HOSPITAL | {"account_manager_id": 999}, ["no user with id 999"]),
    ],
)
async def test_a_bad_payload_is_400_with_every_problem_and_changes_nothing(engine: AsyncEngine, api: Api, payload: Any, named: list[str]) -> None:
    kwargs = {"data": payload} if isinstance(payload, str) else {"json": payload}
    status, body = await api.call("POST", "/api/customers", **kwargs)
    assert status == 400 and body["error_id"] == "bad_request"
    assert set(body) == {"error_id", "message", "details"}
    for words in named:
        assert words in body["message"], body
    assert await rows(engine) == (0, 0)


async def test_a_number_of_another_customer_is_refused_naming_the_owner(engine: AsyncEngine, api: Api) -> None:
    _, hospital = await api.call("POST", "/api/customers", json=HOSPITAL)
    _, school = await api.call("POST", "/api/customers", json={"name": "巴中中学", "tier": "regular", "area": "urban", "numbers": ["0827 555 9999"]})
    taking = {"name": "巴中中学", "tier": "regular", "area": "urban", "numbers": ["0827 555 9999", "+86 827 555 1234"]}
    status, body = await api.call("PUT", f"/api/customers/{school['id']}", json=taking)
    assert status == 400
    assert body["message"] == f"number 0827 555 1234 belongs to customer #{hospital['id']} 巴中市人民医院"
    assert (await api.call("GET", f"/api/customers/{school['id']}"))[1] == school


async def test_unknown_ids_are_404(api: Api) -> None:
    for path in ("/api/customers/999", "/api/customers/abc", "/api/customers/-1"):
        status, body = await api.call("GET", path)
        assert status == 404 and body["error_id"] == "not_found", path
    status, _ = await api.call("PUT", "/api/customers/999", json=HOSPITAL)
    assert status == 404

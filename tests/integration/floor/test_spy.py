"""监听 / 耳语 / 强插 over real AMI: a supervisor's POST rings their own phone into the
hotline-spy context with the agent's phone as ChanSpy's target, as the PBX double receives
it field by field, and every attempt sent is recorded with who made it. Agents and
department staff are refused before anything is sent or recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.client import AmiClient
from hotline.calls.store import CallStore
from hotline.clock import FakeClock
from hotline.config import AmiSettings, FloorSettings
from hotline.floor.spy import ListenIn
from hotline.floor.tables import floor_actions
from hotline.metrics import Metrics
from hotline.testing.pbx import PbxDouble
from hotline.tickets.repository import utc
from hotline.users.store import User, UserStore
from hotline.web.app import create_app
from hotline.web.floor_spy import add_floor_spy_routes
from tests.unit.tickets.moments import at

NOW = at("2026-11-25 10:00")
FAST = dict(ping_interval=0.5, ping_timeout=1.0, reconnect_min=0.02, reconnect_max=0.1, connect_timeout=1.0)
# name, role, extension
PEOPLE = [
    ("小王", "agent", "8101"),
    ("值班长", "supervisor", "8109"),
    ("管理员", "admin", "8110"),
    ("夜班长", "supervisor", None),
    ("维修员", "department", "8120"),
    ("小李", "agent", "8102"),
]


@dataclass
class Floor:
    engine: AsyncEngine
    pbx: PbxDouble
    http: TestClient[Any, Any]
    people: dict[str, User]
    tokens: dict[str, str]

    async def post(self, path: str, as_: str, **kwargs: Any) -> tuple[int, Any]:
        response = await self.http.post(path, headers={"Authorization": f"Bearer {self.tokens[as_]}"}, **kwargs)
        return response.status, await response.json()

    def originates(self) -> list[dict[str, str]]:
        return [action for action in self.pbx.actions if action.get("Action") == "Originate"]

    async def recorded(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return [dict(row) for row in (await conn.execute(select(floor_actions).order_by(floor_actions.c.id))).mappings()]


async def until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def _people(engine: AsyncEngine) -> tuple[dict[str, User], dict[str, str]]:
    store, people, tokens = UserStore(engine), {}, {}
    for name, role, extension in PEOPLE:
        people[name], tokens[name] = await store.add(name, role, extension=extension)
    return people, tokens


@pytest.fixture
async def pbx() -> AsyncIterator[PbxDouble]:
    double = PbxDouble(secret="s3cret")
    double.originate_events = False  # the first answer is what the service records
    await double.start()
    yield double
    await double.stop()


@pytest.fixture
async def client(pbx: PbxDouble) -> AsyncIterator[AmiClient]:
    ami = AmiClient(AmiSettings(host="127.0.0.1", port=pbx.port, username="hotline", secret="s3cret", **FAST), Metrics())
    stop = asyncio.Event()
    running = asyncio.create_task(ami.run(stop))
    await until(lambda: ami.connected)
    yield ami
    stop.set()
    await asyncio.wait_for(running, 5)


async def _floor(engine: AsyncEngine, pbx: PbxDouble, client: AmiClient, aiohttp_client: Any) -> Floor:
    people, tokens = await _people(engine)
    app = create_app(CallStore(engine), UserStore(engine), Metrics(), lambda: True)
    add_floor_spy_routes(app, ListenIn(engine, FakeClock(NOW), client.send_originate, FloorSettings()))
    return Floor(engine, pbx, await aiohttp_client(app), people, tokens)


@pytest.fixture
async def floor(engine: AsyncEngine, pbx: PbxDouble, client: AmiClient, aiohttp_client: Any) -> Floor:
    pbx.contexts.add("hotline-spy")  # what asterisk-config/extensions.conf ships
    return await _floor(engine, pbx, client, aiohttp_client)


# --- what is sent and recorded ------------------------------------------------------------------


@pytest.mark.parametrize("mode, label", [("listen", "监听"), ("whisper", "耳语"), ("barge", "强插")])
async def test_a_supervisor_rings_their_own_phone_into_chanspy_on_the_agents(floor: Floor, mode: str, label: str) -> None:
    status, body = await floor.post(f"/api/floor/agents/8101/{mode}", "值班长")

    assert status == 202, body
    [sent] = floor.originates()
    assert sent["Channel"] == "PJSIP/8109"  # floor.supervisor_phone: the supervisor's own extension
    assert sent["Context"] == "hotline-spy"
    assert sent["Exten"] == mode
    assert sent["Priority"] == "1"
    assert sent["Variable"] == "HOTLINE_SPY_TARGET=PJSIP/8101"  # floor.member_interface of the agent
    assert sent["CallerID"] == f'"{label} 8101" <96655>'
    assert sent["Async"] == "true"
    assert sent["ChannelId"] == sent["ActionID"] == body["sent"]["ActionID"]
    assert (body["mode"], body["agent"]["extension"], body["agent"]["name"], body["supervisor_phone"]) == (mode, "8101", "小王", "PJSIP/8109")
    assert body["answer"]["Response"] == "Success"

    [row] = await floor.recorded()
    assert row["id"] == body["id"]
    assert (row["action"], row["actor_user_id"], row["target_extension"], row["target_user_id"], row["ok"]) == (mode, floor.people["值班长"].id, "8101", floor.people["小王"].id, True)
    assert utc(row["at"]) == NOW  # the injected clock's
    assert row["data"]["sent"]["Variable"] == ["HOTLINE_SPY_TARGET=PJSIP/8101"]
    assert (row["data"]["answer"]["Response"], row["data"]["answer"]["Message"]) == ("Success", "Originate successfully queued")


async def test_an_admin_may_listen_in_too(floor: Floor) -> None:
    status, body = await floor.post("/api/floor/agents/8102/listen", "管理员")

    assert status == 202, body
    assert [(a["Channel"], a["Variable"]) for a in floor.originates()] == [("PJSIP/8110", "HOTLINE_SPY_TARGET=PJSIP/8102")]
    assert [(r["actor_user_id"], r["action"]) for r in await floor.recorded()] == [(floor.people["管理员"].id, "listen")]


# --- refused before anything is sent --------------------------------------------------------


@pytest.mark.parametrize("who", ["小李", "维修员"])
@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
async def test_an_agent_or_department_user_is_refused_and_nothing_is_sent_or_recorded(floor: Floor, who: str, mode: str) -> None:
    status, body = await floor.post(f"/api/floor/agents/8101/{mode}", who)

    assert (status, body["error_id"]) == (403, "forbidden")
    assert "班长" in body["message"] and "supervisors" in body["message"]
    await asyncio.sleep(0.05)  # anything sent would have reached the double by now
    assert floor.originates() == []
    assert await floor.recorded() == []


@pytest.mark.parametrize("extension", ["8999", "8109", "81x"])
async def test_a_phone_that_is_no_agents_is_not_found(floor: Floor, extension: str) -> None:
    """No user, a supervisor's phone, junk: nobody to listen to."""
    status, body = await floor.post(f"/api/floor/agents/{extension}/listen", "值班长")

    assert (status, body["error_id"]) == (404, "not_found")
    assert f"no agent has extension {extension}" in body["message"]
    assert floor.originates() == [] and await floor.recorded() == []


async def test_a_supervisor_without_a_phone_is_told_to_get_one(floor: Floor) -> None:
    status, body = await floor.post("/api/floor/agents/8101/barge", "夜班长")

    assert (status, body["error_id"]) == (409, "supervisor_without_phone")
    assert "没有登记分机" in body["message"] and "has no extension" in body["message"]
    assert floor.originates() == [] and await floor.recorded() == []


async def test_a_field_in_the_body_is_refused(floor: Floor) -> None:
    status, body = await floor.post("/api/floor/agents/8101/listen", "值班长", json={"mode": "barge"})

    assert (status, body["error_id"]) == (400, "bad_request")
    assert floor.originates() == [] and await floor.recorded() == []


# --- Asterisk says no, or is not there --------------------------------------------------------


async def test_an_originate_asterisk_refuses_is_recorded_as_failed(engine: AsyncEngine, pbx: PbxDouble, client: AmiClient, aiohttp_client: Any) -> None:
    """A PBX without the hotline-spy context answers at once, before any phone rings."""
    floor = await _floor(engine, pbx, client, aiohttp_client)
    pbx.contexts.discard("hotline-spy")

    status, body = await floor.post("/api/floor/agents/8101/whisper", "值班长")

    assert (status, body["error_id"]) == (409, "listen_in_refused")
    assert "Extension does not exist." in body["message"]
    [row] = await floor.recorded()
    assert (row["action"], row["ok"], row["data"]["answer"]["Response"]) == ("whisper", False, "Error")


async def test_without_asterisk_the_attempt_is_recorded_and_reported(engine: AsyncEngine, pbx: PbxDouble, aiohttp_client: Any) -> None:
    offline = AmiClient(AmiSettings(host="127.0.0.1", port=pbx.port, username="hotline", secret="s3cret", **FAST), Metrics())  # never connected
    floor = await _floor(engine, pbx, offline, aiohttp_client)

    status, body = await floor.post("/api/floor/agents/8101/listen", "值班长")

    assert (status, body["error_id"]) == (409, "pbx_unavailable")
    assert floor.originates() == []
    [row] = await floor.recorded()
    assert (row["ok"], row["data"]["sent"]["Exten"]) == (False, "listen")
    assert "error" in row["data"]

"""Agents' states through the console API, over real AMI to the PBX double: an action reaches
the double as Asterisk's QueueAdd / QueuePause with Reason / QueueRemove, comes back as its
events and only then changes the stored state; a pause made on the phone shows the same
way; after a reconnect QueueStatus puts every agent right; forced actions are recorded with
who; after-call work follows an answered call and supervisors hear when it runs long; and
everyone who may not act is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.client import AmiClient
from hotline.ami.tracker import CallTracker
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.clock import FakeClock
from hotline.config import AmiSettings, FloorSettings
from hotline.console.hub import Hub
from hotline.db.tables import users
from hotline.events import EventBus
from hotline.floor.agents import FloorAgents
from hotline.floor.events import AgentStateChanged, WrapupOverLimit
from hotline.floor.tables import agent_states, floor_actions
from hotline.metrics import Metrics
from hotline.testing.pbx import PbxDouble
from hotline.testing.transcripts import recorded_events
from hotline.users.store import User, UserStore
from hotline.web.app import create_app
from hotline.web.floor_agents import add_floor_agent_routes
from hotline.web.ws import add_ws_routes

FAST = dict(ping_interval=0.5, ping_timeout=1.0, reconnect_min=0.02, reconnect_max=0.1, connect_timeout=1.0)
# The double's own clock: the events it makes are dated from here (Ping says the same).
PBX_EPOCH = datetime(2026, 11, 25, 2, 0, tzinfo=UTC).timestamp()
SETTINGS = FloorSettings(member_interface="Local/{extension}@agents/n")
# name, role, extension
PEOPLE = [("小王", "agent", "8001"), ("小李", "agent", "8002"), ("无分机", "agent", None), ("维修员", "department", None), ("值班长", "supervisor", None), ("管理员", "admin", None)]
WAIT = 5.0
# What Asterisk 22 answers to the member actions, in this order, for a fresh interface: the
# double must answer the same (tests/asterisk/test_agent_states.py checks the real PBX).
FRESH = "Local/8049@agents/n"
MEMBER_ANSWERS: list[tuple[dict[str, str], str, str]] = [
    ({"Action": "QueueAdd", "Queue": "hotline", "Interface": FRESH, "MemberName": "agent-8049"}, "Success", "Added interface to queue"),
    ({"Action": "QueueAdd", "Queue": "hotline", "Interface": FRESH, "MemberName": "agent-8049"}, "Error", "Unable to add interface: Already there"),
    ({"Action": "QueueAdd", "Queue": "no-such-queue", "Interface": FRESH}, "Error", "Unable to add interface to queue: No such queue"),
    ({"Action": "QueueAdd", "Interface": FRESH}, "Error", "'Queue' not specified."),
    ({"Action": "QueuePause", "Queue": "hotline", "Interface": FRESH, "Paused": "true", "Reason": "小休"}, "Success", "Interface paused successfully"),
    ({"Action": "QueuePause", "Interface": FRESH, "Paused": "false"}, "Success", "Interface unpaused successfully"),
    ({"Action": "QueuePause", "Interface": "Local/8048@agents/n", "Paused": "true", "Reason": "小休"}, "Error", "Interface not found"),
    ({"Action": "QueuePause", "Interface": FRESH}, "Error", "Need 'Interface' and 'Paused' parameters."),
    ({"Action": "QueueRemove", "Queue": "hotline", "Interface": FRESH}, "Success", "Removed interface from queue"),
    ({"Action": "QueueRemove", "Queue": "hotline", "Interface": FRESH}, "Error", "Unable to remove interface: Not there"),
    ({"Action": "QueueRemove", "Queue": "no-such-queue", "Interface": FRESH}, "Error", "Unable to remove interface from queue: No such queue"),
    ({"Action": "QueueRemove", "Queue": "hotline"}, "Error", "Need 'Queue' and 'Interface' parameters."),
]
# The events those actions bring: (event, Paused, PausedReason).
MEMBER_EVENTS = [("QueueMemberAdded", "0", ""), ("QueueMemberPause", "1", "小休"), ("QueueMemberPause", "0", ""), ("QueueMemberRemoved", "0", "")]


async def until(predicate: Callable[[], object], timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@dataclass
class Floor:
    engine: AsyncEngine
    clock: FakeClock
    pbx: PbxDouble
    client: AmiClient
    agents: FloorAgents
    http: TestClient[Any, Any]
    people: dict[str, User]
    tokens: dict[str, str]
    heard: list[Any] = field(default_factory=list)
    stops: list[asyncio.Event] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def call(self, method: str, path: str, as_: str = "小王", **kwargs: Any) -> tuple[int, Any]:
        response = await self.http.request(method, path, headers={"Authorization": f"Bearer {self.tokens[as_]}"}, **kwargs)
        return response.status, await response.json()

    async def post(self, path: str, as_: str = "小王", **body: Any) -> tuple[int, Any]:
        return await self.call("POST", path, as_, json=body)

    def sent(self, action: str) -> list[dict[str, str]]:
        return [a for a in self.pbx.actions if a.get("Action") == action]

    async def rows(self, extension: str) -> list[dict[str, Any]]:
        query = select(agent_states).where(agent_states.c.extension == extension).order_by(agent_states.c.id)
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def actions(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(floor_actions).order_by(floor_actions.c.id))).mappings()]

    async def stored(self, extension: str, count: int) -> list[dict[str, Any]]:
        """The agent's stored intervals once there are `count` of them."""
        found: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(WAIT):
                while len(found := await self.rows(extension)) < count:
                    await asyncio.sleep(0.02)
        except TimeoutError:
            pytest.fail(f"{extension} has {[(r['state'], r['reason']) for r in found]}, not {count} intervals")
        return found

    async def ws(self, as_: str) -> ClientWebSocketResponse:
        socket = await self.http.ws_connect("/ws", headers={"Authorization": f"Bearer {self.tokens[as_]}"})
        hello = await socket.receive_json(timeout=WAIT)
        assert hello["type"] == "hello"
        return socket

    def connect(self) -> None:
        stop = asyncio.Event()
        self.stops.append(stop)
        self.tasks.append(asyncio.create_task(self.client.run(stop)))

    async def disconnect(self) -> None:
        self.stops[-1].set()
        await asyncio.wait_for(self.tasks[-1], WAIT)


async def next_message(socket: ClientWebSocketResponse, type_: str, **fields: Any) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        while True:
            message = await socket.receive_json()
            if message["type"] == type_ and all(message.get(k) == v for k, v in fields.items()):
                return message  # type: ignore[no-any-return]


async def make_people(engine: AsyncEngine) -> tuple[dict[str, User], dict[str, str]]:
    store = UserStore(engine)
    people, tokens = {}, {}
    for name, role, extension in PEOPLE:
        added, tokens[name] = await store.add(name, role)
        if extension:
            async with engine.begin() as conn:
                await conn.execute(update(users).where(users.c.id == added.id).values(extension=extension))
        people[name] = replace(added, extension=extension)
    return people, tokens


@pytest.fixture
async def floor(engine: AsyncEngine, aiohttp_client: Any) -> AsyncIterator[Floor]:
    clock = FakeClock(datetime.fromtimestamp(PBX_EPOCH, UTC) + timedelta(seconds=30))
    people, tokens = await make_people(engine)
    pbx = PbxDouble(secret="s3cret")
    pbx.world.time = PBX_EPOCH
    port = await pbx.start()
    client = AmiClient(AmiSettings(host="127.0.0.1", port=port, username="hotline", secret="s3cret", **FAST), Metrics())
    bus, hub = EventBus(), Hub(clock)
    agents = FloorAgents(engine, bus, clock, client.send_action, SETTINGS, Metrics(), hub=hub, link_check=0.05)
    client.listeners.append(agents.on_ami_event)
    agents.subscribe(bus)
    capture = CallCapture(CallTracker({"96655"}), CallStore(engine), bus, Metrics())
    app = create_app(CallStore(engine), UserStore(engine), Metrics(), lambda: client.connected)
    add_floor_agent_routes(app, agents)
    add_ws_routes(app, hub, hello=[agents.hello])
    floor = Floor(engine, clock, pbx, client, agents, await aiohttp_client(app), people, tokens)

    async def hear(event: Any) -> None:
        floor.heard.append(event)

    bus.subscribe(AgentStateChanged, hear)
    bus.subscribe(WrapupOverLimit, hear)
    floor.connect()
    await until(lambda: client.connected)
    stop = asyncio.Event()
    running = [asyncio.create_task(agents.run(stop, lambda: client.connected)), asyncio.create_task(capture.run(client.queue))]
    await until(lambda: agents.resyncs == 1)  # what the double says from here on is newer
    yield floor
    stop.set()
    client.queue.put_nowait(None)
    await floor.disconnect()
    await asyncio.wait_for(asyncio.gather(*running), WAIT)
    await hub.close()
    await pbx.stop()


def states(rows: list[dict[str, Any]]) -> list[tuple[str, str | None, str, int | None]]:
    return [(r["state"], r["reason"], r["source"], r["by_user_id"]) for r in rows]


def closed_in_order(rows: list[dict[str, Any]]) -> bool:
    """Each interval ends where the next begins; only the last is open."""
    return all(a["ended_at"] == b["started_at"] for a, b in zip(rows, rows[1:])) and rows[-1]["ended_at"] is None


# --- the console's actions reach Asterisk and come back -------------------------------------------


async def test_a_pause_with_a_reason_from_the_console_reaches_asterisk_and_comes_back_as_the_stored_state(floor: Floor) -> None:
    me = floor.people["小王"].id

    status, logged_in = await floor.post("/api/floor/me/log-in")
    assert (status, logged_in["ok"], logged_in["settled"], logged_in["agent"]["state"]) == (200, True, True, "ready")
    [add] = floor.sent("QueueAdd")
    assert (add["Queue"], add["Interface"], add["MemberName"]) == ("hotline", "Local/8001@agents/n", "agent-8001")

    status, paused = await floor.post("/api/floor/me/pause", reason="就餐")

    assert status == 200
    [sent] = floor.sent("QueuePause")
    assert (sent["Queue"], sent["Interface"], sent["Paused"], sent["Reason"]) == ("hotline", "Local/8001@agents/n", "true", "就餐")
    assert paused["answers"] == [{"Action": "QueuePause", "Queue": "hotline", "Response": "Success", "Message": "Interface paused successfully"}]
    assert (paused["settled"], paused["agent"]["state"], paused["agent"]["reason"], paused["agent"]["user_id"]) == (True, "paused", "就餐", me)
    rows = await floor.stored("8001", 2)
    assert states(rows) == [("ready", None, "console", me), ("paused", "就餐", "console", me)]
    assert closed_in_order(rows) and all(r["user_id"] == me for r in rows)
    assert [(a["action"], a["actor_user_id"], a["target_extension"], a["target_user_id"], a["reason"], a["ok"]) for a in await floor.actions()] == [
        ("log_in", me, "8001", me, None, True),
        ("pause", me, "8001", me, "就餐", True),
    ]
    assert [e.state.value for e in floor.heard if isinstance(e, AgentStateChanged)] == ["ready", "paused"]

    status, back = await floor.post("/api/floor/me/ready")
    assert (status, back["agent"]["state"]) == (200, "ready")
    assert floor.sent("QueuePause")[-1]["Paused"] == "false"
    status, out = await floor.post("/api/floor/me/log-out")
    assert (status, out["agent"]["state"], floor.sent("QueueRemove")[0]["Interface"]) == (200, "logged_out", "Local/8001@agents/n")
    assert states(await floor.stored("8001", 4))[2:] == [("ready", None, "console", me), ("logged_out", None, "console", me)]


async def test_a_pause_made_on_the_phone_shows_in_the_console(floor: Floor) -> None:
    await floor.post("/api/floor/me/log-in")
    supervisor = await floor.ws("值班长")
    agent = await floor.ws("小王")

    floor.pbx.pause_from_phone("Local/8001@agents/n", reason="小休")

    rows = await floor.stored("8001", 2)
    assert states(rows)[1] == ("paused", "小休", "phone", None)
    seen = await next_message(supervisor, "agent_state", source="phone")
    assert (seen["agent"]["extension"], seen["agent"]["state"], seen["agent"]["reason"], seen["previous"]) == ("8001", "paused", "小休", "ready")
    assert (await next_message(agent, "agent_state", source="phone"))["agent"]["name"] == "小王"
    status, mine = await floor.call("GET", "/api/floor/me")
    assert (status, mine["agent"]["state"], mine["agent"]["reason"], mine["pause_reasons"]) == (200, "paused", "小休", ["小休", "就餐", "培训"])
    status, listed = await floor.call("GET", "/api/floor/agents", "值班长")
    assert status == 200
    assert [(a["extension"], a["name"], a["state"], a["reason"], a["queues"]) for a in listed["agents"]] == [("8001", "小王", "paused", "小休", ["hotline"]), ("8002", "小李", "logged_out", None, [])]
    await supervisor.close()
    await agent.close()


async def test_after_an_ami_reconnect_the_states_are_right_from_queue_status(floor: Floor) -> None:
    await floor.post("/api/floor/me/log-in")
    await floor.post("/api/floor/me/log-in", "小李")
    await floor.stored("8002", 1)
    await floor.disconnect()
    # While the service is away: 8001 pauses on the phone; another tool logs 8002 out.
    floor.pbx.pause_from_phone("Local/8001@agents/n", reason="培训")
    other = AmiClient(replace(floor.client.settings), Metrics())
    other_stop = asyncio.Event()
    other_run = asyncio.create_task(other.run(other_stop))
    await until(lambda: other.connected)
    removed = await other.send_action({"Action": "QueueRemove", "Queue": "hotline", "Interface": "Local/8002@agents/n"})
    assert removed.get("Message") == "Removed interface from queue"
    other_stop.set()
    await asyncio.wait_for(other_run, WAIT)
    assert len(await floor.rows("8001")) == 1  # nothing heard while away

    floor.connect()

    await until(lambda: floor.agents.resyncs == 2)
    assert states(await floor.stored("8001", 2))[1] == ("paused", "培训", "resync", None)
    assert states(await floor.stored("8002", 2))[1] == ("logged_out", None, "resync", None)
    assert [a.state.value for a in floor.agents.snapshot()] == ["paused", "logged_out"]
    assert len(floor.sent("QueueStatus")) >= 2  # the client's own resync and the floor's


# --- the double answers as Asterisk 22 does ----------------------------------------------------


async def test_the_double_answers_the_member_actions_as_asterisk_22_does(floor: Floor) -> None:
    heard: list[dict[str, str]] = []
    floor.client.listeners.append(heard.append)

    answers = [await floor.client.send_action(dict(action), as_list=False) for action, _, _ in MEMBER_ANSWERS]

    assert [(a.get("Response"), a.get("Message")) for a in answers] == [(response, message) for _, response, message in MEMBER_ANSWERS]
    await until(lambda: len([m for m in heard if m.get("Interface") == FRESH]) == len(MEMBER_EVENTS))
    events = [m for m in heard if m.get("Interface") == FRESH]
    assert [(m["Event"], m["Paused"], m["PausedReason"]) for m in events] == MEMBER_EVENTS
    assert list(events[0]) == ["Event", "Privilege", "Timestamp", "Queue", "MemberName", "Interface", "StateInterface", "Membership", "Penalty", "CallsTaken",
                               "LastCall", "LastPause", "LoginTime", "InCall", "Status", "Paused", "PausedReason", "Ringinuse", "Wrapuptime"]  # fmt: skip
    assert (events[0]["Membership"], events[0]["MemberName"], events[0]["Privilege"]) == ("dynamic", "agent-8049", "agent,all")


async def test_the_double_keeps_its_members_for_queue_status(floor: Floor) -> None:
    await floor.post("/api/floor/me/log-in")
    await floor.post("/api/floor/me/pause", reason="培训")

    rows = await floor.client.send_action({"Action": "QueueStatus"}, as_list=True)

    [member] = [r for r in rows if r.get("Event") == "QueueMember"]
    assert (member["Queue"], member["Name"], member["Location"], member["Paused"], member["PausedReason"], member["Membership"]) == ("hotline", "agent-8001", "Local/8001@agents/n", "1", "培训", "dynamic")


# --- supervisors ---------------------------------------------------------------------------------


async def test_forced_pause_and_log_out_are_recorded_with_who_did_them(floor: Floor) -> None:
    await floor.post("/api/floor/me/log-in")
    await floor.stored("8001", 1)
    boss, agent = floor.people["值班长"].id, floor.people["小王"].id

    status, forced = await floor.post("/api/floor/agents/8001/force-pause", "值班长", reason="开会")
    assert (status, forced["agent"]["state"], forced["agent"]["reason"]) == (200, "paused", "开会")
    assert floor.sent("QueuePause")[-1]["Reason"] == "开会"
    status, out = await floor.post("/api/floor/agents/8001/force-log-out", "管理员", reason="下班未签出")
    assert (status, out["agent"]["state"]) == (200, "logged_out")

    assert states(await floor.stored("8001", 3))[1:] == [("paused", "开会", "supervisor", boss), ("logged_out", None, "supervisor", floor.people["管理员"].id)]
    recorded = [(a["action"], a["actor_user_id"], a["target_extension"], a["target_user_id"], a["reason"], a["ok"]) for a in await floor.actions()]
    assert recorded[1:] == [("force_pause", boss, "8001", agent, "开会", True), ("force_log_out", floor.people["管理员"].id, "8001", agent, "下班未签出", True)]
    data = (await floor.actions())[2]["data"]
    assert data["sent"] == [{"Action": "QueueRemove", "Queue": "hotline", "Interface": "Local/8001@agents/n"}]
    assert data["answers"][0]["Message"] == "Removed interface from queue"


# --- after-call work ---------------------------------------------------------------------------


async def test_an_answered_call_puts_its_agent_in_after_call_work_and_supervisors_hear_past_the_limit(floor: Floor) -> None:
    events = recorded_events("answered-regular")  # agent-8001 (Local/8001@agents/n) answers
    floor.pbx.world.time = None
    floor.clock.set(datetime.fromtimestamp(1795532957, UTC))
    supervisor = await floor.ws("值班长")

    floor.pbx.play(events)

    rows = await floor.stored("8001", 3)
    assert states(rows) == [("on_call", None, "phone", None), ("ready", None, "phone", None), ("wrapup", "话后整理", "console", None)]
    assert floor.sent("QueuePause")[-1]["Reason"] == "话后整理"
    wrapup_at = rows[2]["started_at"]
    assert not [e for e in floor.heard if isinstance(e, WrapupOverLimit)]

    floor.clock.advance(timedelta(minutes=2, seconds=10))

    told = await next_message(supervisor, "wrapup_over_limit")
    assert (told["extension"], told["name"], told["limit_seconds"]) == ("8001", "小王", 120.0)
    [over] = [e for e in floor.heard if isinstance(e, WrapupOverLimit)]
    assert (over.extension, over.limit, over.user_id) == ("8001", timedelta(minutes=2), floor.people["小王"].id)
    assert over.since.replace(tzinfo=None) == wrapup_at.replace(tzinfo=None)

    status, ended = await floor.post("/api/floor/me/end-wrapup")
    assert (status, ended["agent"]["state"]) == (200, "ready")
    assert [(a["action"], a["actor_user_id"], a["reason"]) for a in await floor.actions()] == [("pause", None, "话后整理"), ("unpause", floor.people["小王"].id, "话后整理")]
    await supervisor.close()


async def test_the_time_report_gives_seconds_per_state_for_a_local_day(floor: Floor) -> None:
    await floor.post("/api/floor/me/log-in")
    await floor.post("/api/floor/me/pause", reason="小休")
    floor.clock.advance(timedelta(minutes=10))

    status, report = await floor.call("GET", "/api/floor/agents/time?day=2026-11-25", "值班长")

    assert (status, report["day"], report["timezone"]) == (200, "2026-11-25", "Asia/Shanghai")
    [row] = report["agents"]
    assert (row["extension"], row["name"]) == ("8001", "小王")
    assert 629 < row["paused"]["小休"] <= 630 and row["ready"] < 0.01
    status, empty = await floor.call("GET", "/api/floor/agents/time?day=2026-11-24", "值班长")
    assert (status, empty["agents"]) == (200, [])


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "as_, method, path, body",
    [
        ("维修员", "POST", "/api/floor/me/log-in", {}),
        ("维修员", "POST", "/api/floor/me/pause", {"reason": "小休"}),
        ("维修员", "GET", "/api/floor/me", None),
        ("维修员", "POST", "/api/floor/agents/8001/force-pause", {"reason": "开会"}),
        ("维修员", "GET", "/api/floor/agents", None),
        ("维修员", "GET", "/api/floor/agents/time", None),
        ("小李", "POST", "/api/floor/agents/8001/force-pause", {"reason": "开会"}),
        ("小李", "POST", "/api/floor/agents/8001/force-log-out", {"reason": "开会"}),
        ("小李", "GET", "/api/floor/agents", None),
        ("小李", "GET", "/api/floor/agents/time?day=2026-11-25", None),
        ("值班长", "POST", "/api/floor/me/log-in", {}),
        ("管理员", "POST", "/api/floor/me/pause", {"reason": "小休"}),
    ],
)
async def test_who_may_not_act_is_refused_and_nothing_is_sent(floor: Floor, as_: str, method: str, path: str, body: dict[str, str] | None) -> None:
    status, refused = await floor.call(method, path, as_, **({"json": body} if body is not None else {}))

    assert (status, refused["error_id"]) == (403, "forbidden")
    assert floor.sent("QueueAdd") == floor.sent("QueuePause") == floor.sent("QueueRemove") == []
    assert await floor.actions() == []


@pytest.mark.parametrize(
    "path, body, problem",
    [
        ("/api/floor/me/pause", {}, "reason is missing"),
        ("/api/floor/me/pause", {"reason": "聊天"}, "reason must be one of: 小休, 就餐, 培训"),
        ("/api/floor/me/pause", {"reason": "小休", "color": "red"}, "unknown field 'color'; the fields are: reason"),
        ("/api/floor/me/log-in", {"reason": "x"}, "unknown field 'reason'; the fields are: none"),
        ("/api/floor/me/pause", {"reason": 5}, "reason must be a text of 1 to 40 characters"),
    ],
)
async def test_a_bad_body_is_400_and_sends_nothing(floor: Floor, path: str, body: dict[str, Any], problem: str) -> None:
    status, refused = await floor.post(path, **body)

    assert (status, refused["error_id"], refused["message"]) == (400, "bad_request", problem)
    assert floor.sent("QueuePause") == floor.sent("QueueAdd") == []


async def test_actions_that_cannot_be_done_are_refused_with_why(floor: Floor) -> None:
    status, refused = await floor.post("/api/floor/me/pause", reason="小休")
    assert (status, refused["error_id"]) == (409, "not_logged_in")
    status, refused = await floor.post("/api/floor/me/end-wrapup")
    assert (status, refused["error_id"]) == (409, "not_in_wrapup")
    status, refused = await floor.post("/api/floor/me/log-in", "无分机")
    assert (status, refused["error_id"]) == (409, "no_extension")
    status, refused = await floor.post("/api/floor/agents/8999/force-pause", "值班长", reason="开会")
    assert (status, refused["error_id"]) == (404, "not_found")
    status, refused = await floor.post("/api/floor/agents/8001/force-pause", "值班长", reason="")
    assert (status, refused["error_id"]) == (400, "bad_request")
    status, refused = await floor.post("/api/floor/me/dance")
    assert (status, refused["error_id"]) == (404, "not_found")
    status, refused = await floor.call("GET", "/api/floor/agents/time?day=25.11.2026", "值班长")
    assert (status, refused["error_id"]) == (400, "bad_request")
    status, refused = await floor.call("POST", "/api/floor/me/log-in", data=b"[1]")
    assert (status, refused["message"]) == (400, "the body must be a JSON object")
    assert floor.sent("QueuePause") == []


async def test_asterisk_refusing_a_static_members_log_out_is_recorded_and_said(floor: Floor) -> None:
    floor.pbx.world.time = None
    floor.pbx.play(recorded_events("answered-regular"))  # agent-8001 is a static member (queues.conf)
    await floor.stored("8001", 3)  # on the call, ready, after-call work
    status, again = await floor.post("/api/floor/me/log-in")
    assert (status, again["ok"], again["answers"][0]["Message"]) == (200, True, "Unable to add interface: Already there")

    status, refused = await floor.post("/api/floor/me/log-out")

    assert (status, refused["error_id"]) == (409, "pbx_refused")
    assert refused["message"] == "Asterisk refused it: Member not dynamic"
    assert [(a["action"], a["ok"]) for a in await floor.actions()] == [("pause", True), ("log_in", True), ("log_out", False)]


async def test_without_the_ami_link_an_action_fails_and_is_recorded(floor: Floor) -> None:
    await floor.post("/api/floor/me/log-in")
    await floor.stored("8001", 1)
    await floor.disconnect()

    status, refused = await floor.post("/api/floor/me/pause", reason="小休")

    assert (status, refused["error_id"]) == (409, "ami_disconnected")
    last = (await floor.actions())[-1]
    assert (last["action"], last["ok"], last["data"]["error"]) == ("pause", False, "ami_disconnected")
    floor.connect()  # the fixture's teardown disconnects once more
    await until(lambda: floor.client.connected)

"""Several `hotline run` processes on one PostgreSQL against the PBX double: exactly one owns
the AMI connection; when it is killed (SIGKILL) mid-burst another takes over within the
configured limit and every call of the burst is stored once with its outcome; an owner
paused (SIGSTOP) past its lease and resumed stores nothing after the takeover (fenced);
a second instance on one SQLite file is refused with a clear message."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from hotline.cluster.relay import asyncpg_dsn
from hotline.testing.pbx import PbxDouble
from hotline.testing.transcripts import recorded_events
from tests.acceptance.conftest import ROOT, Hotline, free_port
from tests.expected import EXPECTED_CALLS

pytestmark = pytest.mark.acceptance

TAKEOVER = 2.0  # HOTLINE_CLUSTER_TAKEOVER_SECONDS here (10 s by default)
BURST = ("answered-regular", "abandoned-in-queue", "answered-vip", "agent-no-answer-then-answer")
_EPOCH = re.compile(rb"\b(17955\d{5})\.")


def copy_of(name: str, k: int) -> list[bytes]:
    """Transcript NAME as new calls: every Asterisk epoch (Uniqueid, Linkedid, Timestamp)
    moved by k * 100 s, so each copy is a set of calls of its own."""
    return [_EPOCH.sub(lambda m: str(int(m.group(1)) + k * 100).encode() + b".", e) for e in recorded_events(name)]


def expected() -> dict[str, str]:
    """caller number -> outcome of each call of the burst (one call per transcript; the
    copies keep the numbers)."""
    return {EXPECTED_CALLS[name][0][0]: EXPECTED_CALLS[name][0][4] for name in BURST}


class Instance(Hotline):
    agent_token: str = ""

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self._logs.append(log)
        self.process = await asyncio.create_subprocess_exec(sys.executable, "-m", "hotline", "run", env=self.env, cwd=ROOT, stdout=log, stderr=log)
        self.starts += 1
        await self.wait_health(lambda h: h["database"]["reachable"])

    async def health(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/healthz") as response:
            return await response.json()  # type: ignore[no-any-return]

    async def metric(self, name: str) -> float:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/metrics") as response:
            text = await response.text()
        found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
        return float(found.group(1)) if found else 0.0


@pytest.fixture
async def instances(pbx: PbxDouble, tmp_path: Path, postgres_url: str) -> AsyncIterator[list[Instance]]:
    made: list[Instance] = []
    for n in range(3):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
            "HOTLINE_AMI_HOST": "127.0.0.1", "HOTLINE_AMI_PORT": str(pbx.port), "HOTLINE_AMI_SECRET": "acceptance",
            "HOTLINE_AMI_RECONNECT_MIN": "0.05", "HOTLINE_AMI_RECONNECT_MAX": "0.2",
            "HOTLINE_DATABASE_URL": postgres_url, "HOTLINE_WEB_PORT": str(free_port()), "HOTLINE_ROUTING_AGI_PORT": str(free_port()),
            "HOTLINE_LOG_FORMAT": "json", "HOTLINE_CLUSTER_TAKEOVER_SECONDS": str(TAKEOVER), "HOTLINE_CLUSTER_INSTANCE_NAME": f"instance-{n}",
            "HOTLINE_CALLBACKS_ENABLED": "false",
        }  # fmt: skip
        made.append(Instance(env, tmp_path / f"instance-{n}.log"))
    made[0].token = (await made[0].command("user", "add", "supervisor1", "--role", "supervisor")).strip().splitlines()[-1]
    agent_token = (await made[0].command("user", "add", "agent8001", "--role", "agent", "--extension", "8001")).strip().splitlines()[-1]
    for instance in made:
        instance.token = made[0].token  # one database: a token is valid on every instance
        instance.agent_token = agent_token
        await instance.start()
    yield made
    for instance in made:
        if instance.process is not None and instance.process.returncode is None:
            instance.process.send_signal(signal.SIGCONT)
        await instance.close()


async def owners(instances: list[Instance]) -> list[Instance]:
    alive = [i for i in instances if i.process is not None and i.process.returncode is None]
    return [i for i in alive if (h := await i.health())["ami"]["owner"] and h["ami"]["connected"]]


async def one_owner(instances: list[Instance], timeout: float = 15) -> Instance:
    async with asyncio.timeout(timeout):
        while len(found := await owners(instances)) != 1:
            await asyncio.sleep(0.02)
    return found[0]


async def stored(instance: Instance, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        while True:
            calls = (await instance.get("/api/calls?limit=500"))["calls"]
            if len([c for c in calls if c["state"] == "ended"]) >= count:
                return calls  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)


async def test_one_owner_and_after_sigkill_mid_burst_another_takes_over_and_stores_every_call_once(instances: list[Instance], pbx: PbxDouble) -> None:
    owner = await one_owner(instances)
    assert pbx.connections == 1  # the others wait for the lease, not on Asterisk

    for k in range(2):
        for name in BURST:
            pbx.play(copy_of(name, k))
    await pbx.wait_sent()
    await stored(owner, 2 * len(BURST))
    killed_at = time.monotonic()
    await owner.kill()  # SIGKILL mid-burst: what follows waits for the next owner
    for k in range(2, 4):
        for name in BURST:
            pbx.play(copy_of(name, k))
    survivors = [i for i in instances if i is not owner]
    new_owner = await one_owner(survivors)
    took = time.monotonic() - killed_at

    assert took < TAKEOVER, f"took over in {took:.2f}s"
    calls = await stored(new_owner, 4 * len(BURST))
    assert len(calls) == 4 * len(BURST) == len({c["id"] for c in calls})  # each once
    by_copy: dict[str, list[str]] = {}
    for call in calls:
        by_copy.setdefault(call["caller_number"], []).append(call["outcome"])
    assert by_copy == {number: [outcome] * 4 for number, outcome in expected().items()}
    assert await new_owner.metric("hotline_ami_takeovers_total") == 1
    other = next(i for i in survivors if i is not new_owner)
    assert (await other.health())["ami"] == {"connected": False, "owner": False}
    assert len((await other.get("/api/calls?limit=500"))["calls"]) == 4 * len(BURST)

    # An agent on the instance that does not own AMI gets the pops of what the owner captures.
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{other.url}/ws", headers={"Authorization": f"Bearer {other.agent_token}"}) as socket:
        assert (await socket.receive_json(timeout=5))["type"] == "hello"
        pbx.play(copy_of("answered-regular", 9))
        stages = []
        async with asyncio.timeout(10):
            while "ended" not in stages and "settled" not in stages:
                message = await socket.receive_json()
                if message["type"] == "pop":
                    stages.append(message["stage"])
                    assert message["caller"]["number"] == "13912345678"
        assert "talking" in stages  # (a replayed ring is answered within ms: its pop may be the talking one)


async def post(instance: Instance, path: str, token: str, **body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(f"{instance.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json()


async def agent_state(socket: aiohttp.ClientWebSocketResponse, state: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message = await socket.receive_json()
            if message["type"] == "agent_state" and message["agent"]["extension"] == "8001" and message["agent"]["state"] == state:
                return message  # type: ignore[no-any-return]


async def test_floor_actions_asked_on_instances_without_ami_are_done_by_the_owner_and_shown_everywhere(instances: list[Instance], pbx: PbxDouble) -> None:
    owner = await one_owner(instances)
    agent_side, supervisor_side = [i for i in instances if i is not owner]
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{supervisor_side.url}/ws", headers={"Authorization": f"Bearer {supervisor_side.token}"}) as supervisor:
        assert (await supervisor.receive_json(timeout=5))["type"] == "hello"

        status, logged_in = await post(agent_side, "/api/floor/me/log-in", agent_side.agent_token)
        assert (status, logged_in["ok"], logged_in["settled"], logged_in["agent"]["state"]) == (200, True, True, "ready"), logged_in
        [added] = [a for a in pbx.actions if a.get("Action") == "QueueAdd"]  # sent once, over the owner's connection
        assert (added["Queue"], added["MemberName"]) == ("hotline", "agent-8001")
        assert (await agent_state(supervisor, "ready"))["source"] == "console"  # the owner stored it; relayed here

        status, paused = await post(agent_side, "/api/floor/me/pause", agent_side.agent_token, reason="就餐")
        assert (status, paused["agent"]["state"], paused["agent"]["reason"]) == (200, "paused", "就餐")
        assert (await agent_state(supervisor, "paused"))["agent"]["reason"] == "就餐"

    listed = (await supervisor_side.get("/api/floor/agents"))["agents"]
    assert [(a["extension"], a["state"], a["reason"]) for a in listed] == [("8001", "paused", "就餐")]
    # A supervisor's forced action from a third place, and the owner's error given back as its own.
    status, forced = await post(supervisor_side, "/api/floor/agents/8001/force-log-out", supervisor_side.token, reason="交班")
    assert (status, forced["agent"]["state"]) == (200, "logged_out")
    status, refused = await post(supervisor_side, "/api/floor/agents/8999/force-pause", supervisor_side.token, reason="小休")
    assert (status, refused["error_id"]) == (404, "not_found")
    assert await owner.metric("hotline_owner_requests_served_total") == 4
    assert pbx.connections == 1


async def test_after_a_gap_in_the_relay_an_instance_without_ami_has_its_pages_reconnect(instances: list[Instance], pbx: PbxDouble, postgres_url: str) -> None:
    owner = await one_owner(instances)
    other = next(i for i in instances if i is not owner)
    name = other.env["HOTLINE_CLUSTER_INSTANCE_NAME"]
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{other.url}/ws", headers={"Authorization": f"Bearer {other.token}"}) as page:
        assert (await page.receive_json(timeout=5))["type"] == "hello"
        conn = await asyncpg.connect(asyncpg_dsn(postgres_url))
        try:  # its relay's connection cut: what is NOTIFYed until it listens again is lost to it
            cut = await conn.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", f"hotline-relay {name}")
        finally:
            await conn.close()
        assert cut == 1
        closed = await page.receive(timeout=10)
        assert (closed.type, page.close_code) == (aiohttp.WSMsgType.CLOSE, 1013)  # try again later: the page reconnects
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{other.url}/ws", headers={"Authorization": f"Bearer {other.token}"}) as page:
        assert (await page.receive_json(timeout=5))["type"] == "hello"
    assert await other.metric("hotline_relay_gaps_total") == 1
    assert await owner.metric("hotline_relay_gaps_total") == 0


async def test_an_owner_paused_past_its_lease_and_resumed_stores_nothing_after_the_takeover(instances: list[Instance], pbx: PbxDouble) -> None:
    owner = await one_owner(instances)
    assert owner.process is not None
    owner.process.send_signal(signal.SIGSTOP)
    new_owner = await one_owner([i for i in instances if i is not owner])
    assert pbx.connections == 2  # the paused one's link is still open: it hears what follows

    for name in BURST:
        pbx.play(copy_of(name, 0))
    await pbx.wait_sent()
    await stored(new_owner, len(BURST))
    owner.process.send_signal(signal.SIGCONT)  # it reads what it was sent while paused

    async with asyncio.timeout(10):
        while await owner.metric("hotline_call_events_fenced_total") == 0 or (await owner.health())["ami"]["owner"]:
            await asyncio.sleep(0.05)
    for name in BURST:
        pbx.play(copy_of(name, 1))
    await stored(new_owner, 2 * len(BURST))
    await asyncio.sleep(0.3)  # time for a stray write, were there one
    calls = (await new_owner.get("/api/calls?limit=500"))["calls"]
    assert len(calls) == 2 * len(BURST) == len({c["id"] for c in calls})
    assert await owner.metric("hotline_call_events_stored_total") == 0  # it stored nothing: the burst came after its takeover


async def test_a_second_instance_on_one_sqlite_file_is_refused_with_why(pbx: PbxDouble, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
        "HOTLINE_AMI_HOST": "127.0.0.1", "HOTLINE_AMI_PORT": str(pbx.port), "HOTLINE_AMI_SECRET": "acceptance",
        "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}", "HOTLINE_WEB_PORT": str(free_port()),
        "HOTLINE_ROUTING_AGI_PORT": str(free_port()), "HOTLINE_LOG_FORMAT": "json",
    }  # fmt: skip
    first = Hotline(env, tmp_path / "first.log")
    await first.start()
    try:
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hotline", "run", env=env | {"HOTLINE_WEB_PORT": str(free_port()), "HOTLINE_ROUTING_AGI_PORT": str(free_port())},
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(second.communicate(), 20)
        assert second.returncode == 1
        said = err.decode()
        assert f"another hotline instance (pid {first.process.pid if first.process else '?'})" in said
        assert "SQLite serves one instance only" in said and "PostgreSQL" in said
        assert (await first.get("/healthz"))["ami"]["connected"]  # the first goes on
    finally:
        await first.close()

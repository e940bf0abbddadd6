"""Agents' states on the real Asterisk 22: the service's FloorAgents, logged in as the shipped
`hotline` manager user, sends QueueAdd and QueuePause with a Reason; Asterisk's
QueueMemberAdded / QueueMemberPause (PausedReason) come back and are stored; a pause by
another AMI user (the lab's) shows as the phone's; after the service's AMI session is
kicked, QueueStatus gives the same states and what changed in the gap; an answered call
puts its agent in after-call work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.client import AmiClient
from hotline.ami.tracker import CallTracker
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.clock import SystemClock
from hotline.config import AmiSettings, FloorSettings
from hotline.db.engine import create_engine
from hotline.db.migrate import upgrade_sync
from hotline.events import EventBus
from hotline.floor.agents import FloorAgents
from hotline.floor.tables import agent_states
from hotline.metrics import Metrics
from hotline.db.tables import users
from hotline.users.store import User, UserStore
from tests.asterisk.lab import Asterisk, Lab, manager_sessions
from tests.integration.floor.test_agents import FRESH, MEMBER_ANSWERS, MEMBER_EVENTS

SETTINGS = FloorSettings(member_interface="Local/{extension}@agents/n", login_queues=("hotline",))
WAIT = 10.0


EXTENSIONS = ("8041", "8042", "8043", "8044", "8045")


@dataclass
class Service:
    """FloorAgents as the service runs it: the `hotline` manager user, a database of its own."""

    engine: AsyncEngine
    client: AmiClient
    floor: FloorAgents
    agents: dict[str, User]

    async def rows(self, extension: str) -> list[tuple[str, str | None, str]]:
        query = select(agent_states.c.state, agent_states.c.reason, agent_states.c.source).where(agent_states.c.extension == extension).order_by(agent_states.c.id)
        async with self.engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(query)]  # type: ignore[misc]

    async def stored(self, extension: str, done: Callable[[list[tuple[str, str | None, str]]], bool]) -> list[tuple[str, str | None, str]]:
        found: list[tuple[str, str | None, str]] = []
        try:
            async with asyncio.timeout(WAIT):
                while not done(found := await self.rows(extension)):
                    await asyncio.sleep(0.05)
        except TimeoutError:
            pytest.fail(f"{extension}'s stored states: {found}")
        return found


@pytest.fixture
async def service(asterisk: Asterisk, lab: Lab, tmp_path: Path) -> AsyncIterator[Service]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'floor.db'}"
    await asyncio.to_thread(upgrade_sync, url)
    engine = create_engine(url)
    agents = {}
    for extension in EXTENSIONS:
        added, _ = await UserStore(engine).add(f"agent{extension}", "agent")
        async with engine.begin() as conn:
            await conn.execute(update(users).where(users.c.id == added.id).values(extension=extension))
        agents[extension] = replace(added, extension=extension)
    settings = AmiSettings(host="127.0.0.1", port=asterisk.ami_port, username="hotline", secret=asterisk.secret, reconnect_min=2.0, reconnect_max=2.0, ping_interval=1.0, ping_timeout=2.0, connect_timeout=2.0)
    client, bus = AmiClient(settings, Metrics()), EventBus()
    floor = FloorAgents(engine, bus, SystemClock(), client.send_action, SETTINGS, Metrics(), link_check=0.05)
    client.listeners.append(floor.on_ami_event)
    floor.subscribe(bus)
    capture = CallCapture(CallTracker({"96655"}), CallStore(engine), bus, Metrics())
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client.run(stop)), asyncio.create_task(floor.run(stop, lambda: client.connected)), asyncio.create_task(capture.run(client.queue))]
    async with asyncio.timeout(WAIT):
        while floor.resyncs < 1:  # connected, and QueueStatus read
            await asyncio.sleep(0.05)
    yield Service(engine, client, floor, agents)
    stop.set()
    client.queue.put_nowait(None)
    await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
    await engine.dispose()


def logged_in_by_the_service(lab: Lab, *extensions: str) -> None:
    """The lab removes them at the end, as it does its own agents."""
    lab.agents.extend(("hotline", f"Local/{e}@agents/n") for e in extensions)


async def test_asterisk_answers_the_member_actions_as_the_double_does(asterisk: Asterisk, lab: Lab, service: Service) -> None:
    """The other side of the double's test (tests/integration/floor): the same actions, as
    the `hotline` user, get the same answers and events from the real PBX."""
    start = len(lab.ami.messages)
    lab.agents.append(("hotline", FRESH))  # removed at the end if a step below fails

    answers = [await service.client.send_action(dict(action), as_list=False) for action, _, _ in MEMBER_ANSWERS]

    assert [(a.get("Response"), a.get("Message")) for a in answers] == [(response, message) for _, response, message in MEMBER_ANSWERS]
    await lab.ami.event("QueueMemberRemoved", WAIT, start, Interface=FRESH)
    events = [m for m in lab.ami.messages[start:] if m.get("Interface") == FRESH and m.get("Event", "").startswith("QueueMember")]
    assert [(m["Event"], m["Paused"], m["PausedReason"]) for m in events] == MEMBER_EVENTS
    assert list(events[0]) == ["Event", "Privilege", "Timestamp", "Queue", "MemberName", "Interface", "StateInterface", "Membership", "Penalty", "CallsTaken",
                               "LastCall", "LastPause", "LoginTime", "InCall", "Status", "Paused", "PausedReason", "Ringinuse", "Wrapuptime"]  # fmt: skip
    static = await service.client.send_action({"Action": "QueueRemove", "Queue": "hotline", "Interface": "PJSIP/8101"}, as_list=False)
    assert (static.get("Response"), static.get("Message")) == ("Error", "Member not dynamic")


async def test_a_pause_with_a_reason_from_the_service_comes_back_from_asterisk_with_its_reason(asterisk: Asterisk, lab: Lab, service: Service) -> None:
    start = len(lab.ami.messages)
    logged_in_by_the_service(lab, "8041")

    logged_in = await service.floor.log_in(service.agents["8041"])
    paused = await service.floor.pause(service.agents["8041"], "就餐")

    assert (logged_in.ok, logged_in.answers[0]["Message"], logged_in.agent.state.value) == (True, "Added interface to queue", "ready")
    assert (paused.ok, paused.settled, paused.agent.state.value, paused.agent.reason) == (True, True, "paused", "就餐")
    added = await lab.ami.event("QueueMemberAdded", WAIT, start, Interface="Local/8041@agents/n")
    assert (added["Queue"], added["MemberName"], added["Membership"], added["Paused"]) == ("hotline", "agent-8041", "dynamic", "0")
    pause = await lab.ami.event("QueueMemberPause", WAIT, start, Interface="Local/8041@agents/n")
    assert (pause["Paused"], pause["PausedReason"]) == ("1", "就餐")
    assert await service.rows("8041") == [("ready", None, "console"), ("paused", "就餐", "console")]

    await service.floor.ready(service.agents["8041"])
    out = await service.floor.log_out(service.agents["8041"])

    assert (out.answers[0]["Message"], out.agent.state.value) == ("Removed interface from queue", "logged_out")
    assert (await service.rows("8041"))[2:] == [("ready", None, "console"), ("logged_out", None, "console")]


async def test_a_pause_by_another_ami_user_shows_as_the_phones(asterisk: Asterisk, lab: Lab, service: Service) -> None:
    interface = await lab.add_agent("8042")

    await lab.pause(interface)  # the lab user: QueuePause with Reason "lab"

    rows = await service.stored("8042", lambda r: len(r) >= 2)
    assert rows == [("ready", None, "phone"), ("paused", "lab", "phone")]


async def test_after_a_reconnect_queue_status_gives_the_same_states_and_what_changed_meanwhile(asterisk: Asterisk, lab: Lab, service: Service) -> None:
    logged_in_by_the_service(lab, "8043", "8044")
    for extension in ("8043", "8044"):
        await service.floor.log_in(service.agents[extension])
    await service.floor.pause(service.agents["8043"], "培训")
    before = {row.extension: (row.state, row.reason) for row in service.floor.snapshot()}
    resyncs = service.floor.resyncs

    [session] = manager_sessions(asterisk, "hotline")
    await asterisk.acli(f"manager kick session {session}")
    await lab.pause("Local/8044@agents/n")  # while the service is away (it waits 2 s to come back)
    assert manager_sessions(asterisk, "hotline") == [], "the service came back before the pause"

    rows = await service.stored("8044", lambda r: len(r) >= 2)
    assert rows == [("ready", None, "console"), ("paused", "lab", "resync")]
    assert service.floor.resyncs == resyncs + 1
    after = {row.extension: (row.state, row.reason) for row in service.floor.snapshot()}
    assert after["8043"] == before["8043"] == ("paused", "培训")
    assert await service.rows("8043") == [("ready", None, "console"), ("paused", "培训", "console")]  # nothing new to store


async def test_an_answered_call_puts_its_agent_in_after_call_work(asterisk: Asterisk, lab: Lab, service: Service) -> None:
    logged_in_by_the_service(lab, "8045")
    await service.floor.log_in(service.agents["8045"])
    start = len(lab.ami.messages)

    await lab.call("13912345678", "张三", hold=10, talk=1)

    rows = await service.stored("8045", lambda r: bool(r) and r[-1][0] == "wrapup")
    assert rows == [("ready", None, "console"), ("on_call", None, "phone"), ("ready", None, "phone"), ("wrapup", "话后整理", "console")]
    pause = await lab.ami.event("QueueMemberPause", WAIT, start, Interface="Local/8045@agents/n")
    assert (pause["Paused"], pause["PausedReason"]) == ("1", "话后整理")
    await lab.until_no_channels()

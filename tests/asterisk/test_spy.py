"""监听 / 耳语 / 强插 on the real Asterisk: the service's own ListenIn and AMI client, logged
in as the shipped `hotline` manager user, ring a supervisor's phone into the shipped
hotline-spy context while an agent talks to a lab caller; the supervisor's channel runs
ChanSpy on the agent's call with the mode's options.

Lab phones (lab/lab-extensions.conf): agents Local/80XX@agents answer and talk TALK
seconds; supervisors Local/82XX@supervisors answer and stay 20 s. So the floor settings
here are supervisor_phone = Local/{extension}@supervisors and member_interface =
Local/{extension}@agents/n (the lab's queue members), and the agent's side of the call is
the ;1 half of its Local channel, the one bridged with the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotline.ami.client import AmiClient
from hotline.clock import SystemClock
from hotline.config import AmiSettings, FloorSettings
from hotline.db.engine import create_engine
from hotline.db.migrate import upgrade_sync
from hotline.floor.spy import LABELS, ListenIn, SpyMode
from hotline.metrics import Metrics
from hotline.users.store import User, UserStore
from tests.asterisk.ami import AmiSession, Message
from tests.asterisk.lab import Asterisk, Lab

LAB_FLOOR = FloorSettings(supervisor_phone="Local/{extension}@supervisors", member_interface="Local/{extension}@agents/n")
SUPERVISOR_PHONE = "8201"


@dataclass
class Floor:
    listen_in: ListenIn
    supervisor: User
    lab: Lab

    async def agent_talking(self, extension: str, caller: str, talk: float = 5) -> None:
        """A lab caller reaches this agent (the only one ready in the queue) and they talk."""
        await self.lab.add_agent(extension)
        await self.lab.call(caller, "张三", hold=30, talk=talk)
        await self.lab.ami.event("AgentConnect", 10, MemberName=f"agent-{extension}")

    def steps(self, uniqueid: str, start: int) -> list[tuple[str, str]]:
        """(application, data) the channel with this Uniqueid ran, in order."""
        return [(m["Application"], m["AppData"]) for m in self.lab.ami.messages[start:] if m.get("Event") == "Newexten" and m.get("Uniqueid") == uniqueid]


@pytest.fixture
async def floor(asterisk: Asterisk, lab: Lab, tmp_path: Path) -> AsyncIterator[Floor]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'floor.db'}"
    await asyncio.to_thread(upgrade_sync, url)
    engine = create_engine(url)
    store = UserStore(engine)
    supervisor, _ = await store.add("值班长", "supervisor", extension=SUPERVISOR_PHONE)
    for extension in ("8071", "8072", "8073", "8074"):
        await store.add(f"坐席{extension}", "agent", extension=extension)
    client = AmiClient(AmiSettings(host="127.0.0.1", port=asterisk.ami_port, username="hotline", secret=asterisk.secret, reconnect_min=0.1, reconnect_max=0.5), Metrics())
    stop = asyncio.Event()
    running = asyncio.create_task(client.run(stop))
    async with asyncio.timeout(10):
        while not client.connected:
            await asyncio.sleep(0.05)
    yield Floor(ListenIn(engine, SystemClock(), client.send_originate, LAB_FLOOR), supervisor, lab)
    stop.set()
    await asyncio.wait({running}, timeout=10)
    await engine.dispose()


@pytest.mark.parametrize(
    "mode, agent, options",
    [(SpyMode.LISTEN, "8071", "qbES"), (SpyMode.WHISPER, "8072", "qwbES"), (SpyMode.BARGE, "8073", "qBbES")],
)
async def test_the_supervisors_phone_runs_chanspy_on_the_agents_call(floor: Floor, mode: SpyMode, agent: str, options: str) -> None:
    caller = f"1391111{agent}"
    await floor.agent_talking(agent, caller)
    start = len(floor.lab.ami.messages)

    started = await floor.listen_in.start(floor.supervisor, mode, agent)

    assert started["answer"]["Response"] == "Success", started
    spyer = started["sent"]["ChannelId"]  # the supervisor's channel's Uniqueid
    spying: Message = await floor.lab.ami.event("ChanSpyStart", 10, start, SpyerUniqueid=spyer)
    # The supervisor's phone, showing what the call is for, listens to the agent's side of
    # the call with this caller (the ;1 half: the one in the caller's bridge, option b).
    assert spying["SpyerChannel"].startswith(f"Local/{SUPERVISOR_PHONE}@supervisors-")
    assert spying["SpyerCallerIDName"] == f"{LABELS[mode]} {agent}"
    assert spying["SpyeeChannel"].startswith(f"Local/{agent}@agents-") and spying["SpyeeChannel"].endswith(";1")
    assert spying["SpyeeCallerIDNum"] == caller
    assert ("ChanSpy", f"Local/{agent}@agents-,{options}") in floor.steps(spyer, start)
    # E: when the agent's call ends, so does the supervisor's (the lab phone would stay 20 s).
    await floor.lab.ami.event("ChanSpyStop", 10, start, SpyerUniqueid=spyer)
    await floor.lab.ami.event("Hangup", 5, start, Uniqueid=spyer)


async def test_an_agent_in_no_call_ends_the_supervisors_call_at_once(floor: Floor) -> None:
    await floor.lab.add_agent("8074")  # ready, but nobody calls
    start = len(floor.lab.ami.messages)

    started = await floor.listen_in.start(floor.supervisor, SpyMode.BARGE, "8074")

    spyer = started["sent"]["ChannelId"]
    hung_up = await floor.lab.ami.event("Hangup", 5, start, Uniqueid=spyer)
    assert ("ChanSpy", "Local/8074@agents-,qBbES") in floor.steps(spyer, start)  # S: nothing to spy on
    answered = await floor.lab.ami.event("OriginateResponse", 5, start, ActionID=spyer)
    assert float(hung_up["Timestamp"]) - float(answered["Timestamp"]) < 2
    assert not [m for m in floor.lab.ami.messages[start:] if m.get("Event") == "ChanSpyStart"]


@pytest.fixture
async def service(asterisk: Asterisk, lab: Lab) -> AsyncIterator[AmiSession]:
    """The shipped `hotline` user, sending what a broken or hostile service could."""
    session = await asterisk.ami("hotline", asterisk.secret)
    yield session
    await session.close()


@pytest.mark.parametrize(
    "target",
    ["", "Local/", "Local", "Local/8075@agents\\,B", '"Local/8075@agents,qBr(evil)"', "Local/8075@agents&Local/8076@agents", "Local/8075@agents x"],
)
async def test_a_target_that_is_not_one_phone_never_reaches_chanspy(service: AmiSession, lab: Lab, target: str) -> None:
    """Empty or a bare technology would spy on every call; a comma would add options (B
    to a listen, r to record). A plain comma in a Variable header never gets into the
    value (Asterisk splits the header there, as a list of variables); escaped or quoted it
    does, and the dialplan refuses it."""
    start = len(lab.ami.messages)
    placed = await service.action(
        "Originate", Channel=f"Local/{SUPERVISOR_PHONE}@supervisors", Context="hotline-spy", Exten="listen", Priority="1",
        CallerID='"监听" <96655>', Async="true", Timeout="10000", ChannelId="spy-bad", Variable=[f"HOTLINE_SPY_TARGET={target}"],
    )  # fmt: skip
    assert placed["Response"] == "Success", placed
    await lab.ami.event("Hangup", 5, start, Uniqueid="spy-bad")
    ran = [m.get("Application") for m in lab.ami.messages[start:] if m.get("Event") == "Newexten" and m.get("Uniqueid") == "spy-bad"]
    assert "GotoIf" in ran and "ChanSpy" not in ran


async def test_a_mode_the_context_does_not_have_is_refused_at_once(service: AmiSession) -> None:
    placed = await service.action(
        "Originate", Channel=f"Local/{SUPERVISOR_PHONE}@supervisors", Context="hotline-spy", Exten="record", Priority="1",
        Async="true", Variable=["HOTLINE_SPY_TARGET=Local/8075@agents"],
    )  # fmt: skip
    assert (placed["Response"], placed["Message"]) == ("Error", "Extension does not exist."), placed

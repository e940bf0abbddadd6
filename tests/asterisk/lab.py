"""The lab around the real Asterisk: one Asterisk 22 on a copy of asterisk-config/ with only
what a lab must change swapped in, and the simulated phones (Local-channel callers and
agents) that a test drives over the lab's own AMI user."""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hotline.testing.transcripts import headers, split_messages
from tests.acceptance.conftest import ROOT
from tests.asterisk.ami import AmiSession, Message

CONFIG = ROOT / "asterisk-config"
HERE = Path(__file__).resolve().parent
LAB = HERE / "lab"
SIPP_SCENARIOS = HERE / "sipp"
BOOT_TIMEOUT = 120  # the first run unpacks the Asterisk build


@dataclass
class Asterisk:
    """One running Asterisk on the shipped config; the ports and secrets the lab gave it."""

    run_asterisk: str
    confdir: Path
    ami_port: int
    sip_port: int
    agi_port: int  # the dialplan's HOTLINE_AGI_PORT; nothing listens unless a test does
    agent_sip_port: int  # where agent phone PJSIP/8101 answers (a sipp UAS)
    carrier_sip_port: int  # where the carrier trunk is (a sipp UAC)
    secret: str  # the `hotline` manager user's
    lab_secret: str
    process: subprocess.Popen[bytes] | None = None

    def cli(self, command: str, timeout: float = 20) -> str:
        done = subprocess.run([self.run_asterisk, str(self.confdir), "-rx", command], capture_output=True, timeout=timeout, check=True)
        return done.stdout.decode("utf-8", "replace")

    async def acli(self, command: str) -> str:
        return await asyncio.to_thread(self.cli, command)

    def log_lines(self) -> list[str]:
        """What Asterisk logged: its console (start-up) and messages.log."""
        lines = []
        for path in (self.confdir / "console.out", self.confdir / "log" / "messages.log"):
            if path.exists():
                lines += path.read_text("utf-8", "replace").splitlines()
        return lines

    async def ami(self, username: str = "lab", secret: str | None = None) -> AmiSession:
        session = await AmiSession.connect(self.ami_port)
        reply = await session.login(username, self.lab_secret if secret is None else secret)
        assert reply.get("Response") == "Success", reply
        return session


# --- building the configuration directory -------------------------------------------------


def _set(text: str, key: str, value: str, file: str) -> str:
    """Replace the one uncommented `key = ...` line."""
    new, count = re.subn(rf"(?m)^{re.escape(key)}\s*=.*$", f"{key} = {value}", text)
    assert count == 1, f"asterisk-config/{file}: expected one `{key} =` line, found {count}; update the lab's substitutions in {__file__}"
    return new


def _swap(text: str, old: str, new: str, file: str) -> str:
    assert old in text, f"asterisk-config/{file} no longer holds {old!r}; update the lab's substitutions in {__file__}"
    return text.replace(old, new)


def build_confdir(a: Asterisk) -> None:
    for conf in CONFIG.glob("*.conf"):
        shutil.copy(conf, a.confdir / conf.name)
    for conf in LAB.glob("*.conf"):
        shutil.copy(conf, a.confdir / conf.name)

    def edit(name: str, change: Callable[[str], str]) -> None:
        path = a.confdir / name
        path.write_text(change(path.read_text("utf-8")), "utf-8")

    def manager(t: str) -> str:
        t = _set(t, "port", str(a.ami_port), "manager.conf")
        t = _set(t, "secret", a.secret, "manager.conf")
        # The lab's own user drives the simulated phones; it may do anything.
        return t + f"\n[lab]\nsecret = {a.lab_secret}\ndeny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\nread = all\nwrite = all\n"

    def pjsip(t: str) -> str:
        t = _set(t, "bind", f"127.0.0.1:{a.sip_port}", "pjsip.conf")
        t = _swap(t, "contact = sip:203.0.113.10:5060", f"contact = sip:127.0.0.1:{a.carrier_sip_port}", "pjsip.conf")
        t = _swap(t, "match = 203.0.113.10", "match = 127.0.0.1", "pjsip.conf")
        # Agent 8101 is a sipp phone at a fixed address: it does not register.
        return _swap(t, "[8101](agent-aor)\n", f"[8101](agent-aor)\ncontact = sip:8101@127.0.0.1:{a.agent_sip_port}\nqualify_frequency = 0\n", "pjsip.conf")

    def extensions(t: str) -> str:
        t = _set(t, "HOTLINE_AGI_HOST", "127.0.0.1", "extensions.conf")
        t = _set(t, "HOTLINE_AGI_PORT", str(a.agi_port), "extensions.conf")
        # Callbacks reach the lab's simulated customers, not a carrier.
        t = _set(t, "HOTLINE_OUTBOUND_PREFIX", "Local/", "extensions.conf")
        t = _set(t, "HOTLINE_OUTBOUND_SUFFIX", "@customers", "extensions.conf")
        return t + "\n#include lab-extensions.conf\n"

    def modules(t: str) -> str:
        # The simulated customers press their key with SendDTMF, which the PBX itself never needs.
        return t + "\n; The lab's customers\nload = app_senddtmf.so\n"

    edit("manager.conf", manager)
    edit("modules.conf", modules)
    edit("pjsip.conf", pjsip)
    edit("extensions.conf", extensions)


# --- starting and stopping ---------------------------------------------------------------

PR_SET_PDEATHSIG = 1
STATIC_MEMBERS = ("PJSIP/8101", "PJSIP/8102", "PJSIP/8109")


def start(a: Asterisk) -> None:
    """Asterisk in the foreground of a process group of its own; its console to console.out."""
    with (a.confdir / "console.out").open("wb") as console:
        a.process = subprocess.Popen([a.run_asterisk, str(a.confdir)], stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent)


async def boot(a: Asterisk) -> None:
    """Wait for FullyBooted, then pause the shipped static members (the lab's agents are
    Local channels added per test; only the SIP test lets PJSIP/8101 take calls)."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        assert a.process is not None
        if a.process.poll() is not None:
            raise RuntimeError(f"Asterisk exited with {a.process.returncode} while starting:\n" + "\n".join(a.log_lines()[-40:]))
        try:
            session = await a.ami()
            break
        except (OSError, TimeoutError, AssertionError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    try:
        await session.event("FullyBooted", timeout=max(1, deadline - time.monotonic()))
        for interface in STATIC_MEMBERS:
            reply = await session.action("QueuePause", Interface=interface, Paused="true", Reason="lab")
            assert reply.get("Response") == "Success", reply
    finally:
        await session.close()


def die_with_parent() -> None:
    """In the child before exec: Linux kills it if this test run dies without cleaning up
    (SIGKILL, a CI timeout), so no Asterisk outlives its tests."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the session's teardown still stops it


def stop(a: Asterisk) -> None:
    process = a.process
    if process is None:
        return
    if process.poll() is None:
        try:
            subprocess.run([a.run_asterisk, str(a.confdir), "-rx", "core stop now"], capture_output=True, timeout=20)
            process.wait(15)
        except subprocess.TimeoutExpired:
            pass
    # Whatever happened above, nothing of this session's Asterisk is left running.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


# --- the simulated phones ----------------------------------------------------------------


@dataclass
class Lab:
    """The lab's AMI session: places simulated callers, adds simulated agents, and on
    close hangs up whatever a test left and takes its agents out again."""

    asterisk: Asterisk
    ami: AmiSession
    agents: list[tuple[str, str]] = field(default_factory=list)  # (queue, interface)
    globals: dict[str, str] = field(default_factory=dict)  # changed by the test: their lab values

    async def add_agent(self, number: str, queue: str = "hotline", name: str | None = None, paused: bool = False) -> str:
        interface = f"Local/{number}@agents/n"
        reply = await self.ami.action("QueueAdd", Queue=queue, Interface=interface, MemberName=name or f"agent-{number}", Paused="true" if paused else "false")
        assert reply.get("Response") == "Success", reply
        self.agents.append((queue, interface))
        return interface

    async def pause(self, interface: str, paused: bool = True) -> None:
        reply = await self.ami.action("QueuePause", Interface=interface, Paused="true" if paused else "false", Reason="lab")
        assert reply.get("Response") == "Success", reply

    async def call(self, number: str, name: str, *, hold: float, talk: float | None = None) -> None:
        """A caller dials 96655, stays `hold` seconds after the hotline answers, hangs up;
        an agent who answers talks `talk` seconds (the agents context's default else)."""
        variables = [f"HOLD={hold}"] + ([f"__TALK={talk}"] if talk is not None else [])
        reply = await self.ami.action("Originate", Channel="Local/96655@hotline-in", Context="caller-hold", Exten="s", Priority="1", CallerID=f'"{name}" <{number}>', Async="true", Timeout="30000", Variable=variables)
        assert reply.get("Response") == "Success", reply

    async def call_keying(self, number: str, name: str, *, after: float, keys: str, hold: float) -> None:
        """A caller dials 96655 and, `after` seconds once the hotline answers (in the queue,
        when nobody is free), keys `keys` (SendDTMF: w is a half second's pause, W a whole
        second's), then stays `hold` seconds and hangs up. An empty `number` is a caller
        with no number to show."""
        variables = [f"AFTER={after}", f"KEYS={keys}", f"HOLD={hold}"]
        reply = await self.ami.action("Originate", Channel="Local/96655@hotline-in", Context="caller-keys", Exten="s", Priority="1", CallerID=f'"{name}" <{number}>', Async="true", Timeout="30000", Variable=variables)
        assert reply.get("Response") == "Success", reply

    async def set_global(self, name: str, value: str) -> None:
        """Change a dialplan global for this test (close() puts the lab's value back)."""
        if name not in self.globals:
            reply = await self.ami.action("Getvar", Variable=name)
            self.globals[name] = reply.get("Value", "")
        reply = await self.ami.action("Setvar", Variable=name, Value=value)
        assert reply.get("Response") == "Success", reply

    async def joined(self, number: str, timeout: float = 10) -> Message:
        return await self.ami.event("QueueCallerJoin", timeout, CallerIDNum=number)

    async def hang_up_caller(self, number: str) -> None:
        """The caller's own phone hangs up (the ;1 half of their Local channel)."""
        rows = [r for r in await self.channels() if r.get("CallerIDNum") == number and r["Channel"].startswith("Local/96655@hotline-in-") and r["Channel"].endswith(";1")]
        assert rows, f"no call from {number} is up"
        for row in rows:
            await self.ami.action("Hangup", Channel=row["Channel"])

    async def until_gone(self, number: str, timeout: float = 10) -> None:
        """Until no channel of this caller's call is left."""
        deadline = time.monotonic() + timeout
        while True:
            rows = await self.channels()
            linked = {r["Linkedid"] for r in rows if r.get("CallerIDNum") == number}
            if not any(r["Linkedid"] in linked for r in rows):
                return
            assert time.monotonic() < deadline, f"the call from {number} is still up after {timeout}s"
            await asyncio.sleep(0.1)

    async def channels(self) -> list[Message]:
        return await self.ami.list_action("CoreShowChannels")

    async def until_no_channels(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while await self.channels():
            assert time.monotonic() < deadline, f"channels still up after {timeout}s: {await self.channels()}"
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        try:
            if await self.channels():
                await self.ami.action("Hangup", Channel="/.*/")
            for queue, interface in self.agents:
                await self.ami.action("QueueRemove", Queue=queue, Interface=interface)
            for name, value in self.globals.items():
                await self.ami.action("Setvar", Variable=name, Value=value)
                assert (await self.ami.action("Getvar", Variable=name)).get("Value", "") == value, name
            await self.until_no_channels()
        finally:
            await self.ami.close()


def manager_sessions(asterisk: Asterisk, username: str) -> list[str]:
    """File descriptors of `username`'s AMI sessions, from `manager show connected`."""
    rows = [line.split() for line in asterisk.cli("manager show connected").splitlines()]
    # Username, IP address, Start, Elapsed, FileDes, HttpCnt, ReadPerms, WritePerms
    return [row[4] for row in rows if len(row) >= 8 and row[0] == username]


# --- what the lab saw ------------------------------------------------------------------------

ROUTE_VARIABLES = ("HOTLINE_QUEUE", "QUEUE_PRIO", "HOTLINE_TIER", "HOTLINE_CUSTOMER", "HOTLINE_CALL", "HOTLINE_FIRST_TRY")


def route_set(messages: list[Message], number: str) -> dict[str, str]:
    """The routing variables the 96655 dialplan ended with on this caller's channel, from
    the VarSet events the lab saw (the last value of each; absent: never set)."""
    found: dict[str, str] = {}
    for m in messages:
        if m.get("Event") == "VarSet" and m.get("CallerIDNum") == number and m.get("Channel", "").startswith("Local/96655@hotline-in-") and m.get("Variable") in ROUTE_VARIABLES:
            found[m["Variable"]] = m.get("Value", "")
    return found


def events_named(messages: list[Message], name: str, start: int = 0) -> list[Message]:
    return [m for m in messages[start:] if m.get("Event") == name]


# --- recording the raw AMI stream -------------------------------------------------------------


class _Tee:
    """A StreamReader that keeps every byte it hands on."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self.raw = bytearray()

    async def read(self, n: int = -1) -> bytes:
        chunk = await self._reader.read(n)
        self.raw += chunk
        return chunk


def service_read_classes() -> frozenset[str]:
    """The event classes the shipped `hotline` manager user reads (asterisk-config/manager.conf)."""
    section = (CONFIG / "manager.conf").read_text("utf-8").split("[hotline]", 1)[1]
    found = re.search(r"(?m)^read\s*=\s*(\S+)", section)
    assert found, "asterisk-config/manager.conf: no read = line for [hotline]"
    return frozenset(found.group(1).split(","))


@dataclass
class Recording:
    """A second AMI session of the lab user with `Events: on`, as traces/*.ami were
    recorded: the exact bytes Asterisk sent it."""

    session: AmiSession
    tee: _Tee

    @classmethod
    async def start(cls, asterisk: Asterisk) -> Recording:
        reader, writer = await asyncio.open_connection("127.0.0.1", asterisk.ami_port)
        tee = _Tee(reader)
        session = AmiSession(tee, writer)  # type: ignore[arg-type]  # reads through the tee
        await session.wait_for(lambda m: "Banner" in m, 5)
        reply = await session.login("lab", asterisk.lab_secret)
        assert reply.get("Response") == "Success", reply
        return cls(session, tee)

    async def stop(self) -> bytes:
        """Log off; everything Asterisk sent, up to the last whole message."""
        await self.session.close()
        raw = bytes(self.tee.raw)
        return raw[: raw.rfind(b"\r\n\r\n") + 4]

    @staticmethod
    def as_the_service_reads(raw: bytes, classes: frozenset[str]) -> list[bytes]:
        """The events in `raw` that a manager user reading `classes` is sent too: an event
        goes to every user who reads any one of its classes (its Privilege header).

        The recording session sends only Login and Logoff, so every event is one the
        service saw as well, except the FullyBooted of the recorder's own login. That
        includes OriginateResponse for the lab session's Originates (with the lab's
        ActionID): Asterisk sends it to every session that reads `call`, and so does the
        double; hotline.testing.transcripts drops them, as those were the recorder's own."""
        _, messages = split_messages(raw)
        kept = []
        for message in messages:
            fields = headers(message)
            if "Event" not in fields or fields["Event"] == "FullyBooted":
                continue
            if set(fields.get("Privilege", "").split(",")) & classes:
                kept.append(message)
        return kept

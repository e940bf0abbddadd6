"""Keep your place on the real PBX, with the shipped queues.conf and extensions.conf: the
queue offers it, a waiting caller presses 1 and leaves through hotline-exit, confirms
the number (or keys another), the dialplan asks a FastAGI `keep_place` server this test
runs (the service's own handler, KeepPlaceAgi, with a stand-in desk), says when, reports
UserEvent HotlineKeepPlace and hangs up; with no service answering, the caller goes back
to waiting, in their place.

Every agent is paused, so callers wait. The lab has no sound files: each prompt is
skipped (with a warning in Asterisk's log), so the caller's keys can come right after."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from hotline.keepplace.agi import KeepPlaceAgi
from hotline.keepplace.ask import KeepPlaceAnswer, KeepPlaceAsk
from hotline.metrics import Metrics
from hotline.routing.agi import AgiHandler, AgiRequest, AgiSession, FastAgiServer
from tests.asterisk.ami import Message
from tests.asterisk.lab import CONFIG, Asterisk, Lab

WAITING = "13900000101"  # waits, and never presses anything
PRESSES = "13900000202"  # presses 1 in the queue
LATER = "13900000303"  # joins after PRESSES
OFFER_AFTER = 2  # periodic-announce-startdelay in these tests (shipped: 60)


def _setting(file: str, key: str) -> str:
    found = re.findall(rf"(?m)^{re.escape(key)}\s*=\s*(\S+)", (CONFIG / file).read_text("utf-8"))
    assert len(found) == 1, f"{file}: expected one `{key} =` line, found {found}"
    return found[0]


@pytest.fixture
async def quick_offer(asterisk: Asterisk) -> AsyncIterator[None]:
    """The shipped offer comes after a minute's wait; here after OFFER_AFTER seconds (the
    queues re-read their parameters; members and waiting callers stay)."""
    path = asterisk.confdir / "queues.conf"
    shipped = path.read_text("utf-8")
    quick, count = re.subn(r"(?m)^periodic-announce-startdelay\s*=.*$", f"periodic-announce-startdelay = {OFFER_AFTER}", shipped)
    assert count == 1, "queues.conf: expected one periodic-announce-startdelay line"
    path.write_text(quick, "utf-8")
    await asterisk.acli("queue reload parameters")
    try:
        yield
    finally:
        path.write_text(shipped, "utf-8")
        await asterisk.acli("queue reload parameters")


@asynccontextmanager
async def keep_place_service(lab: Lab, handler: AgiHandler) -> AsyncIterator[None]:
    """The service's FastAGI server answering `keep_place` where the lab dialplan asks
    (its `route` question finds no handler there: callers take the default route)."""
    server = FastAgiServer("127.0.0.1", 0, {"keep_place": handler}, header_timeout=2.0, metrics=Metrics())
    await lab.set_global("HOTLINE_AGI_PORT", str(await server.start()))
    try:
        yield
    finally:
        await server.stop(grace=0.1)


def desk_answering(answer: KeepPlaceAnswer, asked: list[KeepPlaceAsk]) -> KeepPlaceAgi:
    async def desk(ask: KeepPlaceAsk) -> KeepPlaceAnswer:
        asked.append(ask)
        return answer

    return KeepPlaceAgi(desk, budget_ms=1000)


async def paused_agents(lab: Lab) -> None:
    for number in ("8091", "8092"):
        await lab.add_agent(number, paused=True)


def dialplan_steps(messages: list[Message], channel: str) -> list[tuple[str, str, str]]:
    """(context, application, data) of each step the caller's channel ran."""
    return [(m["Context"], m["Application"], m.get("AppData", "")) for m in messages if m.get("Event") == "Newexten" and m.get("Channel") == channel]


class AsteriskLog:
    """messages.log from a point on: what Asterisk did that AMI does not show (the
    queue's periodic announcement), by the call id of the caller's channel."""

    def __init__(self, asterisk: Asterisk) -> None:
        self.path: Path = asterisk.confdir / "log" / "messages.log"
        self.start = len(self._lines())

    def _lines(self) -> list[str]:
        return self.path.read_text("utf-8", "replace").splitlines() if self.path.exists() else []

    async def offered_before_pressing(self, channel: str, timeout: float = 5) -> bool:
        deadline = time.monotonic() + timeout
        while True:  # the logger thread writes a moment after the call goes on
            lines = self._lines()[self.start :]
            call = next((m[1] for line in lines if f'"{channel}"' in line and (m := re.search(r"\[(C-[0-9a-f]+)\]", line))), None)
            pressed = next((i for i, line in enumerate(lines) if call and f"[{call}]" in line and "[1@hotline-exit:1]" in line), None)
            if pressed is not None:
                return any(f"[{call}]" in line and "Playing periodic announcement" in line for line in lines[:pressed])
            assert time.monotonic() < deadline, f"no hotline-exit step of {channel} in {self.path}"
            await asyncio.sleep(0.1)


def test_the_shipped_offer_and_the_dialplan_agree_on_when(asterisk: Asterisk) -> None:
    assert _setting("queues.conf", "context") == "hotline-exit"
    assert _setting("queues.conf", "periodic-announce") == "hotline/keep-place-offer"
    assert _setting("queues.conf", "periodic-announce-startdelay") == _setting("extensions.conf", "HOTLINE_KEEP_AFTER_SECONDS")
    plan = asterisk.cli("dialplan show hotline-exit")
    assert "'1' =>" in plan and "'T' =>" in plan
    assert "AGI(agi://${HOTLINE_AGI_HOST}:${HOTLINE_AGI_PORT}/keep_place,${KEEP_QUEUE},${KEEP_POSITION})" in plan


async def test_a_waiting_caller_offered_a_callback_presses_1_confirms_and_hears_when(asterisk: Asterisk, lab: Lab, quick_offer: None) -> None:
    asked: list[KeepPlaceAsk] = []
    await paused_agents(lab)
    log = AsteriskLog(asterisk)
    async with keep_place_service(lab, desk_answering(KeepPlaceAnswer("KP-7", 7, next_day=False), asked)):
        start = len(lab.ami.messages)
        await lab.call(WAITING, "钱七", hold=30)
        await lab.joined(WAITING)
        # 1 after OFFER_AFTER + 2 s in the queue, once offered; 1 again: the caller id.
        await lab.call_keying(PRESSES, "孙八", after=OFFER_AFTER + 2, keys="1W1#", hold=20)
        joined = await lab.joined(PRESSES)
        reported = await lab.ami.event("UserEvent", 25, start, UserEvent="HotlineKeepPlace")
        await lab.until_gone(PRESSES)

    assert await log.offered_before_pressing(joined["Channel"])
    left = await lab.ami.event("QueueCallerLeave", 1, start, Uniqueid=joined["Uniqueid"])
    assert (left["Queue"], left["Position"], left["Context"], left["Exten"]) == ("hotline", "2", "hotline-exit", "1")
    assert asked == [KeepPlaceAsk(PRESSES, False, "hotline", 2, 0, "regular", joined["Uniqueid"], PRESSES)]
    assert reported["Uniqueid"] == joined["Uniqueid"]
    assert (reported["Number"], reported["Queue"], reported["Position"], reported["Keep"], reported["Keyed"]) == (PRESSES, "hotline", "2", "KP-7", "0")
    steps = dialplan_steps(lab.ami.messages[start:], joined["Channel"])
    assert ("hotline-in", "Playback", "hotline/keep-place-offer") not in steps  # a short wait expected
    assert ("hotline-exit", "SayDigits", PRESSES) in steps  # the number read back
    assert ("hotline-exit", "SayNumber", "7") in steps  # the minutes
    assert steps[-1] == ("hotline-exit", "Hangup", "")


@pytest.mark.parametrize(
    "number, keys, expected",
    [
        # Another mobile number: its first 1 is not a confirmation, the digits after it count.
        (PRESSES, "1W13912345678#", "13912345678"),
        # No number shown: asked for one at once.
        ("", "1W08275551234#", "08275551234"),
    ],
    ids=["another number", "no caller id"],
)
async def test_a_caller_keys_the_number_to_call_and_hears_it_will_be_the_next_working_day(lab: Lab, number: str, keys: str, expected: str) -> None:
    asked: list[KeepPlaceAsk] = []
    await paused_agents(lab)
    async with keep_place_service(lab, desk_answering(KeepPlaceAnswer("KP-8", 0, next_day=True), asked)):
        start = len(lab.ami.messages)
        await lab.call_keying(number, "孙八", after=1, keys=keys, hold=20)
        joined = await lab.ami.event("QueueCallerJoin", 10, start, CallerIDName="孙八")
        reported = await lab.ami.event("UserEvent", 25, start, UserEvent="HotlineKeepPlace")
        await lab.until_gone(number or "<unknown>")

    assert [(a.number, a.keyed, a.caller_number) for a in asked] == [(expected, True, number or None)]
    assert (reported["Number"], reported["Keep"], reported["Keyed"]) == (expected, "KP-8", "1")
    steps = dialplan_steps(lab.ami.messages[start:], joined["Channel"])
    assert ("hotline-exit", "Playback", "hotline/keep-place-next-day") in steps
    assert not [s for s in steps if s[1] == "SayNumber"]


async def _never_answers(request: AgiRequest, session: AgiSession) -> None:
    await asyncio.sleep(60)  # accepted, then silent: only the dialplan's budget ends it


@pytest.mark.parametrize(
    "service, ahead_gives_up",
    [("down", False), ("silent", True)],
    ids=["service down", "service silent while the caller ahead gives up"],
)
async def test_with_no_keep_place_answer_the_caller_goes_back_to_their_place(lab: Lab, service: str, ahead_gives_up: bool) -> None:
    await paused_agents(lab)
    budget = float(_setting("extensions.conf", "HOTLINE_KEEP_BUDGET"))
    async with contextlib.AsyncExitStack() as stack:
        if service == "silent":
            await stack.enter_async_context(keep_place_service(lab, _never_answers))
        # else "down": the lab's HOTLINE_AGI_PORT, where nothing listens.
        start = len(lab.ami.messages)
        await lab.call(WAITING, "钱七", hold=40)
        await lab.joined(WAITING)
        await lab.call_keying(PRESSES, "孙八", after=3, keys="1W1#", hold=40)
        first = await lab.joined(PRESSES)
        await lab.call(LATER, "周九", hold=40)
        await lab.joined(LATER)
        left = await lab.ami.event("QueueCallerLeave", 10, start, Uniqueid=first["Uniqueid"])
        if ahead_gives_up:
            await lab.hang_up_caller(WAITING)
        back = await lab.ami.event("QueueCallerJoin", 15, lab.ami.messages.index(left), Uniqueid=first["Uniqueid"])

    # Back behind whoever was ahead and still waits, and before 周九, who came later
    # (not at the place they left: 周九 holds it by then when 钱七 has gone).
    expected = [PRESSES, LATER] if ahead_gives_up else [WAITING, PRESSES, LATER]
    entries = await lab.ami.list_action("QueueStatus", Queue="hotline")
    assert [e["CallerIDNum"] for e in sorted((e for e in entries if e.get("Event") == "QueueEntry"), key=lambda e: int(e["Position"]))] == expected
    assert (left["Position"], back["Position"]) == ("2", str(expected.index(PRESSES) + 1))
    steps = dialplan_steps(lab.ami.messages[start:], first["Channel"])
    assert ("hotline-exit", "Playback", "hotline/keep-place-sorry") in steps
    assert not [m for m in lab.ami.messages[start:] if m.get("UserEvent") == "HotlineKeepPlace"]
    # From pressing 1: the confirmation (1, a second's pause, 1#), then the service.
    seconds = float(back["Timestamp"]) - float(left["Timestamp"])
    if service == "down":
        assert seconds < 2.5  # a refused connection costs nothing
    else:
        assert budget <= seconds < budget + 2.5


async def test_a_caller_expected_to_wait_long_hears_the_offer_as_they_join(asterisk: Asterisk, lab: Lab) -> None:
    agent = await lab.add_agent("8093", paused=True)
    start = len(lab.ami.messages)
    if _holdtime(await asterisk.acli("queue show hotline")) < 1:
        # Asterisk's estimate is the queue's average hold time: one caller answered
        # after 5 s makes it at least 1 s.
        await lab.call(WAITING, "钱七", hold=20, talk=1)
        await lab.joined(WAITING)
        await asyncio.sleep(5)
        await lab.pause(agent, paused=False)
        await lab.ami.event("AgentConnect", 10, start, CallerIDNum=WAITING)
        await lab.pause(agent)
    assert _holdtime(await asterisk.acli("queue show hotline")) >= 1
    await lab.set_global("HOTLINE_KEEP_AFTER_SECONDS", "0")
    start = len(lab.ami.messages)
    await lab.call(LATER, "周九", hold=10)
    joined = await lab.joined(LATER)
    steps = dialplan_steps(lab.ami.messages[start:], joined["Channel"])
    offer = ("hotline-in", "Playback", "hotline/keep-place-offer")
    queued = next(i for i, step in enumerate(steps) if step[1] == "Queue")
    assert offer in steps[:queued]


def _holdtime(shown: str) -> int:
    found = re.search(r"\((\d+)s holdtime", shown)
    assert found, shown
    return int(found.group(1))

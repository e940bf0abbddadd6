"""Keep your place in `hotline run` as users run it, against the PBX double and over real
FastAGI: the keep-place transcript is replayed (both agents paused, 钱七 waits live, 孙八
presses 1 at place 2 and leaves through hotline-exit), the service's FastAGI answers his
keep_place question as the recording's Asterisk asked it, and the request is stored with
his queue, place and join time; when the agents are unpaused, 钱七 (the earlier, live
caller) is answered first, and 孙八's callback goes to the agent left free, who is held out
of the queue for it: one Originate into hotline-callback, the customer's number to dial."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hotline.testing.pbx import PbxDouble
from hotline.testing.transcripts import recorded_events
from tests.acceptance.conftest import Hotline
from tests.acceptance.test_callbacks_service import callbacks_env, originates
from tests.integration.keepplace.test_agi import PRESSED_1, Channel, converse

pytestmark = pytest.mark.acceptance

SUN_BA = "13900000202"
SUN_BA_CALL = "1795544583.26"  # his Linkedid: the call's id
QIAN_QI_CALL = "1795544582.24"  # 钱七's


def split_at_press_1(events: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """The transcript's events up to 孙八 leaving the queue through hotline-exit, and the rest."""
    leave = next(i for i, e in enumerate(events) if b"Event: QueueCallerLeave" in e and b"Context: hotline-exit" in e)
    return events[: leave + 1], events[leave + 1 :]


async def until(probe: Any, timeout: float = 15) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await probe()):
            await asyncio.sleep(0.05)
    return found


async def test_a_recorded_press_of_1_is_kept_and_called_back_by_the_agent_left_free(hotline: Hotline, pbx: PbxDouble) -> None:
    hotline.env |= callbacks_env() | {"HOTLINE_CALLBACKS_AGENT_CHANNEL": "Local/{extension}@agents"}
    await hotline.start()
    before, after = split_at_press_1(recorded_events("keep-place"))

    pbx.play(before)

    async def sun_ba_left_the_queue() -> dict[str, Any] | None:
        found = (await hotline.get("/api/calls?limit=50"))["calls"]
        return next((c for c in found if c["id"] == SUN_BA_CALL and c.get("queue") == "hotline"), None)

    await until(sun_ba_left_the_queue)
    port = int(hotline.env["HOTLINE_ROUTING_AGI_PORT"])
    answered = await converse(port, PRESSED_1.headers, Channel())
    assert answered.assigned["HOTLINE_KEEP"] == "KP-1" and answered.assigned["HOTLINE_KEEP_ERROR"] == ""
    assert answered.assigned["HOTLINE_KEEP_NEXT_DAY"] == "0"

    pbx.play(after)  # the agents unpaused; 8001 answers 钱七; everyone hangs up in the end

    callbacks = [a for a in await originates(pbx, 1) if a.get("Context") == "hotline-callback"]
    [sent] = callbacks
    assert (sent["Channel"], sent["Exten"], sent["CallerID"]) == ("Local/8002@agents", SUN_BA, '"96655" <96655>')
    placed = await until(lambda: _callback(hotline))
    assert (placed["kind"], placed["agent_extension"], placed["number"]) == ("keep_place", "8002", SUN_BA)
    assert "KP-1" in placed["note"] and "第 2 位" in placed["note"]
    # 8002 is held out of the queue while the callback rings (no live caller offered).
    # (8001 goes into after-call work once 钱七 hangs up: the floor's round sends that
    # pause on its own time, so wait for the second one.)
    async def two_holds() -> list[dict[str, str]] | None:
        found = [a for a in pbx.actions if a.get("Action") == "QueuePause" and a.get("Paused") == "true"]
        return found if len(found) >= 2 else None

    holds = await until(two_holds)
    assert sorted((a["Interface"], a["Reason"]) for a in holds) == [("Local/8001@agents/n", "话后整理"), ("Local/8002@agents/n", "保留排位回呼")]
    calls = {c["id"]: c for c in (await hotline.get("/api/calls?limit=50"))["calls"]}
    assert calls[QIAN_QI_CALL]["outcome"] == "answered"  # the earlier live caller went first
    await asyncio.sleep(0.3)  # a few more rounds: still one callback
    assert len([a for a in pbx.actions if a.get("Action") == "Originate" and a.get("Context") == "hotline-callback"]) == 1


async def _callback(hotline: Hotline) -> dict[str, Any] | None:
    found = (await hotline.get("/api/callbacks"))["callbacks"]
    return next((c for c in found if c["kind"] == "keep_place"), None)

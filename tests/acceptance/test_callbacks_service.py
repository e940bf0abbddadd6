"""`hotline run` as users run it, against the PBX double: a caller who hangs up in the queue
is called back through Asterisk (the Originate checked field by field), the outcome is
Asterisk's recorded answer (the callback-agent-first transcript, its ids rewritten to the
attempt's ChannelId), and a service killed with SIGKILL between placing the call and
hearing its outcome does not place it again after the restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from hotline.testing.pbx import PbxDouble
from hotline.testing.transcripts import recorded_answer, recorded_events
from tests.acceptance.conftest import Hotline

pytestmark = pytest.mark.acceptance


def callbacks_env() -> dict[str, str]:
    """Callbacks through the double's agents and customers, in a calling window open now:
    the window is local time, so the zone is one where it is about midday."""
    offset = 12 - datetime.now(UTC).hour
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs: GMT-8 is UTC+8
    return {
        "HOTLINE_ROUTING_TIMEZONE": zone,
        "HOTLINE_CALLBACKS_WINDOW_START": "06:00",
        "HOTLINE_CALLBACKS_WINDOW_END": "18:00",
        "HOTLINE_CALLBACKS_AGENT_CHANNEL": "Local/{extension}@agents",
        "HOTLINE_CALLBACKS_OUTBOUND_CHANNEL": "Local/{number}@customers",
        "HOTLINE_CALLBACKS_DEFAULT_AGENT_EXTENSION": "8001",
    }


async def originates(pbx: PbxDouble, count: int, timeout: float = 15) -> list[dict[str, str]]:
    async with asyncio.timeout(timeout):
        while len(found := [a for a in pbx.actions if a.get("Action") == "Originate"]) < count:
            await asyncio.sleep(0.05)
    return found


async def callback_when(hotline: Hotline, state: str, timeout: float = 15) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            found = (await hotline.get("/api/callbacks"))["callbacks"]
            if found and found[0]["state"] == state:
                return found[0]  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)


async def test_a_caller_who_hung_up_in_the_queue_is_called_back_through_asterisk(hotline: Hotline, pbx: PbxDouble) -> None:
    pbx.originate_events = False  # Asterisk's answer is the recorded transcript
    hotline.env |= callbacks_env()
    await hotline.start()

    pbx.play(recorded_events("abandoned-in-queue"))
    [sent] = await originates(pbx, 1)

    assert (sent["Channel"], sent["Context"], sent["Exten"], sent["Priority"]) == ("Local/8001@agents", "hotline-callback", "08275551234", "1")
    assert (sent["CallerID"], sent["Async"]) == ('"96655" <96655>', "true")
    assert sent["ChannelId"] == sent["ActionID"] == "cb-1-1"
    assert sent["Variable"] == "HOTLINE_CALLBACK=1,HOTLINE_TICKET="
    assert (await callback_when(hotline, "in_flight"))["kind"] == "abandoned"

    pbx.play(recorded_answer("callback-agent-first", {"rec-25": "cb-1-1", "1795533038.20": "cb-1-1"}))
    done = await callback_when(hotline, "done")
    assert (done["outcome"], done["attempts_made"], done["number"]) == ("answered", 1, "08275551234")


async def test_killed_between_placing_and_the_outcome_it_does_not_place_the_call_again(hotline: Hotline, pbx: PbxDouble) -> None:
    pbx.originate_events = False
    hotline.env |= callbacks_env()
    await hotline.start()
    pbx.play(recorded_events("abandoned-in-queue"))
    await originates(pbx, 1)
    await callback_when(hotline, "in_flight")

    await hotline.kill()  # SIGKILL: no goodbye
    await hotline.start()
    # The restarted service hears the call's outcome and records it, placing nothing.
    pbx.play(recorded_answer("callback-agent-first", {"rec-25": "cb-1-1", "1795533038.20": "cb-1-1"}))
    done = await callback_when(hotline, "done")
    assert (done["outcome"], done["attempts_made"]) == ("answered", 1)
    await asyncio.sleep(0.3)  # a few dispatcher rounds (it polls every second; wakes on events)
    assert [a["ChannelId"] for a in pbx.actions if a.get("Action") == "Originate"] == ["cb-1-1"]

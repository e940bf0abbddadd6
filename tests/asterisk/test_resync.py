"""Faults with calls up, on the real PBX: the AMI session kicked by Asterisk, and the
service killed with SIGKILL. After the resync from the real CoreShowChannels and
QueueStatus, every call ends right and once."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.acceptance.conftest import Hotline
from tests.asterisk.lab import Asterisk, Lab, manager_sessions
from tests.asterisk.service import all_ended, calls_when, metric, summary, timeline


class GapMiscapture(AssertionError):
    """What the service stored for calls that ended while its AMI session was down."""


async def _kick_the_service(asterisk: Asterisk) -> None:
    sessions = manager_sessions(asterisk, "hotline")
    assert len(sessions) == 1, sessions
    await asterisk.acli(f"manager kick session {sessions[0]}")


async def _until_resynced(hotline: Hotline, times: int, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while await metric(hotline, "hotline_ami_resyncs_total") < times:
            await asyncio.sleep(0.1)


async def _ended_once_each(hotline: Hotline, calls: list[dict]) -> None:
    for call in calls:
        steps = await timeline(hotline, call)
        assert steps.count("arrived") == 1 and steps.count("ended") == 1, steps
        assert steps.count("answered") == (1 if call["outcome"] == "answered" else 0), steps


async def test_calls_up_across_a_kicked_ami_session_end_right_once(asterisk: Asterisk, lab: Lab, hotline: Hotline) -> None:
    await hotline.start()
    talker = await lab.add_agent("8021")
    await lab.call("13912345678", "张三", hold=30, talk=5)
    await lab.ami.event("AgentConnect", 15, CallerIDNum="13912345678")
    await lab.pause(talker)
    await lab.call("13800000001", "李四（VIP）", hold=5)
    await lab.joined("13800000001")
    await calls_when(hotline, lambda c: sorted(x["state"] for x in c) == ["queued", "talking"])

    await _kick_the_service(asterisk)
    await _until_resynced(hotline, 2)

    calls = await calls_when(hotline, all_ended(2))
    assert summary(calls) == [
        ("13800000001", "李四（VIP）", "hotline", None, "abandoned"),
        ("13912345678", "张三", "hotline", "agent-8021", "answered"),
    ]
    await _ended_once_each(hotline, calls)


async def test_calls_that_end_while_the_ami_session_is_down_end_right_once(asterisk: Asterisk, lab: Lab, hotline: Hotline) -> None:
    # A slow reconnect, so that both calls end inside the gap.
    hotline.env |= {"HOTLINE_AMI_RECONNECT_MIN": "3", "HOTLINE_AMI_RECONNECT_MAX": "3"}
    await hotline.start()
    talker = await lab.add_agent("8022")
    await lab.call("13912345678", "张三", hold=30, talk=30)
    await lab.ami.event("AgentConnect", 15, CallerIDNum="13912345678")
    await lab.pause(talker)
    await lab.call("13800000001", "李四（VIP）", hold=30)
    await lab.joined("13800000001")
    await calls_when(hotline, lambda c: sorted(x["state"] for x in c) == ["queued", "talking"])

    await _kick_the_service(asterisk)
    for number in ("13912345678", "13800000001"):
        await lab.hang_up_caller(number)
        await lab.until_gone(number)
    assert manager_sessions(asterisk, "hotline") == [], "the service came back before the calls ended"
    await _until_resynced(hotline, 2)

    calls = await calls_when(hotline, all_ended(2))
    expected = [
        ("13800000001", "李四（VIP）", "hotline", None, "abandoned"),
        ("13912345678", "张三", "hotline", "agent-8022", "answered"),
    ]
    if summary(calls) != expected:
        steps = {c["caller_number"]: await timeline(hotline, c) for c in calls}
        raise GapMiscapture(f"stored {summary(calls)}, expected {expected}; timelines {steps}")
    await _ended_once_each(hotline, calls)


async def test_the_service_killed_with_calls_up_ends_them_right_once_after_a_restart(asterisk: Asterisk, lab: Lab, hotline: Hotline) -> None:
    await hotline.start()
    await lab.add_agent("8023")
    await lab.add_agent("8024")
    await lab.call("13912345678", "张三", hold=30, talk=3)
    connected = await lab.ami.event("AgentConnect", 15, CallerIDNum="13912345678")
    await calls_when(hotline, lambda c: len(c) == 1 and c[0]["state"] == "talking")

    assert await hotline.kill(signal.SIGKILL) == -signal.SIGKILL
    # While the service is down the first call ends, and a second one is answered.
    await lab.until_gone("13912345678")
    await lab.call("13800000001", "李四（VIP）", hold=30, talk=4)
    second = await lab.ami.event("AgentConnect", 15, CallerIDNum="13800000001")
    await hotline.start()

    calls = await calls_when(hotline, all_ended(2))
    first_agent, second_agent = connected["MemberName"], second["MemberName"]
    assert summary(calls) == [
        ("13800000001", "李四（VIP）", "hotline", second_agent, "answered"),
        ("13912345678", "张三", "hotline", first_agent, "answered"),
    ]
    assert all(c["reconciled"] for c in calls)
    await _ended_once_each(hotline, calls)


async def test_a_caller_answered_while_the_service_was_killed_is_stored_answered_not_abandoned(asterisk: Asterisk, lab: Lab, hotline: Hotline) -> None:
    """The queue counters are stored with the calls: after the restart, Asterisk's Completed
    having moved by one says the caller who vanished from the queue was answered, so nobody
    calls back a customer who was served (with no stored counters it would count abandoned)."""
    await hotline.start()
    agent = await lab.add_agent("8026", paused=True)
    await lab.call("13912345678", "张三", hold=30, talk=1)
    await lab.joined("13912345678")
    await calls_when(hotline, lambda c: len(c) == 1 and c[0]["state"] == "queued")

    assert await hotline.kill(signal.SIGKILL) == -signal.SIGKILL
    await lab.pause(agent, paused=False)  # answered while the service is down, and over
    await lab.ami.event("AgentComplete", 15, CallerIDNum="13912345678")
    await lab.until_gone("13912345678")
    await hotline.start()

    (call,) = await calls_when(hotline, all_ended(1))
    assert (call["caller_number"], call["queue"], call["outcome"], call["reconciled"]) == ("13912345678", "hotline", "answered", True)
    await _ended_once_each(hotline, [call])

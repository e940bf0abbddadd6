"""`hotline run` against the real Asterisk, logged in as the shipped manager user: the
calls it stores are the calls that happened."""

from __future__ import annotations

from tests.acceptance.conftest import Hotline
from tests.asterisk.lab import Lab
from tests.asterisk.service import all_ended, calls_when, summary, timeline


async def test_an_answered_and_an_abandoned_call_are_stored_as_they_happened(lab: Lab, hotline: Hotline) -> None:
    await hotline.start()
    agent = await lab.add_agent("8011")
    await lab.call("13912345678", "张三", hold=20, talk=2)
    await lab.ami.event("AgentConnect", 15, CallerIDNum="13912345678")
    await lab.pause(agent)  # nobody free: the next caller waits, then gives up
    await lab.call("08275551234", "王五（巴中）", hold=2)

    calls = await calls_when(hotline, all_ended(2))
    assert summary(calls) == [
        ("08275551234", "王五（巴中）", "hotline", None, "abandoned"),
        ("13912345678", "张三", "hotline", "agent-8011", "answered"),
    ]
    answered = next(c for c in calls if c["outcome"] == "answered")
    assert answered["answered_at"] and answered["agent_interface"] == "Local/8011@agents/n"
    assert answered["route_queue"] == "hotline" and answered["route_priority"] == 0
    steps = await timeline(hotline, answered)
    assert steps.count("answered") == 1 and steps.count("ended") == 1

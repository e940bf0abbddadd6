"""Fidelity of the PBX test double: one scenario on the real Asterisk, recorded as raw AMI
bytes by a session of the lab's own, then replayed through hotline.testing.pbx.PbxDouble
into a second `hotline run` with a database of its own. Both services must store the
same calls, down to each call's timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotline.testing.pbx import PbxDouble
from tests.acceptance.conftest import Hotline
from tests.asterisk.lab import Asterisk, Lab, Recording, service_read_classes
from tests.asterisk.service import KEY_ACCOUNT, MANAGER_EXTENSION, REGULAR, VIP, all_ended, calls_when, route_until, tiered

UNKNOWN = "13700000009"


async def _scenario(lab: Lab, hotline: Hotline) -> None:
    """A key account's manager answers first; a regular and a VIP caller are answered in
    their queues; an unknown caller gives up waiting. Chinese names throughout."""
    # The manager is only in key-account, so no queue call takes them first.
    await lab.add_agent(MANAGER_EXTENSION, queue="key-account", name="王经理")
    hotline_agent = await lab.add_agent("8071")
    await lab.add_agent("8072", queue="vip", name="vip-agent-8072")
    await lab.set_global("HOTLINE_PHONE_PREFIX", "Local/")
    await lab.set_global("HOTLINE_PHONE_SUFFIX", "@agents/n")
    port = int(hotline.env["HOTLINE_ROUTING_AGI_PORT"])
    await route_until(port, KEY_ACCOUNT, lambda r: r.get("HOTLINE_FIRST_TRY") == MANAGER_EXTENSION)

    start = len(lab.ami.messages)
    await lab.call(KEY_ACCOUNT, "巴中市人民医院", hold=20, talk=1)
    await lab.ami.event("DialEnd", 10, start, CallerIDNum=KEY_ACCOUNT, DialStatus="ANSWER")
    await lab.call(REGULAR, "张三", hold=20, talk=2)
    await lab.call(VIP, "李四", hold=20, talk=2)
    for number in (REGULAR, VIP):
        await lab.ami.event("AgentConnect", 15, start, CallerIDNum=number)
    await lab.pause(hotline_agent)
    await lab.call(UNKNOWN, "王五（巴中）", hold=2)
    await lab.ami.event("QueueCallerAbandon", 15, start, CallerIDNum=UNKNOWN)


async def _stored(hotline: Hotline, count: int) -> list[dict[str, Any]]:
    """Every call with its timeline, in the order the calls arrived."""
    calls = await calls_when(hotline, all_ended(count))
    return [await hotline.get(f"/api/calls/{c['id']}") for c in sorted(calls, key=lambda c: c["arrived_at"])]


async def test_a_real_pbx_recording_replayed_through_the_double_gives_the_same_calls(asterisk: Asterisk, lab: Lab, routed_hotline: Hotline, pbx_double: PbxDouble, hotline_on_double: Hotline, tmp_path: Path) -> None:
    await routed_hotline.start()
    recording = await Recording.start(asterisk)
    try:
        await _scenario(lab, routed_hotline)
        real = await _stored(routed_hotline, 4)
    finally:
        raw = await recording.stop()
    (tmp_path / "scenario.ami").write_bytes(raw)  # kept for a look when this fails

    assert tiered(real) == [
        (KEY_ACCOUNT, "巴中市人民医院", None, f"Local/{MANAGER_EXTENSION}@agents", "answered", "key_account"),
        (UNKNOWN, "王五（巴中）", "hotline", None, "abandoned", "regular"),
        (VIP, "李四", "vip", "vip-agent-8072", "answered", "vip"),
        (REGULAR, "张三", "hotline", "agent-8071", "answered", "regular"),
    ]

    events = Recording.as_the_service_reads(raw, service_read_classes())
    await hotline_on_double.start()
    pbx_double.play(events)
    await pbx_double.wait_sent(timeout=15)
    replayed = await _stored(hotline_on_double, 4)

    assert tiered(replayed) == tiered(real)
    differences = {theirs["caller_number"]: _differences(ours, theirs) for ours, theirs in zip(replayed, real, strict=True)}
    assert {number: found for number, found in differences.items() if found} == {}


def _differences(replayed: dict[str, Any], real: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """(replayed, real) for each field of a stored call, and each timeline step, that differ."""
    found = {key: (replayed.get(key), real.get(key)) for key in sorted((set(replayed) | set(real)) - {"timeline"}) if replayed.get(key) != real.get(key)}
    ours, theirs = replayed["timeline"], real["timeline"]
    for i in range(max(len(ours), len(theirs))):
        step = (ours[i] if i < len(ours) else None, theirs[i] if i < len(theirs) else None)
        if step[0] != step[1]:
            found[f"timeline[{i}]"] = step
    return found

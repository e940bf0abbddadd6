"""Routing by the service's own FastAGI on the real PBX: the shipped dialplan asks `hotline
run` (its routing port is the lab dialplan's HOTLINE_AGI_PORT) about callers imported
with `hotline customers import`, and follows the answer; the call the service stores
shows the route it decided.

test_dialplan.py proves the dialplan against stand-in FastAGI servers; these prove the
service and the PBX together.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime

import pytest

from tests.acceptance.conftest import Hotline
from tests.asterisk.lab import Asterisk, Lab, events_named, route_set
from tests.asterisk.service import (
    KEY_ACCOUNT,
    MANAGER_EXTENSION,
    REGULAR,
    VIP,
    all_ended,
    ask_route,
    by_number,
    calls_when,
    customer_ids,
    route_of,
    route_until,
    tiered,
)


async def test_a_regular_and_a_vip_call_are_routed_by_the_service_and_captured_with_their_tier(lab: Lab, routed_hotline: Hotline) -> None:
    hotline = routed_hotline
    await hotline.start()
    ids = await customer_ids(hotline)
    await lab.add_agent("8071", queue="hotline")
    await lab.add_agent("8072", queue="vip", name="vip-agent-8072")
    start = len(lab.ami.messages)
    await lab.call(REGULAR, "张三", hold=20, talk=1)
    await lab.call(VIP, "李四", hold=20, talk=1)
    for number in (REGULAR, VIP):
        await lab.ami.event("AgentConnect", 15, start, CallerIDNum=number)

    calls = by_number(await calls_when(hotline, all_ended(2)))
    assert tiered(list(calls.values())) == [
        (VIP, "李四", "vip", "vip-agent-8072", "answered", "vip"),
        (REGULAR, "张三", "hotline", "agent-8071", "answered", "regular"),
    ]
    assert route_of(calls[REGULAR]) == ("regular", "hotline", 0, ids["张三"])
    assert route_of(calls[VIP]) == ("vip", "vip", 10, ids["李四"])
    # The channel variables Asterisk set are the service's answer, the very decision the
    # call record holds (HOTLINE_CALL is its route_id).
    seen = lab.ami.messages[start:]
    assert route_set(seen, VIP) == {
        "HOTLINE_QUEUE": "vip", "QUEUE_PRIO": "10", "HOTLINE_TIER": "vip",
        "HOTLINE_CUSTOMER": ids["李四"], "HOTLINE_CALL": calls[VIP]["route_id"], "HOTLINE_FIRST_TRY": "",
    }  # fmt: skip
    assert route_set(seen, REGULAR) == {
        "HOTLINE_QUEUE": "hotline", "QUEUE_PRIO": "0", "HOTLINE_TIER": "regular",
        "HOTLINE_CUSTOMER": ids["张三"], "HOTLINE_CALL": calls[REGULAR]["route_id"], "HOTLINE_FIRST_TRY": "",
    }  # fmt: skip
    assert all(len(c["route_id"] or "") == 16 for c in calls.values())


async def test_the_vip_is_answered_first_when_both_wait(lab: Lab, routed_hotline: Hotline) -> None:
    hotline = routed_hotline
    await hotline.start()
    first = await lab.add_agent("8081")
    second = await lab.add_agent("8082")
    for agent in (first, second):
        await lab.pause(agent)
    start = len(lab.ami.messages)
    await lab.call(REGULAR, "张三", hold=30, talk=2)
    regular_joined = await lab.joined(REGULAR)
    await lab.call(VIP, "李四", hold=30, talk=2)
    vip_joined = await lab.joined(VIP)
    # Every member of vip is paused, so the VIP waits in the general queue (queues.conf
    # joinempty), where QUEUE_PRIO puts them ahead of the caller who came first.
    assert (regular_joined["Queue"], regular_joined["Position"]) == ("hotline", "1")
    assert (vip_joined["Queue"], vip_joined["Position"], vip_joined["Count"]) == ("hotline", "1", "2")

    await lab.pause(first, paused=False)
    await lab.ami.event("AgentConnect", 15, start, CallerIDNum=VIP)
    await lab.pause(second, paused=False)
    await lab.ami.event("AgentConnect", 15, start, CallerIDNum=REGULAR)
    connects = [m["CallerIDNum"] for m in events_named(lab.ami.messages, "AgentConnect", start)]
    assert connects == [VIP, REGULAR]

    calls = by_number(await calls_when(hotline, all_ended(2)))
    assert tiered(list(calls.values())) == [
        (VIP, "李四", "hotline", "agent-8081", "answered", "vip"),
        (REGULAR, "张三", "hotline", "agent-8082", "answered", "regular"),
    ]
    vip, regular = calls[VIP], calls[REGULAR]
    assert (vip["route_queue"], vip["route_priority"]) == ("vip", 10)
    assert _at(regular["queued_at"]) < _at(vip["queued_at"])
    assert _at(vip["answered_at"]) < _at(regular["answered_at"])


@pytest.mark.parametrize("stopped", ["killed", "frozen"])
async def test_with_the_services_fastagi_stopped_a_vip_still_reaches_the_queue_by_the_default_route(asterisk: Asterisk, lab: Lab, routed_hotline: Hotline, stopped: str) -> None:
    """Killed: nothing listens on the port any more (connection refused). Frozen (SIGSTOP):
    the kernel still accepts the connection, and nobody answers on it."""
    hotline = routed_hotline
    await hotline.start()
    assert (await ask_route(asterisk.agi_port, VIP))["HOTLINE_QUEUE"] == "vip"  # it was routing
    assert hotline.process is not None
    if stopped == "killed":
        assert await hotline.kill(signal.SIGKILL) == -signal.SIGKILL
    else:
        hotline.process.send_signal(signal.SIGSTOP)
    try:
        start, placed = len(lab.ami.messages), time.time()
        await lab.call(VIP, "李四", hold=10)
        joined = await lab.joined(VIP, timeout=15)
        seconds = float(joined["Timestamp"]) - placed
    finally:
        if stopped == "frozen":
            hotline.process.send_signal(signal.SIGCONT)
    assert joined["Queue"] == "hotline"
    assert route_set(lab.ami.messages[start:], VIP) == {"HOTLINE_QUEUE": "hotline", "QUEUE_PRIO": "0"}
    budget = float((await lab.ami.action("Getvar", Variable="HOTLINE_ROUTE_BUDGET"))["Value"])
    if stopped == "killed":
        assert seconds < 1.5
    else:
        assert budget <= seconds < budget + 1


@pytest.mark.parametrize("manager", ["available", "paused"])
async def test_a_key_accounts_manager_is_tried_first_when_available(lab: Lab, routed_hotline: Hotline, manager: str) -> None:
    hotline = routed_hotline
    # HOTLINE_FIRST_TRY is an extension; the lab's agents are Local channels.
    await lab.set_global("HOTLINE_PHONE_PREFIX", "Local/")
    await lab.set_global("HOTLINE_PHONE_SUFFIX", "@agents/n")
    await hotline.start()
    port = int(hotline.env["HOTLINE_ROUTING_AGI_PORT"])
    ids = await customer_ids(hotline)
    desk = await lab.add_agent(MANAGER_EXTENSION, name="王经理")
    await lab.add_agent("8062")
    # Until the service has seen the manager's state (QueueMember* events), as a call would.
    expected = MANAGER_EXTENSION if manager == "available" else ""
    if manager == "paused":
        await route_until(port, KEY_ACCOUNT, lambda r: r.get("HOTLINE_FIRST_TRY") == MANAGER_EXTENSION)
        await lab.pause(desk)
    await route_until(port, KEY_ACCOUNT, lambda r: r.get("HOTLINE_FIRST_TRY") == expected)

    start = len(lab.ami.messages)
    await lab.call(KEY_ACCOUNT, "巴中市人民医院", hold=20, talk=1)
    [call] = await calls_when(hotline, all_ended(1))
    await lab.until_gone(KEY_ACCOUNT)
    seen = lab.ami.messages[start:]
    assert route_set(seen, KEY_ACCOUNT) == {
        "HOTLINE_QUEUE": "key-account", "QUEUE_PRIO": "10", "HOTLINE_TIER": "key_account",
        "HOTLINE_CUSTOMER": ids["巴中市人民医院"], "HOTLINE_CALL": call["route_id"],
        "HOTLINE_FIRST_TRY": expected,
    }  # fmt: skip
    assert route_of(call) == ("key_account", "key-account", 10, ids["巴中市人民医院"])
    joins = [m for m in events_named(seen, "QueueCallerJoin") if m.get("CallerIDNum") == KEY_ACCOUNT]
    if manager == "available":
        # Dialled straight from the dialplan: answered before any queue.
        answered = [m for m in events_named(seen, "DialEnd") if m.get("CallerIDNum") == KEY_ACCOUNT and m.get("DialStatus") == "ANSWER"]
        assert answered and answered[0]["DestChannel"].startswith(f"Local/{MANAGER_EXTENSION}@agents-")
        assert joins == []
        assert (call["outcome"], call["queue"], call["agent_interface"]) == ("answered", None, f"Local/{MANAGER_EXTENSION}@agents")
    else:
        # Nobody tried first; key-account's only member (8109) is paused: the general queue.
        assert [m["Queue"] for m in joins] == ["hotline"]
        assert (call["outcome"], call["queue"], call["agent"]) == ("answered", "hotline", "agent-8062")


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)

"""Tickets and transfers on the real PBX: an answered call opens one ticket owned by the
`hotline` user whose extension answered (首问负责), an abandoned call opens none; a blind
transfer (the AMI BlindTransfer, as hotline/testing/traces/TRANSFERS.md recorded it)
keeps the first responder on the call and on its ticket, and shows in the call's timeline."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest

from tests.acceptance.conftest import Hotline
from tests.asterisk.lab import Lab
from tests.asterisk.service import all_ended, by_number, calls_when, summary

ANSWERED, ABANDONED = "13912345678", "08275551234"


async def add_agent_user(hotline: Hotline, name: str, extension: str) -> int:
    """A `hotline` user with role agent and this extension, through the CLI; their id."""
    await hotline.command("user", "add", name, "--role", "agent", "--extension", extension)
    database = hotline.env["HOTLINE_DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(database) as db:
        [(user_id,)] = db.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchall()
    return int(user_id)


async def tickets_when(hotline: Hotline, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """GET /api/tickets once it lists `count` tickets (and stays there a moment)."""
    tickets: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                tickets = (await hotline.get("/api/tickets?limit=500"))["tickets"]
                if len(tickets) >= count:
                    await asyncio.sleep(0.5)  # a second ticket would be a mistake: give it time
                    return (await hotline.get("/api/tickets?limit=500"))["tickets"]
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"tickets after {timeout}s: {json.dumps(tickets, ensure_ascii=False, default=str)}")


async def test_an_answered_call_opens_one_ticket_owned_by_the_agent_and_an_abandoned_call_none(lab: Lab, hotline: Hotline) -> None:
    agent_id = await add_agent_user(hotline, "坐席甲", "8031")
    await hotline.start()
    agent = await lab.add_agent("8031")
    await lab.call(ANSWERED, "张三", hold=20, talk=2)
    await lab.ami.event("AgentConnect", 15, CallerIDNum=ANSWERED)
    await lab.pause(agent)  # nobody free: the next caller waits, then gives up
    await lab.call(ABANDONED, "王五（巴中）", hold=2)

    calls = await calls_when(hotline, all_ended(2))
    assert summary(calls) == [
        (ABANDONED, "王五（巴中）", "hotline", None, "abandoned"),
        (ANSWERED, "张三", "hotline", "agent-8031", "answered"),
    ]
    answered, abandoned = by_number(calls)[ANSWERED], by_number(calls)[ABANDONED]

    [ticket] = await tickets_when(hotline, 1)
    assert ticket["caller_number"] == "+86" + ANSWERED, ticket  # stored normalised (E.164)
    assert ticket["call_id"] == answered["id"], ticket
    assert ticket["owner_user_id"] == agent_id, ticket
    # The abandoned caller has none: the one ticket is the answered call's alone (its
    # linked calls are checked below).
    assert abandoned["id"] != ticket["call_id"]

    detail = await hotline.get(f"/api/tickets/{ticket['id']}")
    assert detail["owner"] == "坐席甲", detail
    assert [c["call_id"] for c in detail["calls"]] == [answered["id"]], detail["calls"]
    deadlines = {d["kind"]: d for d in detail["deadlines"]}
    assert "forward" in deadlines, detail["deadlines"]
    assert deadlines["forward"]["state"] == "pending", deadlines["forward"]
    assert deadlines["forward"]["due_at"] and not deadlines["forward"]["breached"], deadlines["forward"]


async def test_a_blind_transfer_keeps_the_first_responder_and_shows_in_the_timeline(lab: Lab, hotline: Hotline) -> None:
    a_id = await add_agent_user(hotline, "坐席A", "8041")
    await add_agent_user(hotline, "坐席B", "8042")
    await hotline.start()
    await lab.add_agent("8041")
    b = await lab.add_agent("8042")
    await lab.pause(b)  # only A can answer; B is reached by the transfer alone
    start = len(lab.ami.messages)
    await lab.call(ANSWERED, "张三", hold=30, talk=4)
    connect = await lab.ami.event("AgentConnect", 15, start, CallerIDNum=ANSWERED)
    assert connect["MemberName"] == "agent-8041", connect
    assert connect["DestChannel"].startswith("Local/8041@agents-") and connect["DestChannel"].endswith(";1"), connect
    await asyncio.sleep(1)

    reply = await lab.ami.action("BlindTransfer", Channel=connect["DestChannel"], Exten="8042", Context="agents")
    assert reply.get("Response") == "Success", reply
    transfer = await lab.ami.event("BlindTransfer", 10, start, Result="Success")
    assert (transfer["Extension"], transfer["Context"]) == ("8042", "agents"), transfer

    [call] = await calls_when(hotline, all_ended(1), timeout=30)
    detail = await hotline.get(f"/api/calls/{call['id']}")
    dump = json.dumps(detail, ensure_ascii=False, default=str, indent=1)
    assert (detail["outcome"], detail["agent"]) == ("answered", "agent-8041"), dump
    transferred = [step for step in detail["timeline"] if step["kind"] == "transferred"]
    assert len(transferred) == 1, dump
    assert transferred[0]["kind_of_transfer"] == "blind", dump
    assert transferred[0]["to"] == "8042@agents", dump

    [ticket] = await tickets_when(hotline, 1)
    assert ticket["call_id"] == call["id"], ticket
    assert ticket["owner_user_id"] == a_id, ticket
    assert (await hotline.get(f"/api/tickets/{ticket['id']}"))["owner"] == "坐席A"

"""The 96655 dialplan shipped in asterisk-config/: the caller never waits on the routing
service (down, silent or answering nonsense, they still reach a queue, fast), and the
service's answer is followed (second instance, queue, first try).

These use a stand-in FastAGI of their own (like tools/record/record.py's), not the
service's: they prove the dialplan, not the routing rules.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from tests.asterisk.lab import CONFIG, Lab

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _budget() -> float:
    found = re.search(r"(?m)^HOTLINE_ROUTE_BUDGET\s*=\s*(\S+)", (CONFIG / "extensions.conf").read_text())
    assert found, "extensions.conf has no HOTLINE_ROUTE_BUDGET"
    return float(found.group(1))


@asynccontextmanager
async def fastagi(handler: Handler) -> AsyncIterator[int]:
    """A FastAGI server on a free port; closes every connection it took when done."""
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\n\n")
    await reader.read()  # until Asterisk gives up and closes


def answers(queue: str, **more: str) -> Handler:
    async def route(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)
        for name, value in (("HOTLINE_QUEUE", queue), ("QUEUE_PRIO", "10"), ("HOTLINE_TIER", "vip"), *more.items()):
            writer.write(f'SET VARIABLE {name} "{value}"\n'.encode())
            await writer.drain()
            await asyncio.wait_for(reader.readline(), 5)  # 200 result=1

    return route


async def _seconds_to_queue(lab: Lab, number: str, name: str) -> tuple[float, str]:
    """Place a caller; how long until they are in a queue (PBX clock), and which queue."""
    started = time.time()
    await lab.call(number, name, hold=10)
    joined = await lab.joined(number, timeout=15)
    return float(joined["Timestamp"]) - started, joined["Queue"]


async def test_with_no_routing_service_the_caller_reaches_the_default_queue_at_once(lab: Lab) -> None:
    # The lab's HOTLINE_AGI_PORT is a free port: connection refused, AGISTATUS FAILURE.
    seconds, queue = await _seconds_to_queue(lab, "13911110001", "赵六")
    assert queue == "hotline"
    assert seconds < 1.5


async def test_a_routing_service_that_never_answers_costs_the_caller_only_the_budget(lab: Lab) -> None:
    async with fastagi(never_answers) as port:
        await lab.set_global("HOTLINE_AGI_PORT", str(port))
        seconds, queue = await _seconds_to_queue(lab, "13911110002", "钱七")
    assert queue == "hotline"
    assert _budget() <= seconds < _budget() + 1


@pytest.mark.parametrize(
    ("answer", "staffed", "queue"),
    [
        ("vip", "vip", "vip"),
        ("private-network", "private-network", "private-network"),
        # Nobody who could answer in vip (its members are all paused): the general queue.
        ("vip", None, "hotline"),
        # A garbled answer cannot add Queue() options; the queue it names does not exist.
        ("vip,r,,,1", "vip", "hotline"),
    ],
    ids=["vip", "private-network", "vip-unstaffed", "garbled"],
)
async def test_the_second_instance_answers_when_the_first_is_down(lab: Lab, answer: str, staffed: str | None, queue: str) -> None:
    await lab.add_agent("8042", queue=staffed or "vip", paused=staffed is None)
    async with fastagi(answers(answer)) as port:
        await lab.set_global("HOTLINE_AGI_BACKUP", f"agi://127.0.0.1:{port}/route")
        seconds, joined = await _seconds_to_queue(lab, "13800000001", "李四（VIP）")
    assert joined == queue
    assert seconds < 1.5


async def test_the_person_named_first_is_rung_before_the_queue(lab: Lab) -> None:
    # The lab's agents are Local channels: dial HOTLINE_FIRST_TRY as Local/EXT@agents/n.
    await lab.set_global("HOTLINE_PHONE_PREFIX", "Local/")
    await lab.set_global("HOTLINE_PHONE_SUFFIX", "@agents/n")
    async with fastagi(answers("hotline", HOTLINE_FIRST_TRY="8051")) as port:
        await lab.set_global("HOTLINE_AGI_PORT", str(port))
        start = len(lab.ami.messages)
        await lab.call("13900000101", "孙八", hold=10, talk=1)
        answered = await lab.ami.event("DialEnd", 10, start, CallerIDNum="13900000101", DialStatus="ANSWER")
    assert answered["DestChannel"].startswith("Local/8051@agents-")
    await lab.until_gone("13900000101")
    assert not [m for m in lab.ami.messages[start:] if m.get("Event") == "QueueCallerJoin" and m.get("CallerIDNum") == "13900000101"]


async def test_a_first_try_nobody_answers_goes_on_to_the_queue(lab: Lab) -> None:
    await lab.set_global("HOTLINE_PHONE_PREFIX", "Local/")
    await lab.set_global("HOTLINE_PHONE_SUFFIX", "@agents/n")
    await lab.set_global("HOTLINE_FIRST_TRY_SECONDS", "1")
    async with fastagi(answers("hotline", HOTLINE_FIRST_TRY="8099")) as port:  # rings, never answers
        await lab.set_global("HOTLINE_AGI_PORT", str(port))
        start = len(lab.ami.messages)
        await lab.call("13900000202", "钱七", hold=10)
        joined = await lab.joined("13900000202")
    rang = await lab.ami.event("DialEnd", 1, start, CallerIDNum="13900000202")
    assert rang["DialStatus"] == "NOANSWER" and rang["DestChannel"].startswith("Local/8099@agents-")
    assert joined["Queue"] == "hotline"

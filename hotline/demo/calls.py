"""The demo's callers: a steady mix of calls to 96655 made from the real Asterisk 22
recordings (hotline/testing/traces), as the PBX would send them today.

Each call first asks the service's routing over FastAGI, exactly as the dialplan's
`AGI(agi://.../route)` does (the agi_* header block of fastagi-callers.agi, then
`200 result=1` to each SET VARIABLE), and is then played on AMI from the recording of its
kind, with a demo customer's number and name, fresh Uniqueids and Linkedids (so no two
calls share one, across restarts too), every event stamped with the clock's now when it
is sent, and the recorded gaps between events kept (in real seconds: with an accelerated
clock a 10 s call lasts 10 min of demo time).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from hotline.clock import Clock
from hotline.testing.transcripts import headers, recorded_events

log = structlog.get_logger(__name__)

_ID = re.compile(rb"\b17955\d{5}\.\d+\b")  # the recordings' Uniqueids and Linkedids (epoch.sequence)
_STAMP = re.compile(rb"\r\nTimestamp: [0-9.]+\r\n")


@dataclass(frozen=True, slots=True)
class Scenario:
    """One kind of call: the recording it is made from, and its caller as recorded."""

    kind: str
    transcript: str
    number: bytes
    name: bytes
    weight: int
    queue: str | None = None  # the routing answer it needs (vip: only VIP callers)


SCENARIOS = (
    Scenario("answered", "answered-regular", b"13912345678", b"Zhang San", 5),
    Scenario("vip", "answered-vip", b"13800000001", b"VIP Li Si", 2, queue="vip"),
    Scenario("abandoned", "abandoned-in-queue", b"08275551234", b"Wang Wu", 2),
    Scenario("agent_no_answer", "agent-no-answer-then-answer", b"13711112222", b"Zhao Liu", 1),
    Scenario("blind_transfer", "blind-transfer", b"13912345678", b"Zhang San", 1),
    Scenario("attended_transfer", "attended-transfer", b"13912345678", b"Zhang San", 1),
)


@dataclass(frozen=True, slots=True)
class Caller:
    number: str
    name: str
    vip: bool = False


class Ids:
    """Fresh Uniqueids for each call: the clock's second, then a sequence that starts at a
    random point (two runs of the demo on one database never make the same id)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._sequence = itertools.count(random.randrange(10**6, 10**9))

    def renamer(self) -> Callable[[re.Match[bytes]], bytes]:
        seen: dict[bytes, bytes] = {}
        epoch = int(self.clock.now().timestamp())

        def rename(found: re.Match[bytes]) -> bytes:
            old = found.group(0)
            if old not in seen:
                seen[old] = f"{epoch}.{next(self._sequence)}".encode()
            return seen[old]

        return rename


def call_events(scenario: Scenario, caller: Caller, ids: Ids, queue: str | None = None) -> list[tuple[float, bytes]]:
    """(seconds after the call's first event, the event) for one new call of this kind, in
    `queue` (the routing's answer) instead of the recorded hotline queue when given."""
    events = recorded_events(scenario.transcript)
    stamps = [float(headers(e).get("Timestamp", "0") or 0) for e in events]
    first = next((s for s in stamps if s), 0.0)
    rename = ids.renamer()
    made = []
    for event, stamp in zip(events, stamps, strict=True):
        event = event.replace(scenario.number, caller.number.encode()).replace(scenario.name, caller.name.encode())
        if queue is not None and scenario.queue is None:
            event = event.replace(b"\r\nQueue: hotline\r\n", f"\r\nQueue: {queue}\r\n".encode())
        made.append((max(0.0, stamp - first) if stamp else 0.0, _ID.sub(rename, event)))
    return made


def stamped(event: bytes, at: float) -> bytes:
    """The event with its Timestamp set to `at` (epoch seconds)."""
    return _STAMP.sub(f"\r\nTimestamp: {at:.6f}\r\n".encode(), event, count=1)


async def ask_route(host: str, port: int, caller: Caller, uniqueid: str, *, timeout: float = 2.0) -> dict[str, str]:
    """What the routing service sets for this caller, asked over FastAGI as Asterisk asks:
    {variable: value}; empty when it does not answer (the dialplan's default route)."""
    header = {
        "agi_network": "yes", "agi_network_script": "route", "agi_request": f"agi://{host}:{port}/route",
        "agi_channel": "Local/96655@hotline-in-00000001;2", "agi_language": "en", "agi_type": "Local",
        "agi_uniqueid": uniqueid, "agi_version": "22.10.1", "agi_callerid": caller.number, "agi_calleridname": caller.name,
        "agi_callingpres": "0", "agi_callingani2": "0", "agi_callington": "0", "agi_callingtns": "0", "agi_dnid": "unknown",
        "agi_rdnis": "unknown", "agi_context": "hotline-in", "agi_extension": "96655", "agi_priority": "3",
        "agi_enhanced": "0.0", "agi_accountcode": "", "agi_threadid": "1",
    }  # fmt: skip
    variables: dict[str, str] = {}
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return variables
    try:
        writer.write("".join(f"{k}: {v}\n" for k, v in header.items()).encode() + b"\n")
        await writer.drain()
        while line := await asyncio.wait_for(reader.readline(), timeout):
            command = line.decode("utf-8", "replace").strip()
            variables |= _variables_set(command)
            # What Asterisk 22 answers: SET VARIABLE 1, EXEC the application's result (Set: 0).
            writer.write(b"200 result=0\n" if command.startswith("EXEC ") else b"200 result=1\n")
            await writer.drain()
    except (OSError, TimeoutError):
        pass
    finally:
        writer.close()
    return variables


_ARRAY_SET = re.compile(r'^EXEC Set "ARRAY\(([^)]*)\)=(.*)"$')


def _variables_set(command: str) -> dict[str, str]:
    """The variables an AGI command sets: SET VARIABLE NAME "value", or the one
    EXEC Set "ARRAY(A,B)=a,b" the routing service sends."""
    if command.startswith("SET VARIABLE "):
        name, _, value = command.removeprefix("SET VARIABLE ").partition(" ")
        return {name: value.strip('"')}
    if found := _ARRAY_SET.match(command):
        return dict(zip(found[1].split(","), found[2].split(","), strict=False))
    return {}


class Callers:
    """Makes a call every `every` real seconds (a little more or less), until stopped."""

    def __init__(self, play: Callable[[list[bytes]], None], clock: Clock, customers: Sequence[Caller], *, agi: tuple[str, int], every: float = 8.0) -> None:
        self.play, self.clock, self.customers, self.agi, self.every = play, clock, list(customers), agi, every
        self.ids = Ids(clock)
        self.made: dict[str, int] = {}
        self._calls: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                self.start_one()
                try:
                    await asyncio.wait_for(stop.wait(), self.every * random.uniform(0.6, 1.4))
                except TimeoutError:
                    pass
        finally:
            for task in self._calls:
                task.cancel()
            await asyncio.gather(*self._calls, return_exceptions=True)

    def start_one(self, kind: str | None = None) -> None:
        task = asyncio.create_task(self.call(kind))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def call(self, kind: str | None = None) -> str:
        """One call from arrival to hangup; its kind."""
        caller = random.choice(self.customers)
        routed = await ask_route(*self.agi, caller, f"{int(self.clock.now().timestamp())}.{random.randrange(10**6)}")
        if kind is not None:
            scenario = next(s for s in SCENARIOS if s.kind == kind)
        elif routed.get("HOTLINE_QUEUE") == "vip":  # the routing's answer decides, as in the dialplan
            scenario = next(s for s in SCENARIOS if s.kind == "vip")
        else:
            ordinary = [s for s in SCENARIOS if s.queue is None]
            scenario = random.choices(ordinary, weights=[s.weight for s in ordinary])[0]
        self.made[scenario.kind] = self.made.get(scenario.kind, 0) + 1
        log.info("demo.call", kind=scenario.kind, queue=routed.get("HOTLINE_QUEUE"), tier=routed.get("HOTLINE_TIER"))
        await self.replay(call_events(scenario, caller, self.ids, routed.get("HOTLINE_QUEUE")))
        return scenario.kind

    async def replay(self, events: list[tuple[float, bytes]]) -> None:
        await paced(self.play, self.clock, events)


async def paced(play: Callable[[list[bytes]], None], clock: Clock, events: list[tuple[float, bytes]]) -> None:
    """Each event at its offset (real seconds) from now, stamped with the clock's now."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    for after, event in events:
        if (wait := began + after - loop.time()) > 0:
            await asyncio.sleep(wait)
        play([stamped(event, clock.now().timestamp())])

"""Screen-pop latency benchmark: bursts of calls ring 200 agents connected over WebSockets;
prints p50/p99/max from the PBX writing the AMI event to the pop read by the agent's browser.

    .venv/bin/python bench/pops.py [--agents 200] [--calls 200] [--rounds 2] [--spread 20]
        [--talk 3] [--no-burst] [--burst-spread 0] [--supervisors 2] [--postgres URL]
        [--pops live|after-store] [--tickets inline|background]

Target (issue 5, "Screen pops"): p99 under 20 ms from the AgentCalled event reaching the
service to the ringing pop at the agent's WebSocket, with 200 agents connected and a burst of
calls. Judged here end to end, t2-t0 below, in every round: the paced rounds (--calls calls
arriving evenly over --spread seconds, 200 in 20 s, each ringing its own agent ROUTING
seconds after it arrives, answered --talk seconds later) and the burst round (all its calls
arriving within --burst-spread seconds, 0 = the same instant, and all their rings as close
together a second later). The verdict says which rounds missed. With the default --talk 3
the burst's answers all come after its rings; `--rounds 0 --burst-spread 1 --talk 0.3`
makes early calls' answers (and the tickets they open) land among later calls' rings.

The service's parts run in this process, wired as hotline/app.py wires them: SQLite in a
temporary folder or a fresh PostgreSQL database (--postgres, created and dropped here),
migrated; CallStore, CallCapture, the AMI client, the hub, screen pops, the feed, the ticket
service and the deadline scheduler on the bus (pops and feed first, pops hearing call events
on the capture's live bus); aiohttp on a real port.
Two other processes: the PBX double (so its writes go out on time even while the service's
loop is busy, and a backlog in the AMI socket counts) and the browsers: the agents and the
supervisors, who get every `call` message. Each call is answered-regular.ami with its ids,
caller, name and agent rewritten; every caller is in the directory (a fifth VIP). Round 1
leaves each caller an open ticket and a call: later rounds' pops carry them, and their answers
link to the open ticket.

t0 is when the PBX double wrote the AgentCalled to its TCP socket, t1 when the hub finished
writing the pop to the agent's socket (Hub.on_sent), t2 when the browser process read it;
tf, for comparison, is when the service's AMI client framed the AgentCalled (t0 to tf is the
time the event waited in the AMI socket for a busy loop). time.perf_counter is
CLOCK_MONOTONIC on Linux: one clock for the three processes. `talking` is measured the same
way from AgentConnect. Memory: resident size before and after the sockets connect, and what
Python allocated while they did (tracemalloc, on for that phase only).

Two what-ifs, off by default, show where the time goes: --pops after-store gives the pops
each call event only after the capture stored its batch (as first wired: a burst's rings
then all wait for the batch's transaction); --tickets background runs the ticket service's
on_call_answered in a task of its own instead of inline in the capture.

Over ~400 lines: three processes, their wiring and the report read best in one file.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from aiohttp import web  # noqa: E402

from hotline.ami.client import AmiClient  # noqa: E402
from hotline.ami.framing import Message  # noqa: E402
from hotline.ami.tracker import CallTracker  # noqa: E402
from hotline.calls.capture import CallCapture  # noqa: E402
from hotline.calls.store import CallStore  # noqa: E402
from hotline.clock import SystemClock  # noqa: E402
from hotline.config import AmiSettings  # noqa: E402
from hotline.console.feed import ConsoleFeed  # noqa: E402
from hotline.console.hub import Hub  # noqa: E402
from hotline.console.pops import ScreenPops  # noqa: E402
from hotline.db.engine import create_engine  # noqa: E402
from hotline.db.migrate import upgrade  # noqa: E402
from hotline.events import CallAnswered, CallEvent, EventBus  # noqa: E402
from hotline.logs import configure_logging  # noqa: E402
from hotline.metrics import Metrics  # noqa: E402
from hotline.routing.customers import CustomerDraft, PhoneNumber  # noqa: E402
from hotline.routing.directory import CustomerDirectory  # noqa: E402
from hotline.testing.pbx import PbxDouble  # noqa: E402
from hotline.testing.transcripts import headers, recorded_events, retimed  # noqa: E402
from hotline.tickets.events import TicketChanged, TicketOpened  # noqa: E402
from hotline.tickets.scheduler import DeadlineScheduler  # noqa: E402
from hotline.tickets.service import TicketService  # noqa: E402
from hotline.users.store import Role, User, UserStore  # noqa: E402
from hotline.web.app import USER  # noqa: E402
from hotline.web.ws import add_ws_routes  # noqa: E402

TARGET_MS = 20.0
ROUTING = 1.0  # seconds from a call's arrival to its first ring: the routing's AGI, the queue
FIRST_EXTENSION = 8100
_IDS = re.compile(rb"((?:Uniqueid|UniqueID|Linkedid): )1795532957\.(\d{1,3})\r\n")
_SEQUENCE = re.compile(rb"-0000000([01]);")
_AGENT = re.compile(rb"(?<![0-9.])8001(?![0-9])")


class TimedPbx(PbxDouble):
    """The PBX double (in its own process), noting when it wrote each AgentCalled /
    AgentConnect to the socket: t0."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.written: dict[tuple[str, str], float] = {}

    async def _broadcast(self, data: bytes) -> None:
        if data.startswith((b"Event: AgentCalled\r\n", b"Event: AgentConnect\r\n")):
            fields = headers(data)
            self.written.setdefault((fields.get("Linkedid", ""), fields["Event"]), time.perf_counter())
        await super()._broadcast(data)


class TimedAmiClient(AmiClient):
    """The service's AMI client, noting when each AgentCalled / AgentConnect was framed: tf."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.t0: dict[tuple[str, str], float] = {}

    def on_event(self, message: Message) -> None:
        event = message.get("Event")
        if event == "AgentCalled" or event == "AgentConnect":
            self.t0.setdefault((message.get("Linkedid", ""), event), time.perf_counter())
        super().on_event(message)


@dataclass
class Call:
    call_id: str
    agent_user_id: int
    arrive: list[bytes]
    ring: list[bytes]
    rest: list[bytes]


@dataclass
class Sent:
    """What the hub wrote: (user, call, stage, with ticket) -> when, and any repeat."""

    at: dict[tuple[int, str, str, bool], float] = field(default_factory=dict)
    repeats: Counter[tuple[int, str, str, bool]] = field(default_factory=Counter)

    def __call__(self, user_id: int, message: Any, when: float) -> None:
        if message["type"] == "pop":
            key = (user_id, message["call_id"], message["stage"], message["ticket"] is not None)
            if key in self.at:
                self.repeats[key] += 1
            self.at.setdefault(key, when)


def one_call(template: list[bytes], number: int, extension: int, agent_user_id: int, round_: int) -> Call:
    """answered-regular.ami as call `number` of a round: new ids, caller, name and agent."""
    epoch = 1_800_000_000 + round_ * 100_000 + number
    caller = f"13900{number:06d}"  # the same caller every round: round 2 finds round 1's
    events = []
    for event in template:
        event = _IDS.sub(lambda m: m.group(1) + f"{epoch}.".encode() + m.group(2) + b"\r\n", event)
        event = _SEQUENCE.sub(lambda m: f"-{2 * number + int(m.group(1)) + 0x1000:08x};".encode(), event)
        event = _AGENT.sub(str(extension).encode(), event)
        event = event.replace(b"13912345678", caller.encode()).replace(b"Zhang San", f"客户{number:03d}".encode())
        events.append(event)
    called = next(i for i, e in enumerate(events) if e.startswith(b"Event: AgentCalled"))
    return Call(f"{epoch}.0", agent_user_id, events[:called], events[called : called + 1], events[called + 1 :])


def calls_of_round(agents: list[User], count: int, round_: int) -> list[Call]:
    template = retimed(recorded_events("answered-regular"), time.time())
    return [one_call(template, n, int(agents[n % len(agents)].extension or 0), agents[n % len(agents)].id, round_) for n in range(count)]


async def seed(engine: Any, directory: CustomerDirectory, args: argparse.Namespace) -> tuple[list[User], list[User], dict[str, User]]:
    """Agents with extensions, supervisors, and a directory customer for every caller."""
    store = UserStore(engine)
    tokens: dict[str, User] = {}
    agents, supervisors = [], []
    for n in range(args.agents):
        user, token = await store.add(f"agent{FIRST_EXTENSION + n}", "agent", extension=str(FIRST_EXTENSION + n))
        tokens[token] = User(user.id, user.name, Role.AGENT, extension=str(FIRST_EXTENSION + n))
        agents.append(tokens[token])
    for n in range(args.supervisors):
        user, token = await store.add(f"值班长{n}", "supervisor")
        tokens[token] = user
        supervisors.append(user)
    for n in range(args.calls):
        tier = "vip" if n % 5 == 0 else "regular"
        manager = agents[0].id if tier == "vip" else None
        await directory.create(CustomerDraft(f"客户{n:03d}", tier, "urban", [PhoneNumber(f"13900{n:06d}")], account_manager_id=manager, notes="巴中分公司 专线"))
    return agents, supervisors, tokens


def in_background(handler: Any) -> Any:
    """--tickets background: the bus hands the answer to a task and the capture goes on."""
    running: set[asyncio.Task[None]] = set()

    async def spawn(event: Any) -> None:
        task = asyncio.create_task(handler(event))
        running.add(task)
        task.add_done_callback(running.discard)

    return spawn


def web_app(hub: Hub, pops: ScreenPops, feed: ConsoleFeed, tokens: dict[str, User]) -> web.Application:
    @web.middleware
    async def bearer(request: web.Request, handler: Any) -> web.StreamResponse:
        _, _, token = request.headers.get("Authorization", "").partition(" ")
        if token in tokens:
            request[USER] = tokens[token]
        return await handler(request)

    app = web.Application(middlewares=[bearer])
    add_ws_routes(app, hub, hello=[pops.hello, feed.hello])
    return app


def timeline(calls: list[Call], spread: float, talk: float) -> list[tuple[float, list[bytes]]]:
    """Call k arrives at k x spread / calls, its agent's phone rings ROUTING seconds later, it
    is answered (and hung up) `talk` seconds after that; spread 0 is everything at once. A
    ring and an answer fall between two arrivals, not on one (the recorded calls' timing)."""
    gap = spread / len(calls)
    parts = sorted(
        (offset, n, part)
        for n, call in enumerate(calls)
        for offset, part in ((gap * n, call.arrive), (gap * (n + 0.5) + ROUTING, call.ring), (gap * (n + 0.25) + ROUTING + talk, call.rest))
    )
    return [(offset, part) for offset, _, part in parts]


async def play_round(pbx: Connection, client: TimedAmiClient, sent: Sent, calls: list[Call], spread: float, talk: float) -> dict[tuple[str, str], float]:
    """The PBX process plays the round on its own clock; returns when it wrote each ring and
    answer (t0), once every call's `ended` pop has left."""
    pbx.send(timeline(calls, spread, talk))
    written: dict[tuple[str, str], float] = await asyncio.to_thread(pbx.recv)
    await until(client.queue.empty, 60)
    await until(lambda: all((c.agent_user_id, c.call_id, "ended", True) in sent.at for c in calls), 120)
    return written


async def until(condition: Any, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def run_pbx(pipe: Connection) -> None:
    """The PBX double in a process of its own: plays each round's timeline as it comes."""
    asyncio.run(_pbx(pipe))


async def _pbx(pipe: Connection) -> None:
    pbx = TimedPbx(secret="bench")
    pipe.send(await pbx.start())
    while (parts := await asyncio.to_thread(pipe.recv)) is not None:
        start = time.perf_counter()
        for offset, part in parts:
            if (wait := start + offset - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            pbx.play(part)
        await pbx.wait_sent(120)
        pipe.send(pbx.written)
    await pbx.stop()


def run_clients(port: int, users: list[tuple[int, str]], pipe: Connection) -> None:
    """The browsers, in a process of their own: connect, read, note when each pop came."""
    asyncio.run(_clients(port, users, pipe))


async def _clients(port: int, users: list[tuple[int, str]], pipe: Connection) -> None:
    import json

    received: list[tuple[int, str, str, bool, float]] = []

    async def read(user_id: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            when = time.perf_counter()
            if frame.type is aiohttp.WSMsgType.TEXT and frame.data.startswith('{"type": "pop"'):
                message = json.loads(frame.data)
                received.append((user_id, message["call_id"], message["stage"], message["ticket"] is not None, when))

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = [(user_id, await session.ws_connect(f"http://127.0.0.1:{port}/ws", headers={"Authorization": f"Bearer {token}"}, compress=0)) for user_id, token in users]
        readers = [asyncio.create_task(read(user_id, ws)) for user_id, ws in sockets]
        await asyncio.to_thread(pipe.recv)  # "stop"
        for _, ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    pipe.send((received, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def spawn(target: Any, name: str, *args: Any) -> tuple[multiprocessing.process.BaseProcess, Connection]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=target, args=(*args, theirs), name=name)
    process.start()
    return process, ours


@dataclass
class Service:
    engine: Any
    hub: Hub
    pops: ScreenPops
    feed: ConsoleFeed
    client: TimedAmiClient
    sent: Sent
    stop: asyncio.Event
    tasks: dict[str, asyncio.Task[None]]
    runner: web.AppRunner

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.tasks["ami"], 10)
        self.client.queue.put_nowait(None)
        await asyncio.wait_for(self.tasks["capture"], 60)
        await asyncio.wait_for(self.tasks["deadlines"], 30)
        await self.pops.aclose()
        await self.feed.aclose()
        await self.runner.cleanup()
        await self.engine.dispose()


async def start(args: argparse.Namespace, engine: Any, directory: CustomerDirectory, tokens: dict[str, User], pbx_port: int) -> Service:
    """The service's parts, wired as hotline/app.py wires them (or as a what-if asks)."""
    clock, bus, early, store, sent = SystemClock(), EventBus(), EventBus(), CallStore(engine), Sent()
    hub = Hub(clock, on_sent=sent)
    pops, feed = ScreenPops(hub, engine, directory, store), ConsoleFeed(hub, engine, store)
    pops.subscribe(bus, calls_from=early if args.pops == "live" else None)
    feed.subscribe(bus)
    tickets = TicketService(engine, bus, clock, directory=directory)
    bus.subscribe(CallAnswered, tickets.on_call_answered if args.tickets == "inline" else in_background(tickets.on_call_answered))
    deadlines = DeadlineScheduler(engine, bus, clock, metrics=Metrics())

    async def wake_scheduler(_: Any) -> None:
        deadlines.notify()

    bus.subscribe(TicketOpened, wake_scheduler)
    bus.subscribe(TicketChanged, wake_scheduler)
    client = TimedAmiClient(AmiSettings(host="127.0.0.1", port=pbx_port, secret="bench"), Metrics())
    tracker = CallTracker({"96655"})
    capture = CallCapture(tracker, store, bus, Metrics(), live=early if args.pops == "live" else None)
    stop = asyncio.Event()
    tasks = {"ami": client.run(stop), "capture": capture.run(client.queue), "deadlines": deadlines.run(stop)}
    runner = web.AppRunner(web_app(hub, pops, feed, tokens), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return Service(engine, hub, pops, feed, client, sent, stop, {name: asyncio.create_task(work, name=name) for name, work in tasks.items()}, runner)


async def fresh_postgres(server: str) -> str:
    """A new database on the server of `server` (a URL): its asyncpg URL."""
    admin = server.replace("+asyncpg", "")
    name = f"hotline_bench_pops_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlsplit(admin)._replace(scheme="postgresql+asyncpg", path=f"/{name}").geturl()


async def drop_postgres(server: str, url: str) -> None:
    conn = await asyncpg.connect(server.replace("+asyncpg", ""))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await conn.close()


async def run(args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    url = await fresh_postgres(args.postgres) if args.postgres else f"sqlite+aiosqlite:///{tmp}/bench.db"
    pbx_process, pbx = spawn(run_pbx, "pop-pbx")
    try:
        await upgrade(url)
        engine = create_engine(url)
        directory = CustomerDirectory(engine)
        agents, supervisors, tokens = await seed(engine, directory, args)
        service = await start(args, engine, directory, tokens, await asyncio.to_thread(pbx.recv))
        try:
            return await measure(args, service, pbx, agents, supervisors, tokens)
        finally:
            await service.close()
    finally:
        pbx.send(None)
        pbx_process.join(10)
        if args.postgres:
            await drop_postgres(args.postgres, url)


async def measure(args: argparse.Namespace, service: Service, pbx: Connection, agents: list[User], supervisors: list[User], tokens: dict[str, User]) -> dict[str, Any]:
    await until(lambda: service.client.connected, 60)
    before = rss_mb()[0]
    tracemalloc.start()  # the connecting phase only: it slows every allocation
    process, clients = spawn(run_clients, "pop-clients", service.runner.addresses[0][1], [(u.id, t) for t, u in tokens.items()])
    try:
        await until(lambda: service.hub.count() == len(tokens), 60)
        await asyncio.sleep(0.5)  # the hellos written
        traced = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
        memory = {"before": before, "after": rss_mb()[0], "traced": traced}
        rounds, t0 = [], {}
        for round_, (label, spread) in enumerate(spreads(args)):
            calls = calls_of_round(agents, args.calls, round_)
            t0.update(await play_round(pbx, service.client, service.sent, calls, spread, args.talk))
            rounds.append((label, spread, calls))
        await asyncio.sleep(0.5)
        clients.send("stop")  # the clients close their sockets, then send what they read
        received, client_peak = await asyncio.to_thread(clients.recv)
    finally:
        process.join(10)
    return {"rounds": rounds, "sent": service.sent, "t0": t0, "tf": service.client.t0, "received": received, "client_peak": client_peak, "agents": agents, "supervisors": supervisors, "rss": rss_mb(), "memory": memory, "clients": len(tokens)}


def spreads(args: argparse.Namespace) -> list[tuple[str, float]]:
    """Each round's label and spread: the paced rounds, then the burst."""
    return [("paced", args.spread)] * args.rounds + ([("burst", args.burst_spread)] if args.burst else [])


def rss_mb() -> tuple[float, float]:
    """(now, peak) resident memory of this process in MB."""
    with open("/proc/self/status") as status:
        now = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return now / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def p99(values: list[float]) -> float:
    """Nearest rank: the value 99 % of the samples are at or under."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-99 * len(ordered) // 100) - 1))] if ordered else float("inf")


def figures(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    return f"{name}: p50 {statistics.median(values):7.2f} ms   p99 {p99(values):7.2f} ms   max {max(values):7.2f} ms   (n={len(values)})"


def report(result: dict[str, Any]) -> bool:
    sent, t0, tf = result["sent"], result["t0"], result["tf"]
    received: dict[tuple[int, str, str, bool], list[float]] = {}
    for user_id, call_id, stage, with_ticket, when in result["received"]:
        received.setdefault((user_id, call_id, stage, with_ticket), []).append(when)
    missed: list[str] = []
    for number, (label, spread, calls) in enumerate(result["rounds"], 1):
        print(f"round {number} ({label}): {len(calls)} calls " + (f"arriving over {spread:g} s" if spread else "arriving at the same instant, their rings too"))
        for stage, event in (("ringing", "AgentCalled"), ("talking", "AgentConnect")):
            keys = [((c.agent_user_id, c.call_id, stage, False), t0.get((c.call_id, event)), tf.get((c.call_id, event))) for c in calls]
            t1 = [(sent.at[k] - start) * 1000 for k, start, _ in keys if k in sent.at and start is not None]
            t2 = [(received[k][0] - start) * 1000 for k, start, _ in keys if k in received and start is not None]
            t2f = [(received[k][0] - framed) * 1000 for k, _, framed in keys if k in received and framed is not None]
            print(f"  {stage:8} pop  " + figures("t1-t0 (PBX wrote -> hub wrote)  ", t1))
            print(f"  {stage:8} pop  " + figures("t2-t0 (PBX wrote -> client read)", t2))
            print(f"  {stage:8} pop  " + figures("t2-tf (service framed -> read)  ", t2f))
            if stage == "ringing" and (len(t2) < len(calls) or p99(t2) >= TARGET_MS):
                missed.append(f"round {number} ({label})")
    delivered = check_delivery(result, received)
    memory, (now, peak) = result["memory"], result["rss"]
    sockets = result["clients"]
    print(f"memory: server RSS {memory['before']:.0f} MB before the {sockets} sockets, {memory['after']:.0f} MB with them (+{(memory['after'] - memory['before']) * 1024 / sockets:.0f} KB a socket); Python allocated {memory['traced']:.1f} MB while they connected (tracemalloc, {memory['traced'] * 1024 / sockets:.0f} KB a socket)")
    print(f"        server RSS {now:.0f} MB at the end, {peak:.0f} MB peak; client process peak {result['client_peak']:.0f} MB")
    met = delivered and not missed
    print(f"target: ringing pop p99 (t2-t0) < {TARGET_MS:.0f} ms in every round, burst included, every pop once to the right agent: " + ("met" if met else "MISSED" + (f" in {', '.join(missed)}" if missed else "") + ("" if delivered else "; delivery wrong")))
    return met


def check_delivery(result: dict[str, Any], received: dict[tuple[int, str, str, bool], list[float]]) -> bool:
    """Every call's agent read its ringing pop once and its talking pop once, the call's last
    pop it read was `ended` with the ticket, no pop came twice, and none reached anyone else."""
    owner = {c.call_id: c.agent_user_id for _, _, calls in result["rounds"] for c in calls}
    last: dict[str, tuple[float, str, bool]] = {}
    for (_, call_id, stage, ticket), times in received.items():
        last[call_id] = max(last.get(call_id, (0.0, "", False)), (max(times), stage, ticket))
    wrong = [k for k in received if owner.get(k[1]) != k[0]]
    twice = [k for k, times in received.items() if len(times) > 1]
    missing = [c for c, user in owner.items() if (user, c, "ringing", False) not in received or (user, c, "talking", False) not in received]
    unsettled = [c for c in owner if last.get(c, (0.0, "", False))[1:] != ("ended", True)]
    pops = sum(len(v) for v in received.values())
    print(f"pops: {pops} read by {result['clients']} sockets ({len(result['agents'])} agents, {len(result['supervisors'])} supervisors); hub wrote {len(result['sent'].at) + sum(result['sent'].repeats.values())}")
    print(f"  calls without their ringing or talking pop: {len(missing)}; not settled as ended with the ticket: {len(unsettled)}; pops twice: {len(twice)}; to a wrong user: {len(wrong)}")
    return not (missing or unsettled or twice or wrong)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--calls", type=int, default=200, help="calls per round, each ringing the next agent")
    parser.add_argument("--rounds", type=int, default=2, help="paced rounds (round 2 on finds round 1's tickets and calls)")
    parser.add_argument("--spread", type=float, default=20.0, help="seconds over which a paced round's calls arrive")
    parser.add_argument("--talk", type=float, default=3.0, help="seconds from a ring to the answer")
    parser.add_argument("--no-burst", dest="burst", action="store_false", help="skip the last round, the burst")
    parser.add_argument("--burst-spread", type=float, default=0.0, help="seconds over which the burst's calls arrive (0: the same instant)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to create (and drop) a fresh database on, e.g. postgresql://postgres@127.0.0.1:5432/test (default: SQLite)")
    parser.add_argument("--supervisors", type=int, default=2)
    parser.add_argument("--pops", choices=("live", "after-store"), default="live", help="pops hear call events on the capture's live bus once tracked (as wired), or (a what-if, the earlier wiring) on the bus after the batch is stored")
    parser.add_argument("--tickets", choices=("inline", "background"), default="inline", help="the ticket service on the capture's path, as hotline/app.py wires it (inline), or in a task of its own")
    args = parser.parse_args()
    configure_logging(format="json", level="info", stream=open(os.devnull, "w"))  # noqa: SIM115
    database = f"PostgreSQL at {urlsplit(args.postgres).netloc}" if args.postgres else "SQLite"
    print(f"{args.agents} agents + {args.supervisors} supervisors on WebSockets from a separate process; PBX double in its own process; {args.calls} calls a round; {database}; pops {args.pops}; tickets opened {args.tickets}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args, tmp))
    met = report(result)
    print(f"machine: load average {os.getloadavg()[0]:.2f} at the end (other processes on these {os.cpu_count()} CPUs take the service's time too)")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()

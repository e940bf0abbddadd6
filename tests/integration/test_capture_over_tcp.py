"""The whole capture path over real TCP: the PBX double replays Asterisk 22's transcripts
(cut, dropped, garbled), the AMI client reads them, the capture task stores the calls."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.client import AmiClient
from hotline.ami.tracker import CallTracker
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.config import AmiSettings
from hotline.events import EventBus
from hotline.metrics import Metrics
from hotline.testing.pbx import PbxDouble
from hotline.testing.transcripts import recorded_events
from tests.expected import EXPECTED_CALLS

FAST = dict(ping_interval=0.2, ping_timeout=0.5, reconnect_min=0.02, reconnect_max=0.1, connect_timeout=1.0)


@dataclass
class Service:
    pbx: PbxDouble
    client: AmiClient
    store: CallStore
    metrics: Metrics
    stop: asyncio.Event

    async def calls(self) -> list[tuple[str | None, ...]]:
        rows = await self.store.list_calls(limit=1000)
        return sorted(((r["caller_number"], r["caller_name"], r["queue"], r["agent"], r["outcome"]) for r in rows), key=lambda row: tuple(x or "" for x in row))


async def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def settle(service: Service, expected_calls: int, timeout: float = 10.0) -> None:
    """Until the double has played everything and every played call is stored and ended."""
    await service.pbx.wait_sent(timeout)
    async with asyncio.timeout(timeout):
        while True:
            rows = await service.store.list_calls(limit=1000)
            if len(rows) >= expected_calls and all(r["state"] == "ended" for r in rows) and service.client.queue.empty():
                return
            await asyncio.sleep(0.02)


@pytest.fixture
async def service(engine: AsyncEngine) -> AsyncIterator[Service]:
    pbx = PbxDouble(secret="s3cret")
    port = await pbx.start()
    metrics = Metrics()
    client = AmiClient(AmiSettings(host="127.0.0.1", port=port, username="hotline", secret="s3cret", **FAST), metrics)
    store = CallStore(engine)
    capture = CallCapture(CallTracker({"96655"}), store, EventBus(), metrics)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client.run(stop)), asyncio.create_task(capture.run(client.queue))]
    await wait_until(lambda: client.connected)
    yield Service(pbx, client, store, metrics, stop)
    stop.set()
    await asyncio.wait_for(tasks[0], 5)
    tasks[1].cancel()
    await asyncio.gather(tasks[1], return_exceptions=True)
    await pbx.stop()


def _expected(name: str) -> list[tuple[str | None, ...]]:
    return sorted(EXPECTED_CALLS[name], key=lambda row: tuple(x or "" for x in row))


CALL_TRANSCRIPTS = sorted(name for name, calls in EXPECTED_CALLS.items() if calls)


@pytest.mark.parametrize("name", CALL_TRANSCRIPTS)
async def test_transcript_over_tcp_gives_the_calls_its_readme_describes(service: Service, name: str) -> None:
    rng = random.Random(name)
    service.pbx.chunking = lambda data: _random_pieces(data, rng)
    service.pbx.play(recorded_events(name))
    await settle(service, len(EXPECTED_CALLS[name]))
    assert await service.calls() == _expected(name)


async def test_byte_by_byte_keeps_chinese_names_intact(service: Service) -> None:
    service.pbx.chunking = lambda data: [data[i : i + 1] for i in range(len(data))]
    service.pbx.play(recorded_events("chinese-names"))
    await settle(service, 2, timeout=30)
    assert await service.calls() == _expected("chinese-names")


def _cut_points(name: str) -> dict[str, int]:
    """Byte offsets in the played stream: inside a Chinese character, inside a line, between
    the two CRLFs that end a message, and just after AgentConnect (mid-call)."""
    stream = b"".join(recorded_events(name))
    connect = stream.index(b"Event: AgentConnect")
    return {
        "inside a UTF-8 character": stream.index("张三".encode()) + 1,
        "inside a line": stream.index(b"Event: QueueCallerJoin") + 9,
        "between the two CRLFs": stream.index(b"\r\n\r\n", connect) + 2,
        "mid-call": stream.index(b"\r\n\r\n", connect) + 4,
    }


@pytest.mark.parametrize("where", list(_cut_points("chinese-names")))
@pytest.mark.parametrize("lose", [0, 5])
async def test_cut_anywhere_then_reconnect_gives_the_same_calls(service: Service, where: str, lose: int) -> None:
    service.pbx.cut_after(_cut_points("chinese-names")[where], lose=lose)
    service.pbx.play(recorded_events("chinese-names"))
    await settle(service, 2)
    assert await service.calls() == _expected("chinese-names")
    assert service.pbx.logins == 2
    assert service.metrics.counters["hotline_ami_resyncs_total"] == 2


@pytest.mark.parametrize("seed", range(6))
async def test_random_cuts_give_the_same_calls_as_an_unbroken_run(service: Service, seed: int) -> None:
    rng = random.Random(seed)
    events = recorded_events("fastagi-callers")
    total = sum(len(e) for e in events)
    for offset in sorted(rng.sample(range(1, total), 2)):
        service.pbx.cut_after(offset, lose=rng.randrange(0, 4))
    service.pbx.play(events)
    await settle(service, 5, timeout=15)
    assert await service.calls() == _expected("fastagi-callers")


async def test_connection_dropped_mid_call_and_restored(service: Service) -> None:
    events = recorded_events("answered-regular")
    connect = next(i for i, e in enumerate(events) if e.startswith(b"Event: AgentConnect"))
    service.pbx.play(events[: connect + 1])
    await service.pbx.wait_sent()
    await wait_until(lambda: service.client.queue.empty())
    service.pbx.drop_connections()
    service.pbx.play(events[connect + 1 :])
    await settle(service, 1)
    assert await service.calls() == _expected("answered-regular")
    assert service.metrics.counters["hotline_ami_reconnects_total"] >= 1


async def test_garbage_frames_are_skipped_and_the_calls_go_on(service: Service) -> None:
    events = recorded_events("answered-vip")
    service.pbx.play(events[:10])
    service.pbx.send_garbage(b"\xff\xfe\xfd not utf-8\r\n\r\nthis line has no colon\r\n\r\n")
    service.pbx.play(events[10:])
    await settle(service, 1)
    assert await service.calls() == _expected("answered-vip")
    assert service.metrics.counters["hotline_ami_malformed_frames_total"] == 2
    assert service.pbx.logins == 1


async def test_keepalive_pings_and_reads_the_pong(service: Service) -> None:
    await wait_until(lambda: sum(a.get("Action", "").lower() == "ping" for a in service.pbx.actions) >= 3, timeout=3)
    assert service.client.connected
    assert service.pbx.logins == 1


async def test_wrong_secret_is_refused_retried_with_back_off_and_logged(engine: AsyncEngine, capsys: pytest.CaptureFixture[str]) -> None:
    pbx = PbxDouble(secret="right")
    port = await pbx.start()
    client = AmiClient(AmiSettings(host="127.0.0.1", port=port, secret="wrong", **FAST), Metrics())
    stop = asyncio.Event()
    task = asyncio.create_task(client.run(stop))
    await wait_until(lambda: pbx.failed_logins >= 3)
    stop.set()
    await asyncio.wait_for(task, 5)
    await pbx.stop()
    assert not client.connected and pbx.logins == 0
    assert all(a.get("Secret") in (None, "********") for a in pbx.actions)


async def test_a_half_open_link_is_noticed_by_the_keepalive_and_reconnected() -> None:
    """A peer that logs us in and then never answers again, as a dead NAT would."""
    connections = 0

    async def silent_pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        login = await reader.readuntil(b"\r\n\r\n")
        action_id = next(line.split(b": ", 1)[1] for line in login.split(b"\r\n") if line.lower().startswith(b"actionid"))
        writer.write(b"Response: Success\r\nActionID: " + action_id + b"\r\nMessage: Authentication accepted\r\n\r\n")
        await reader.read()  # never answers CoreShowChannels or Ping
        writer.close()

    server = await asyncio.start_server(silent_pbx, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AmiClient(AmiSettings(host="127.0.0.1", port=port, secret="x", **{**FAST, "ping_interval": 0.05, "ping_timeout": 0.1}), Metrics())
    stop = asyncio.Event()
    task = asyncio.create_task(client.run(stop))
    await wait_until(lambda: connections >= 2, timeout=5)
    stop.set()
    await asyncio.wait_for(task, 5)
    server.close()
    await server.wait_closed()
    assert connections >= 2


def _random_pieces(data: bytes, rng: random.Random) -> list[bytes]:
    pieces, i = [], 0
    while i < len(data):
        step = rng.randint(1, 700)
        pieces.append(data[i : i + step])
        i += step
    return pieces

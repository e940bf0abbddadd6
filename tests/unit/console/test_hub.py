"""The hub's delivery with in-memory sockets: one serialisation for many sockets, hello
first, a slow socket closed without holding up the others, and the answers to the browser."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSCloseCode, WSMsgType

from hotline.clock import FakeClock
from hotline.console.hub import Hub, answer
from hotline.users.store import Role, User
from tests.unit.tickets.moments import at

AGENT = User(1, "agent8001", Role.AGENT, extension="8001")
OTHER_AGENT = User(2, "agent8002", Role.AGENT, extension="8002")
SUPERVISOR = User(3, "值班长", Role.SUPERVISOR)


class FakeSocket:
    """What the hub uses of aiohttp's WebSocketResponse; `stuck` never finishes a write
    (a browser that stopped reading)."""

    def __init__(self, *, stuck: bool = False) -> None:
        self.sent: list[str] = []
        self.closed_with: int | None = None
        self._open = asyncio.Event()
        if not stuck:
            self._open.set()

    async def send_str(self, data: str) -> None:
        await self._open.wait()
        self.sent.append(data)

    async def close(self, *, code: int, message: bytes) -> bool:
        self.closed_with = code
        return True

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(data) for data in self.sent]


def hub(**options: Any) -> Hub:
    return Hub(FakeClock(at("2026-11-25 10:00")), **options)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_hello_goes_first_with_the_user_and_the_greeting() -> None:
    h, socket = hub(), FakeSocket()
    conn = h.attach(socket, AGENT, {"pop": None})  # type: ignore[arg-type]
    h.send_to_user(AGENT.id, {"type": "pop", "call_id": "1.0"})
    await settle()

    hello, pop = socket.messages()
    assert hello == {"type": "hello", "user": {"id": 1, "name": "agent8001", "role": "agent", "extension": "8001", "department_id": None}, "pop": None, "server_time": "2026-11-25T02:00:00+00:00"}
    assert pop["call_id"] == "1.0"
    await h.detach(conn)


async def test_a_message_is_serialised_once_for_every_recipient() -> None:
    h = hub()
    sockets = [FakeSocket() for _ in range(3)]
    conns = [h.attach(s, u, {}) for s, u in zip(sockets, (AGENT, SUPERVISOR, User(4, "管理员", Role.ADMIN)), strict=True)]  # type: ignore[arg-type]

    sent = h.send({"type": "call", "call": {"caller_name": "李四（巴中分公司）", "at": at("2026-11-25 10:00")}}, roles={Role.SUPERVISOR, Role.ADMIN}, users=[SUPERVISOR.id])
    await settle()

    assert sent == 2
    assert sockets[0].sent[1:] == []
    assert sockets[1].sent[1] is sockets[2].sent[1]  # the very same string
    assert '"李四（巴中分公司）"' in sockets[1].sent[1] and '"2026-11-25T02:00:00+00:00"' in sockets[1].sent[1]
    for conn in conns:
        await h.detach(conn)


async def test_a_slow_browser_is_closed_and_the_others_get_every_message() -> None:
    h = hub(queue_size=4)
    slow, fast = FakeSocket(stuck=True), FakeSocket()
    slow_conn = h.attach(slow, AGENT, {})  # type: ignore[arg-type]
    fast_conn = h.attach(fast, OTHER_AGENT, {})  # type: ignore[arg-type]

    for n in range(20):
        h.send({"type": "ticket", "n": n}, users=[AGENT.id, OTHER_AGENT.id])
        await settle()

    assert [m.get("n") for m in fast.messages()[1:]] == list(range(20))
    assert slow.closed_with == WSCloseCode.TRY_AGAIN_LATER
    assert not h.connected(AGENT.id) and h.connected(OTHER_AGENT.id)
    await h.detach(slow_conn)
    await h.detach(fast_conn)


async def test_a_user_signed_out_has_every_socket_closed() -> None:
    h = hub()
    tabs = [FakeSocket(), FakeSocket()]
    for tab in tabs:
        h.attach(tab, AGENT, {})  # type: ignore[arg-type]
    other = h.attach(FakeSocket(), OTHER_AGENT, {})  # type: ignore[arg-type]

    assert h.disconnect(AGENT.id) == 2
    await settle()

    assert [tab.closed_with for tab in tabs] == [WSCloseCode.POLICY_VIOLATION] * 2
    assert not h.connected(AGENT.id) and h.count() == 1
    await h.detach(other)


async def test_on_sent_reports_each_message_with_its_user_and_when_it_left() -> None:
    seen: list[tuple[int, str, float]] = []
    h = hub(on_sent=lambda user, message, when: seen.append((user, message["type"], when)), monotonic=lambda: 42.0)
    conn = h.attach(FakeSocket(), AGENT, {})  # type: ignore[arg-type]
    h.send_to_user(AGENT.id, {"type": "pop"})
    await settle()

    assert seen == [(1, "hello", 42.0), (1, "pop", 42.0)]
    await h.detach(conn)


async def test_nobody_connected_means_nothing_to_send() -> None:
    assert hub().send({"type": "deadline"}, users=[1, 2], roles={Role.SUPERVISOR}) == 0


def test_the_browser_may_only_ping() -> None:
    assert answer(WSMsgType.TEXT, '{"type": "ping"}') == {"type": "pong"}
    assert answer(WSMsgType.TEXT, "{") == {"type": "error", "message": "not JSON"}
    assert answer(WSMsgType.TEXT, '{"type": "hello"}')["type"] == "error"
    assert answer(WSMsgType.TEXT, "null")["type"] == "error"
    assert answer(WSMsgType.BINARY, b'{"type": "ping"}') == {"type": "error", "message": "send JSON text frames, not binary"}

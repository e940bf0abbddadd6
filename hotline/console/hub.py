"""The console's WebSocket hub: who is connected (one entry per socket, with its User), and
delivery. A message is serialised once and queued on every recipient's socket; each socket
has its own bounded queue and writer task, so a slow browser delays nobody else. A queue
that fills up closes that socket: the page reconnects and starts again from `hello`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from hotline.clock import Clock
from hotline.users.store import Role, User

log = structlog.get_logger(__name__)

STAFF: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.ADMIN})
# Messages waiting for one socket before it counts as too slow. A burst of calls sends a
# supervisor one `call` message per call event of a whole capture batch (up to 500) before
# any writer runs, so the bound sits above that; the strings are shared, not copied.
QUEUE_SIZE = 1024

OnSent = Callable[[int, Mapping[str, Any], float], None]
_Queued = tuple[str, Mapping[str, Any]]


@dataclass(eq=False)
class Connection:
    """One open WebSocket: its user, its outgoing queue and the task that writes it."""

    user: User
    ws: web.WebSocketResponse
    queue: asyncio.Queue[_Queued]
    writer: asyncio.Task[None] | None = None
    closed: bool = False
    sent: int = field(default=0)


class Hub:
    """Connections by user and by role; `send` queues one message to many."""

    def __init__(self, clock: Clock, *, queue_size: int = QUEUE_SIZE, on_sent: OnSent | None = None, monotonic: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.queue_size = queue_size
        # Measurement hook (bench/pops.py): called after a message left for a socket.
        self.on_sent = on_sent
        self.monotonic = monotonic
        self._by_user: dict[int, list[Connection]] = {}
        self._by_role: dict[Role, list[Connection]] = {}
        self._closing: set[asyncio.Task[Any]] = set()

    # -- who is here ---------------------------------------------------------------------

    def attach(self, ws: web.WebSocketResponse, user: User, greeting: Mapping[str, Any]) -> Connection:
        """Register an open socket and queue its `hello` first. Synchronous on purpose:
        nothing can be sent between the greeting's state and the socket joining."""
        conn = Connection(user, ws, asyncio.Queue(self.queue_size))
        hello = {"type": "hello", "user": user_view(user), **greeting, "server_time": self.clock.now()}
        conn.queue.put_nowait((dumps(hello), hello))
        self._by_user.setdefault(user.id, []).append(conn)
        self._by_role.setdefault(user.role, []).append(conn)
        conn.writer = asyncio.create_task(self._write(conn), name=f"ws.writer.{user.id}")
        log.info("ws.connected", user_id=user.id, role=user.role.value, connections=self.count())
        return conn

    async def detach(self, conn: Connection) -> None:
        self._forget(conn)
        if conn.writer is not None:
            conn.writer.cancel()
            await asyncio.gather(conn.writer, return_exceptions=True)
        log.info("ws.disconnected", user_id=conn.user.id, sent=conn.sent, connections=self.count())

    def count(self) -> int:
        return sum(len(conns) for conns in self._by_user.values())

    def connected(self, user_id: int) -> bool:
        return user_id in self._by_user

    # -- delivery ------------------------------------------------------------------------

    def send(self, message: Mapping[str, Any], *, users: Iterable[int] = (), roles: Collection[Role] = ()) -> int:
        """Queue `message` on every socket of `users` and of users with one of `roles`, once
        each; returns on how many sockets. Never waits."""
        targets: dict[int, Connection] = {}
        for user_id in users:
            for conn in self._by_user.get(user_id, ()):
                targets[id(conn)] = conn
        for role in roles:
            for conn in self._by_role.get(role, ()):
                targets[id(conn)] = conn
        if not targets:
            return 0
        item = (dumps(message), message)
        for conn in targets.values():
            self._queue(conn, item)
        return len(targets)

    def send_to_user(self, user_id: int, message: Mapping[str, Any]) -> int:
        conns = self._by_user.get(user_id)
        if not conns:
            return 0
        item = (dumps(message), message)
        for conn in list(conns):
            self._queue(conn, item)
        return len(conns)

    def _queue(self, conn: Connection, item: _Queued) -> None:
        try:
            conn.queue.put_nowait(item)
        except asyncio.QueueFull:
            log.warning("ws.too_slow", user_id=conn.user.id, queued=conn.queue.qsize())
            self._drop(conn)

    async def _write(self, conn: Connection) -> None:
        ws, queue, on_sent = conn.ws, conn.queue, self.on_sent
        try:
            while True:
                data, message = await queue.get()
                await ws.send_str(data)
                conn.sent += 1
                if on_sent is not None:
                    on_sent(conn.user.id, message, self.monotonic())
        except (ConnectionError, RuntimeError) as exc:
            # The peer went away mid-write; its handler's read loop ends and detaches it.
            log.info("ws.write_failed", user_id=conn.user.id, error=type(exc).__name__)
            self._forget(conn)
        except Exception:
            log.exception("ws.writer_failed", user_id=conn.user.id)
            self._drop(conn)

    # -- what the browser sends ----------------------------------------------------------

    def receive(self, conn: Connection, kind: WSMsgType, data: Any) -> None:
        """ping -> pong; anything else -> an error message, and nothing changes."""
        self._queue(conn, _serialised(answer(kind, data)))

    # -- ending ----------------------------------------------------------------------------

    def disconnect(self, user_id: int) -> int:
        """Close every socket of a user (disabled, or their role changed): a page that
        reconnects is authenticated again. Returns how many were closed."""
        conns = list(self._by_user.get(user_id, ()))
        for conn in conns:
            self._drop(conn, WSCloseCode.POLICY_VIOLATION, b"signed out")
        return len(conns)

    def reconnect_all(self) -> int:
        """Close every socket with "try again later": each page reconnects and gets hello
        again, the picture as it is now (several instances: after the relay missed events).
        Returns how many were closed."""
        conns = [c for conns in self._by_user.values() for c in conns]
        for conn in conns:
            self._drop(conn, WSCloseCode.TRY_AGAIN_LATER, b"refresh")
        return len(conns)

    def _drop(self, conn: Connection, code: int = WSCloseCode.TRY_AGAIN_LATER, reason: bytes = b"too slow") -> None:
        """Close a socket (by default one that cannot keep up: its page reconnects and gets
        hello again)."""
        self._forget(conn)
        if conn.writer is not None:
            conn.writer.cancel()
        task = asyncio.create_task(_close(conn.ws, code, reason), name="ws.close")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _forget(self, conn: Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        for index, key in ((self._by_user, conn.user.id), (self._by_role, conn.user.role)):
            conns = index.get(key, [])  # type: ignore[call-overload]
            if conn in conns:
                conns.remove(conn)
            if not conns:
                index.pop(key, None)  # type: ignore[call-overload]

    async def close(self) -> None:
        """At shutdown: every socket closed with 1001 (going away)."""
        conns = [c for conns in self._by_user.values() for c in conns]
        await asyncio.gather(*(_close(c.ws, WSCloseCode.GOING_AWAY, b"server shutdown") for c in conns), return_exceptions=True)
        await asyncio.gather(*self._closing, return_exceptions=True)


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "role": user.role.value,
        "extension": getattr(user, "extension", None),
        "department_id": getattr(user, "department_id", None),
    }


def answer(kind: WSMsgType, data: Any) -> dict[str, Any]:
    """The reply to one client frame (pure)."""
    if kind is not WSMsgType.TEXT:
        return _error("send JSON text frames, not binary")
    try:
        message = json.loads(data)
    except ValueError:
        return _error("not JSON")
    if isinstance(message, dict) and message.get("type") == "ping":
        return {"type": "pong"}
    kind_given = message.get("type") if isinstance(message, dict) else None
    return _error(f"unknown message type {kind_given!r}; the console sends only ping" if kind_given else "a message is a JSON object with a type")


def dumps(message: Mapping[str, Any]) -> str:
    """JSON text as the console reads it: UTF-8 as it is (Chinese names, and markup as plain
    text: the page escapes), times in ISO 8601 and UTC as the API gives them."""
    return json.dumps(message, default=_default, ensure_ascii=False)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _error(text: str) -> dict[str, Any]:
    return {"type": "error", "message": text}


def _serialised(message: Mapping[str, Any]) -> _Queued:
    return dumps(message), message


async def _close(ws: web.WebSocketResponse, code: int, message: bytes) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code=code, message=message)

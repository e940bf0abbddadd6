"""A small AMI client of the lab's own, for driving and watching the real Asterisk.

Independent of hotline.ami on purpose: the tier checks the service against Asterisk,
so the lab's view of Asterisk must not share the service's code. Stdlib asyncio only.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

Message = dict[str, str]
_ids = itertools.count(1)


class AmiSession:
    """One AMI connection: every message it received, in order, and actions awaited by ActionID."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.messages: list[Message] = []
        self.banner = ""
        self._pending = b""
        self._arrived = asyncio.Event()
        self._pump = asyncio.create_task(self._read_all(), name="lab-ami-reader")

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> AmiSession:
        reader, writer = await asyncio.open_connection(host, port)
        session = cls(reader, writer)
        await session.wait_for(lambda m: "Banner" in m, 5)
        return session

    async def _read_all(self) -> None:
        try:
            while chunk := await self.reader.read(65536):
                self._pending += chunk
                self._split()
                self._arrived.set()
        except OSError:
            pass
        self._arrived.set()

    def _split(self) -> None:
        if not self.banner:
            line, sep, rest = self._pending.partition(b"\r\n")
            if not sep:
                return
            self.banner, self._pending = line.decode(), rest
            self.messages.append({"Banner": self.banner})
        while b"\r\n\r\n" in self._pending:
            block, _, self._pending = self._pending.partition(b"\r\n\r\n")
            fields: Message = {}
            for line in block.decode("utf-8").split("\r\n"):
                key, _, value = line.partition(": ")
                fields.setdefault(key, value)
            self.messages.append(fields)

    @property
    def closed(self) -> bool:
        return self._pump.done()

    async def wait_for(self, match: Callable[[Message], bool], timeout: float, start: int = 0) -> Message:
        """The first message from index `start` on that `match` accepts."""
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            for message in self.messages[seen:]:
                if match(message):
                    return message
            seen = max(seen, len(self.messages))
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                raise TimeoutError(f"no matching AMI message within {timeout}s (closed={self.closed})")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                pass

    async def event(self, name: str, timeout: float = 10, start: int = 0, **headers: str) -> Message:
        return await self.wait_for(lambda m: m.get("Event") == name and all(m.get(k) == v for k, v in headers.items()), timeout, start)

    async def send(self, action: str, **fields: Any) -> str:
        action_id = f"lab-{next(_ids)}"
        lines = [("Action", action), ("ActionID", action_id)]
        for key, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                lines.append((key, str(item)))
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in lines).encode("utf-8") + b"\r\n")
        await self.writer.drain()
        return action_id

    async def action(self, action: str, timeout: float = 10, **fields: Any) -> Message:
        """Send an action; its Response (Success or Error, never raised)."""
        action_id = await self.send(action, **fields)
        return await self.wait_for(lambda m: "Response" in m and m.get("ActionID") == action_id, timeout)

    async def list_action(self, action: str, timeout: float = 10, **fields: Any) -> list[Message]:
        """Send a list action; the events it answered with, up to its ...Complete."""
        action_id = await self.send(action, **fields)
        start = len(self.messages)
        first = await self.wait_for(lambda m: "Response" in m and m.get("ActionID") == action_id, timeout, 0)
        if first.get("Response") != "Success":
            return []
        end = await self.wait_for(lambda m: m.get("ActionID") == action_id and m.get("EventList") == "Complete", timeout, 0)
        index = self.messages.index(end)
        return [m for m in self.messages[max(0, start - 1): index] if m.get("ActionID") == action_id and "Event" in m]

    async def login(self, username: str, secret: str, events: str = "on") -> Message:
        return await self.action("Login", Username=username, Secret=secret, Events=events)

    async def close(self) -> None:
        if not self.closed:
            try:
                await asyncio.wait_for(self.action("Logoff"), 2)
            except (TimeoutError, OSError):
                pass
        self.writer.close()
        self._pump.cancel()
        await asyncio.gather(self._pump, return_exceptions=True)

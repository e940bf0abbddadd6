"""A short AMI session for one-off checks (`hotline doctor`): connect, keep every message in
order, send actions and await their answers by ActionID. Not the service's connection
(client.py): no reconnect, no keep-alive, nothing queued for a pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable

from .actions import clean_action
from .framing import AmiFramer, Banner, Message

GREETING = b"Asterisk Call Manager/"  # the first line of every AMI session


class NotAmi(Exception):
    """Something answered, but not with Asterisk's AMI greeting."""


class NoAnswer(Exception):
    """The link closed, or Asterisk did not answer an action in time."""

    def __init__(self, action: str, timeout: float) -> None:
        super().__init__(f"no answer to {action} within {timeout:g} s")
        self.action, self.timeout = action, timeout


class AmiSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer_timeout: float, id_prefix: str = "check") -> None:
        self._reader, self._writer = reader, writer
        self._id_prefix = id_prefix
        self._framer = AmiFramer()
        self._arrived = asyncio.Event()
        self._ids = itertools.count(1)
        self.answer_timeout = answer_timeout
        self.messages: list[Message] = []
        self.banner: str | None = None
        self.head = b""  # the first bytes the peer sent
        self.closed = False
        self.logged_in = False
        self._pump = asyncio.create_task(self._read(), name="ami-session-reader")

    @classmethod
    async def open(cls, host: str, port: int, *, connect_timeout: float, answer_timeout: float, id_prefix: str = "check") -> AmiSession:
        """Connected and greeted; the connect's own OSError or TimeoutError as raised, NotAmi
        when the peer says something else (or nothing) within connect_timeout."""
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), connect_timeout)
        session = cls(reader, writer, answer_timeout, id_prefix)
        await session.until(lambda: session.banner is not None or not GREETING.startswith(session.head), connect_timeout)
        if session.banner is None:
            await session.close()
            raise NotAmi(session.head.decode("utf-8", "replace"))
        return session

    @property
    def local_address(self) -> str:
        """This end's address, as Asterisk sees it unless NAT is in between."""
        name = self._writer.get_extra_info("sockname")
        return str(name[0]) if name else "?"

    async def _read(self) -> None:
        try:
            while chunk := await self._reader.read(65536):
                if len(self.head) < len(GREETING):
                    self.head = (self.head + chunk)[: len(GREETING)]
                for frame in self._framer.feed(chunk):
                    if isinstance(frame, Banner):
                        self.banner = frame.version
                    elif isinstance(frame, dict):
                        self.messages.append(frame)
                self._arrived.set()
        except OSError:
            pass
        finally:
            self.closed = True
            self._arrived.set()

    async def until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Whether done() came true (asked again at every arrival) before the timeout or the end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._arrived.clear()
            if done():
                return True
            left = deadline - loop.time()
            if self.closed or left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    def find(self, match: Callable[[Message], bool], start: int = 0) -> Message | None:
        return next((m for m in self.messages[start:] if match(m)), None)

    async def action(self, name: str, **fields: str) -> Message:
        """Send an action; its answer (Success or Error), or NoAnswer."""
        action_id = f"{self._id_prefix}-{next(self._ids)}"
        start = len(self.messages)  # the answer comes after this; a busy PBX sends much else

        def answer(m: Message) -> bool:
            return "Response" in m and "Event" not in m and m.get("ActionID") == action_id

        self._send({"Action": name, "ActionID": action_id, **fields})
        if not await self.until(lambda: self.find(answer, start) is not None, self.answer_timeout):
            raise NoAnswer(name, self.answer_timeout)
        return self.find(answer, start) or {}

    async def list_action(self, name: str, **fields: str) -> Message:
        """A list action: its answer, once the list that follows a Success has ended."""
        start = len(self.messages)
        reply = await self.action(name, **fields)
        action_id = reply.get("ActionID")

        def complete(m: Message) -> bool:
            return m.get("ActionID") == action_id and m.get("EventList") == "Complete"

        if reply.get("Response") == "Success" and reply.get("EventList") == "start":
            await self.until(lambda: self.find(complete, start) is not None, self.answer_timeout)
        return reply

    def _send(self, action: dict[str, str]) -> None:
        lines = []
        for key, value in clean_action(action).items():
            lines += [f"{key}: {item}\r\n" for item in (value if isinstance(value, list) else [value])]
        if not self._writer.is_closing():
            self._writer.write(("".join(lines) + "\r\n").encode("utf-8"))

    async def close(self) -> None:
        """Log off (briefly) if logged in, then close the link."""
        if self.logged_in and not self.closed:
            self.answer_timeout = 1.0
            with contextlib.suppress(NoAnswer):
                await self.action("Logoff")
        self._writer.close()
        self._pump.cancel()
        await asyncio.gather(self._pump, return_exceptions=True)
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

"""The FastAGI adapter: Asterisk's AGI(agi://HOST:PORT/SCRIPT) sessions over TCP, read
with our own bounded reader and handed to the handler for SCRIPT (see routing/answer.py)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import structlog

from hotline.ami.actions import clean_value
from hotline.metrics import Metrics

log = structlog.get_logger(__name__)

MAX_HEADER_BYTES = 16_384  # a real header block is under 1 KiB; more is not Asterisk
# Asterisk reads a command line with fgets into a 2 KiB buffer and runs what does not fit
# as a second command; six values of 255 bytes and their names fit in one line.
MAX_COMMAND_BYTES = 2046  # newline and NUL excluded
MAX_VALUE_BYTES = 255
HANGUPS = "hotline_agi_hangups_total"
UNKNOWN = ("", "unknown", "<unknown>")  # how Asterisk writes an empty header value
_VARIABLE_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
# Inside ARRAY(...)=a,b,c Asterisk splits the values on commas, except within () or [],
# so these would shift every later value onto the wrong variable (checked on Asterisk 22).
_ARRAY_SEPARATORS = str.maketrans("", "", ",()[]")
SET_OK = "200 result=0"  # EXEC answers with the application's result; Set's is 0


class AgiHangup(Exception):
    """The caller hung up or Asterisk closed the session; nothing more can be sent."""


class AgiCommandRefused(Exception):
    """Asterisk answered a command with something other than 200."""


@dataclass(frozen=True)
class AgiRequest:
    script: str  # the request path: "route", "keep_place"
    headers: Mapping[str, str]  # agi_* as sent, values stripped
    args: tuple[str, ...]  # agi_arg_1, agi_arg_2, ...

    def known(self, name: str) -> str | None:
        """Header agi_`name`, or None when absent or Asterisk's "unknown"."""
        value = self.headers.get(f"agi_{name}")
        return None if value is None or value in UNKNOWN else value


def parse_request(block: bytes) -> AgiRequest | None:
    """The request in one agi_* header block, or None when it is not one."""
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").split("\n"):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon or not key.startswith("agi_"):
            return None
        headers[key.strip()] = value.strip()
    path = headers.get("agi_network_script") or headers.get("agi_request", "").rpartition("/")[2]
    script = path.partition("?")[0].strip("/")
    if not script:
        return None
    return AgiRequest(script, headers, tuple(_arguments(headers)))


def _arguments(headers: Mapping[str, str]) -> Iterator[str]:
    n = 1
    while (value := headers.get(f"agi_arg_{n}")) is not None:
        yield value
        n += 1


def agi_value(value: object) -> str:
    """`value` safe inside a quoted AGI argument: no quote, backslash or line end, bounded."""
    text = str(value).replace('"', "").replace("\\", "")
    return clean_value(text, budget=MAX_VALUE_BYTES).strip()


def array_element(value: object) -> str:
    """`value` safe as one element of ARRAY(...)=a,b,c inside a quoted AGI argument."""
    return agi_value(str(value).translate(_ARRAY_SEPARATORS))


@functools.cache
def _set_all(names: tuple[str, ...]) -> str:
    """The start of the one command that sets `names`; the names are checked once."""
    for name in names:
        if not _VARIABLE_NAME.fullmatch(name):
            raise ValueError(f"not a channel variable name: {name!r}")
    return f'EXEC Set "ARRAY({",".join(names)})='


class AgiSession:
    """One connection's command/reply exchange with Asterisk."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reply_timeout: float
    ) -> None:
        self._reader, self._writer, self._reply_timeout = reader, writer, reply_timeout

    async def command(self, line: str) -> str:
        """Send one command and return Asterisk's reply line; AgiHangup when there is none.

        One command at a time: Asterisk polls the socket, then reads a line through a stdio
        buffer, so a second command sent before the first reply can sit unread (res_agi.c)."""
        data = line.encode("utf-8")
        if len(data) > MAX_COMMAND_BYTES or "\n" in line:
            raise ValueError(f"not one AGI command line: {line[:80]!r}...")
        try:
            self._writer.write(data + b"\n")
            await self._writer.drain()
            async with asyncio.timeout(self._reply_timeout):
                text = await self._reply()
        except (ConnectionError, TimeoutError) as exc:
            raise AgiHangup(type(exc).__name__) from exc
        if text == "HANGUP":
            raise AgiHangup(text)
        return text

    async def _reply(self) -> str:
        while line := await self._reader.readline():
            # A stray blank line (one more after the header block) is not the reply.
            if text := line.decode("utf-8", errors="replace").strip():
                return text
        raise AgiHangup("EOF")

    async def set_variables(self, variables: Sequence[tuple[str, str]]) -> None:
        """Set every variable in one command, so Asterisk applies all or none of them and
        the answer costs one round trip. An empty value empties the variable, so nothing
        set before the AGI (a preset, an earlier attempt) survives by accident."""
        names = tuple(name for name, _ in variables)
        values = ",".join(array_element(value) for _, value in variables)
        reply = await self.command(f'{_set_all(names)}{values}"')
        if reply != SET_OK:
            # 200 result=-2: no such application; 510/511/520: the command was not run.
            raise AgiCommandRefused(reply)

    async def close(self) -> None:
        # Asterisk goes on with the dialplan only once the socket is closed.
        if self._writer.is_closing():
            return
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


AgiHandler = Callable[[AgiRequest, AgiSession], Awaitable[None]]


class FastAgiServer:
    """Accepts FastAGI sessions and hands each to the handler for its script."""

    def __init__(
        self,
        host: str,
        port: int,
        handlers: Mapping[str, AgiHandler],
        *,
        header_timeout: float,
        metrics: Metrics,
        reply_timeout: float = 5.0,
    ) -> None:
        self._host, self._port, self._handlers = host, port, dict(handlers)
        self._header_timeout, self._reply_timeout = header_timeout, reply_timeout
        self._metrics = metrics
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        metrics.inc(HANGUPS, 0)  # shown at 0 on /metrics before the first call

    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=MAX_HEADER_BYTES
        )
        port = int(self._server.sockets[0].getsockname()[1])
        log.info("agi.listening", host=self._host, port=port, scripts=sorted(self._handlers))
        return port

    async def stop(self, grace: float = 1.0) -> None:
        """Stop accepting; sessions in progress get `grace` seconds, then are cancelled."""
        if self._server is None:
            return
        self._server.close()
        if self._sessions:
            _, pending = await asyncio.wait(set(self._sessions), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        log.info("agi.stopped")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        session = AgiSession(reader, writer, self._reply_timeout)
        peer = writer.get_extra_info("peername")
        try:
            request = await self._read_request(reader, peer)
            if request is not None:
                await self._dispatch(request, session)
        finally:
            await session.close()
            self._sessions.discard(task)

    async def _read_request(
        self, reader: asyncio.StreamReader, peer: object
    ) -> AgiRequest | None:
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for wraps the read in a new task.
            async with asyncio.timeout(self._header_timeout):
                block = await reader.readuntil(b"\n\n")
        except asyncio.IncompleteReadError as exc:
            log.warning("agi.headers_cut", peer=peer, received_bytes=len(exc.partial))
            return None
        except asyncio.LimitOverrunError:
            log.warning("agi.headers_too_long", peer=peer, limit=MAX_HEADER_BYTES)
            return None
        except TimeoutError:
            log.warning("agi.headers_timeout", peer=peer, timeout=self._header_timeout)
            return None
        except ConnectionError as exc:
            log.warning("agi.headers_cut", peer=peer, error=type(exc).__name__)
            return None
        request = parse_request(block)
        if request is None:
            log.warning("agi.headers_malformed", peer=peer, received_bytes=len(block))
        return request

    async def _dispatch(self, request: AgiRequest, session: AgiSession) -> None:
        handler = self._handlers.get(request.script)
        context = {"agi_script": request.script, "uniqueid": request.known("uniqueid")}
        with structlog.contextvars.bound_contextvars(**context):
            if handler is None:
                log.warning("agi.unknown_script", known=sorted(self._handlers))
                return
            try:
                await handler(request, session)
            except AgiHangup as exc:
                self._metrics.inc(HANGUPS)
                log.info("agi.hangup", reply=str(exc))
            except AgiCommandRefused as exc:
                log.warning("agi.command_refused", reply=str(exc))
            except Exception:
                log.exception("agi.handler_failed")

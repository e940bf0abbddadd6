"""Asterisk's side of FastAGI for the tests: the recorded .agi transcripts, and a client that
replays a header block over TCP and answers the service's commands as Asterisk does."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import hotline.testing

TRACES = Path(hotline.testing.__file__).parent / "traces"
HERE = Path(__file__).parent  # real-exec-set.agi: the one-command answer on Asterisk 22
OK = "200 result=1"
EXEC_OK = "200 result=0"  # what Asterisk answers to EXEC Set (real-exec-set.agi)
_SET = re.compile(r'SET VARIABLE ([A-Z0-9_]+) "(.*)"')
_EXEC_SET_ARRAY = re.compile(r'EXEC Set "ARRAY\(([^()]*)\)=(.*)"')


@dataclass(frozen=True)
class RecordedSession:
    headers: bytes  # the agi_* block exactly as Asterisk sent it, blank line included
    exchange: tuple[tuple[str, str], ...]  # (what the recorded service sent, Asterisk's reply)

    @property
    def replies(self) -> list[str]:
        return [reply for _, reply in self.exchange]

    def with_headers(self, **values: str) -> RecordedSession:
        """The same session with agi_`name` headers replaced, e.g. another caller id."""
        text = self.headers.decode()
        for name, value in values.items():
            text, count = re.subn(rf"^agi_{name}: .*$", f"agi_{name}: {value}", text, flags=re.M)
            assert count == 1, name
        return RecordedSession(text.encode(), self.exchange)


def read_trace(name: str, folder: Path = TRACES) -> list[RecordedSession]:
    """Each connection in `NAME.agi`: `<` lines Asterisk sent, `>` lines the service sent
    (other lines, such as `#` notes, are not part of the exchange)."""
    sessions: list[RecordedSession] = []
    headers: list[str] = []
    exchange: list[list[str]] = []
    for line in (folder / f"{name}.agi").read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            if headers:
                sessions.append(_session(headers, exchange))
            headers, exchange = [], []
        elif line.startswith("> "):
            exchange.append([line[2:]])
        elif line.startswith("<"):
            sent = line[2:]
            if exchange:
                exchange[-1].append(sent)
            else:
                headers.append(sent)
    sessions.append(_session(headers, exchange))
    return sessions


def _session(headers: list[str], exchange: list[list[str]]) -> RecordedSession:
    assert headers[-1] == "", "a header block ends with a blank line"
    block = "\n".join(headers) + "\n"
    return RecordedSession(block.encode("utf-8"), tuple((c, r) for c, r in exchange))


@dataclass
class Answered:
    commands: list[str] = field(default_factory=list)
    seconds: float = 0.0  # from connect to the last reply written (or the close seen)

    @property
    def assigned(self) -> dict[str, str]:
        """Every variable the commands set, as Asterisk would set it ("" included)."""
        assigned: dict[str, str] = {}
        for command in self.commands:
            assigned.update(assignments(command))
        return assigned

    @property
    def variables(self) -> dict[str, str]:
        """The variables the dialplan then reads as set: an empty one reads as unset."""
        return {name: value for name, value in self.assigned.items() if value}


def assignments(command: str) -> list[tuple[str, str]]:
    """What a SET VARIABLE or EXEC Set "ARRAY(...)=..." command sets, the way Asterisk 22
    splits it: values on commas outside () and [], a missing one set to ""."""
    if m := _SET.fullmatch(command):
        return [(m[1], m[2])]
    if m := _EXEC_SET_ARRAY.fullmatch(command):
        names, values = m[1].split(","), _split_array_values(m[2])
        return [(name, values[i] if i < len(values) else "") for i, name in enumerate(names)]
    return []


def _split_array_values(text: str) -> list[str]:
    values, current, depth = [], "", 0
    for char in text:
        if char == "," and depth == 0:
            values.append(current)
            current = ""
            continue
        if char in "([":
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
        current += char
    return [*values, current]


async def play(
    port: int, headers: bytes, replies: Sequence[str] = (), *, timeout: float = 5.0
) -> Answered:
    """Send `headers`, answer each command with the next of `replies` (then as Asterisk
    answers a command that worked), until the service closes; a HANGUP reply is followed
    by Asterisk closing, as it does."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answered = Answered()
    try:
        writer.write(headers)
        while line := await asyncio.wait_for(reader.readline(), timeout):
            answered.commands.append(line.decode("utf-8").rstrip("\n"))
            done = len(answered.commands)
            reply = replies[done - 1] if done <= len(replies) else worked(answered.commands[-1])
            writer.write(reply.encode() + b"\n")
            answered.seconds = time.perf_counter() - started
            if reply == "HANGUP":
                break
        else:
            answered.seconds = time.perf_counter() - started
    finally:
        await _close(writer)
    return answered


def worked(command: str) -> str:
    """Asterisk's reply to `command` when it worked: EXEC gives the application's result."""
    return EXEC_OK if command.startswith("EXEC ") else OK


async def send_and_wait_for_close(
    port: int, data: bytes, *, close: bool, timeout: float = 5.0
) -> bytes:
    """Send raw `data` (then close our side if `close`); what the server sent before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        if close:
            writer.write_eof()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()

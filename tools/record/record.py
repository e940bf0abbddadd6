#!/usr/bin/env python3
"""Record real AMI transcripts of hotline transfer scenarios from a lab Asterisk.

Each scenario opens one AMI connection, logs in, sends its actions and logs off. It
writes NAME.ami (the exact bytes Asterisk sent, banner to Goodbye) and NAME.actions (the
bytes we sent, each action after a `# t=SECONDS` line, the secret masked), the format of
hotline/testing/traces/.

    # against an Asterisk you started yourself (manager port from tools/record/lab):
    python3 tools/record/record.py --out hotline/testing/traces blind-transfer
    # or let the script run one fresh Asterisk per scenario on a copy of the lab config:
    python3 tools/record/record.py --run-asterisk ../shared/asterisk/run-asterisk \
        --confdir /tmp/rec-lab --out hotline/testing/traces blind-transfer attended-transfer

Stdlib only (Python 3.11). The lab dialplan is tools/record/lab/extensions.conf.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAB = Path(__file__).resolve().parent / "lab"
CALLER = '"Zhang San" <13912345678>'
CALLER_NUMBER = "13912345678"
QUIET_AFTER_LAST_HANGUP = 1.5   # seconds: let the trailing Cdr/QueueMemberStatus arrive
ROUTING_PORT = 14573            # the lab dialplan's AGI(agi://127.0.0.1:14573/route)
REGULAR_ROUTE = (("HOTLINE_QUEUE", "hotline"), ("QUEUE_PRIO", "0"),
                 ("HOTLINE_TIER", "regular"))
_action_ids = itertools.count(1)


class Session:
    """One AMI connection: keeps every received byte and every sent action."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.t0 = time.monotonic()
        self.raw = bytearray()          # exactly what Asterisk sent
        self.sent = bytearray()         # the .actions file
        self.messages: list[dict[str, str]] = []
        self._pending = b""
        self._arrived = asyncio.Event()
        self._pump = asyncio.create_task(self._read_all(), name="ami-reader")

    @classmethod
    async def open(cls, host: str, port: int) -> "Session":
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def _read_all(self) -> None:
        while chunk := await self.reader.read(65536):
            self.raw += chunk
            self._pending += chunk
            self._split_messages()
            self._arrived.set()
        self._arrived.set()

    def _split_messages(self) -> None:
        if not self.messages and self._pending.startswith(b"Asterisk Call Manager/"):
            banner, sep, rest = self._pending.partition(b"\r\n")
            if not sep:
                return
            self.messages.append({"Banner": banner.decode()})
            self._pending = rest
        while b"\r\n\r\n" in self._pending:
            block, _, self._pending = self._pending.partition(b"\r\n\r\n")
            fields: dict[str, str] = {}
            for line in block.decode("utf-8").split("\r\n"):
                key, _, value = line.partition(": ")
                fields.setdefault(key, value)
            self.messages.append(fields)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    async def send(self, action: str, *fields: tuple[str, str]) -> str:
        """Send one action; returns its ActionID."""
        action_id = f"rec-{next(_action_ids)}"
        lines = [("Action", action), ("ActionID", action_id), *fields]
        wire = "".join(f"{k}: {v}\r\n" for k, v in lines) + "\r\n"
        shown = "".join(f"{k}: {'********' if k == 'Secret' else v}\r\n"
                        for k, v in lines) + "\r\n"
        self.sent += f"# t={self.elapsed():.3f}\n".encode() + shown.encode("utf-8")
        self.writer.write(wire.encode("utf-8"))
        await self.writer.drain()
        return action_id

    async def wait_for(self, match, timeout: float, start: int = 0) -> dict[str, str]:
        """The first message (from index start) for which match(message) is true."""
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            for message in self.messages[seen:]:
                if match(message):
                    return message
            seen = len(self.messages)
            left = deadline - time.monotonic()
            if left <= 0 or self._pump.done():
                raise TimeoutError(f"no matching message within {timeout}s")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                pass

    async def action(self, action: str, *fields: tuple[str, str],
                     timeout: float = 10) -> dict[str, str]:
        """Send an action and return its response (not raising on Error)."""
        action_id = await self.send(action, *fields)
        return await self.wait_for(
            lambda m: "Response" in m and m.get("ActionID") == action_id, timeout)

    async def event(self, name: str, timeout: float, start: int = 0, **headers: str):
        return await self.wait_for(
            lambda m: m.get("Event") == name
            and all(m.get(k) == v for k, v in headers.items()), timeout, start)

    async def until_all_hung_up(self, timeout: float) -> None:
        """Wait until every channel that appeared on this connection has hung up."""
        deadline = time.monotonic() + timeout

        def all_gone(_message) -> bool:
            live = set()
            for m in self.messages:
                if m.get("Event") == "Newchannel":
                    live.add(m["Uniqueid"])
                elif m.get("Event") == "Hangup":
                    live.discard(m["Uniqueid"])
            return not live

        while True:
            await self.wait_for(all_gone, deadline - time.monotonic())
            count = len(self.messages)
            await asyncio.sleep(QUIET_AFTER_LAST_HANGUP)
            if not any(m.get("Event") == "Newchannel" for m in self.messages[count:]):
                return

    async def login(self, user: str, secret: str) -> None:
        await self.wait_for(lambda m: "Banner" in m, 5)
        response = await self.action("Login", ("Username", user), ("Secret", secret),
                                     ("Events", "on"))
        if response.get("Response") != "Success":
            raise RuntimeError(f"login refused: {response}")
        await self.event("FullyBooted", 5)

    async def logoff(self) -> None:
        await self.action("Logoff")
        await asyncio.wait_for(self._pump, 5)   # Asterisk closes after the Goodbye
        self.writer.close()

    def save(self, out: Path, name: str) -> None:
        (out / f"{name}.ami").write_bytes(bytes(self.raw))
        (out / f"{name}.actions").write_bytes(bytes(self.sent))


async def call_answered_by_8001(s: Session) -> dict[str, str]:
    """Originate Zhang San into the hotline; return agent-8001's AgentConnect."""
    await asyncio.sleep(0.5)
    response = await s.action(
        "Originate", ("Channel", "Local/96655@hotline-in"), ("Context", "caller-hold"),
        ("Exten", "s"), ("Priority", "1"), ("CallerID", CALLER), ("Async", "true"),
        ("Timeout", "30000"), ("Variable", "HOLD=30"))
    if response.get("Response") != "Success":
        raise RuntimeError(f"originate refused: {response}")
    return await s.event("AgentConnect", 20, CallerIDNum=CALLER_NUMBER,
                         MemberName="agent-8001")


async def blind_transfer(s: Session) -> None:
    """agent-8001 answers, then blind-transfers the caller to 8002@agents."""
    connect = await call_answered_by_8001(s)
    await asyncio.sleep(2)
    response = await s.action("BlindTransfer", ("Channel", connect["DestChannel"]),
                              ("Exten", "8002"), ("Context", "agents"))
    if response.get("Response") != "Success":
        raise RuntimeError(f"BlindTransfer refused: {response}")
    await s.event("BlindTransfer", 10, Result="Success")
    await s.until_all_hung_up(60)


async def attended_transfer(s: Session) -> None:
    """agent-8001 answers, consults 8002 (Atxfer), hangs up: the caller gets 8002."""
    connect = await call_answered_by_8001(s)
    await asyncio.sleep(2)
    agent = connect["DestChannel"]
    response = await s.action("Atxfer", ("Channel", agent), ("Exten", "8002"),
                              ("Context", "agents"))
    if response.get("Response") != "Success":
        raise RuntimeError(f"Atxfer refused: {response}")
    # The consultation leg Local/8002@agents answers at once; agent 8001's phone hangs
    # up after talking 4 s (the lab's agents dialplan), which completes the transfer.
    await s.event("AttendedTransfer", 20, Result="Success")
    await s.until_all_hung_up(60)


SCENARIOS = {
    "blind-transfer": blind_transfer,
    "attended-transfer": attended_transfer,
}


async def answer_route(reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
    """Stand-in for the routing FastAGI: every caller is regular, queue hotline."""
    try:
        await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)   # the agi_* headers
        for name, value in REGULAR_ROUTE:
            writer.write(f'SET VARIABLE {name} "{value}"\n'.encode())
            await writer.drain()
            await asyncio.wait_for(reader.readline(), 5)        # 200 result=1
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        pass
    finally:
        writer.close()


async def record(name: str, args: argparse.Namespace) -> None:
    routing = await asyncio.start_server(answer_route, "127.0.0.1", ROUTING_PORT)
    s = await Session.open(args.host, args.port)
    try:
        await s.login(args.user, args.secret)
        await SCENARIOS[name](s)
        await s.logoff()
    except BaseException:
        # Keep a failed run for reading, away from the transcripts.
        s.save(Path(tempfile.gettempdir()), f"{name}.failed")
        print(f"{name}: failed; what arrived is in {tempfile.gettempdir()}/"
              f"{name}.failed.ami", file=sys.stderr)
        raise
    finally:
        routing.close()
    s.save(args.out, name)
    print(f"{name}: {len(s.raw)} bytes, {len(s.messages)} messages", file=sys.stderr)


class LabAsterisk:
    """A fresh Asterisk on a copy of the lab config (only with --run-asterisk)."""

    def __init__(self, run_asterisk: str, confdir: Path) -> None:
        self.run_asterisk, self.confdir = run_asterisk, confdir
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "LabAsterisk":
        shutil.rmtree(self.confdir, ignore_errors=True)
        self.confdir.mkdir(parents=True)
        for conf in LAB.glob("*.conf"):
            shutil.copy(conf, self.confdir)
        log = open(self.confdir / "console.out", "wb")
        self.process = subprocess.Popen([self.run_asterisk, str(self.confdir)],
                                        stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run([self.run_asterisk, str(self.confdir), "-rx", "core stop now"],
                       capture_output=True, timeout=20)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def wait_for_port(host: str, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
            continue
        writer.close()
        await asyncio.sleep(1)   # the probe connection logs nothing, but let boot finish
        return


def lab_port() -> int:
    for line in (LAB / "manager.conf").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "port":
            return int(value)
    return 5038


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenarios", nargs="+", choices=sorted(SCENARIOS))
    p.add_argument("--out", type=Path, required=True, help="directory for NAME.ami/.actions")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=lab_port())
    p.add_argument("--user", default="hotline")
    p.add_argument("--secret", default="hotline-lab")
    p.add_argument("--run-asterisk", help="run-asterisk script: start a fresh Asterisk "
                                          "per scenario on a copy of tools/record/lab")
    p.add_argument("--confdir", type=Path, default=Path("/tmp/rec-lab"))
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.scenarios:
        if args.run_asterisk:
            with LabAsterisk(args.run_asterisk, args.confdir):
                asyncio.run(wait_for_port(args.host, args.port))
                asyncio.run(record(name, args))
        else:
            asyncio.run(record(name, args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

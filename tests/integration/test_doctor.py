"""`hotline doctor` as an operator runs it (a subprocess, settings from HOTLINE_AMI_*), against
the PBX double holding the shipped manager user's rights or fewer: all is well with exit 0;
a missing write or read class, a refused login, nothing or something else listening are each
named with what to change, exit 1."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hotline.testing.pbx import PbxDouble

ROOT = Path(__file__).resolve().parents[2]


def shipped_rights() -> tuple[frozenset[str], frozenset[str]]:
    """read = and write = of [hotline] in asterisk-config/manager.conf."""
    section = (ROOT / "asterisk-config" / "manager.conf").read_text("utf-8").split("[hotline]", 1)[1]
    found = {key: frozenset(value.split(",")) for key, value in re.findall(r"(?m)^(read|write)\s*=\s*(\S+)", section)}
    return found["read"], found["write"]


READ, WRITE = shipped_rights()


@pytest.fixture
async def pbx() -> AsyncIterator[PbxDouble]:
    double = PbxDouble(secret=secrets.token_hex(8))
    double.read, double.write = READ, WRITE
    await double.start()
    yield double
    await double.stop()


async def doctor(port: int, secret: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`hotline doctor ARGS` logging in to 127.0.0.1:port; its exit code and what it printed."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    environment |= {"HOTLINE_AMI_HOST": "127.0.0.1", "HOTLINE_AMI_PORT": str(port), "HOTLINE_AMI_SECRET": secret, "HOTLINE_LOG_FORMAT": "json", **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline", "doctor", *args, env=environment, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


def verdicts(output: str) -> dict[str, str]:
    """subject -> verdict ("OK", "PROBLEM", ...) from the report's lines."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"\S+ (OK|PROBLEM|NOT CHECKED|WARNING|NOTE)  ([^:]+):", line)
        if match and match[2] != "probe":
            found[match[2]] = match[1]
    return found


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_shipped_rights_are_all_well_and_the_probes_leave_nothing_behind(pbx: PbxDouble) -> None:
    code, out = await doctor(pbx.port, pbx.secret)

    assert code == 0, out
    assert "all is well" in out.splitlines()[-1] and "一切正常" in out.splitlines()[-1]
    seen = verdicts(out)
    for subject in ("write reporting", "write originate", "write agent", "read system", "read call", "read agent", "read dialplan", "timestampevents", "context hotline-callback", "context hotline-survey", "context hotline-spy", "queue hotline"):
        assert seen.pop(subject) == "OK", (subject, out)
    assert seen.pop("read user") == "NOT CHECKED"  # only a UserEvent shows it
    assert set(seen.values()) == {"OK"}, out
    assert pbx.secret not in out
    # The placeholder member went again; the probe call went nowhere; the session logged off.
    assert pbx.world.queues.get("hotline") is None or not pbx.world.queues["hotline"].members
    assert not pbx.world.channels
    names = [action["Action"] for action in pbx.actions]
    assert names.count("QueueAdd") == 1 and names[-1] == "Logoff"


async def test_a_missing_write_class_is_named_with_the_line_that_gives_it(pbx: PbxDouble) -> None:
    pbx.write = WRITE - {"originate"}

    code, out = await doctor(pbx.port, pbx.secret)

    assert code == 1, out
    seen = verdicts(out)
    assert [subject for subject, verdict in seen.items() if verdict == "PROBLEM"] == ["write originate"]
    assert "may not send Originate" in out
    assert "add originate to write = in [hotline] of manager.conf" in out
    assert 'in [hotline] of manager.conf: add originate to write =; then asterisk -rx "manager reload" and restart the service' in out
    # Without Originate the call and dialplan classes cannot be shown: said, not guessed.
    assert seen["read call"] == seen["read dialplan"] == "NOT CHECKED"
    assert "Originate" not in [action["Action"] for action in pbx.actions]


async def test_missing_read_classes_are_named_from_the_events_that_did_not_come(pbx: PbxDouble) -> None:
    pbx.read = READ - {"agent", "system"}

    code, out = await doctor(pbx.port, pbx.secret)

    assert code == 1, out
    problems = [subject for subject, verdict in verdicts(out).items() if verdict == "PROBLEM"]
    assert problems == ["read system", "read agent"]
    assert "no FullyBooted arrived" in out and "no QueueMemberAdded arrived" in out
    assert "in [hotline] of manager.conf: add system, agent to read =" in out


async def test_a_refused_login_names_the_secret_and_the_address(pbx: PbxDouble) -> None:
    code, out = await doctor(pbx.port, "not-the-secret")

    assert code == 1
    assert verdicts(out) == {"连接 connection": "OK", "登录 login": "PROBLEM"}
    assert "Asterisk refused the login of user hotline (Authentication failed)" in out
    assert "ami.secret (HOTLINE_AMI_SECRET)" in out and "this host's address 127.0.0.1" in out
    assert "not-the-secret" not in out


async def test_nothing_listening_names_the_address_and_manager_conf() -> None:
    port = closed_port()

    code, out = await doctor(port, "secret")

    assert code == 1
    assert verdicts(out) == {"连接 connection": "PROBLEM"}
    assert f"127.0.0.1:{port} refused the connection: no AMI listens there" in out
    assert f"enabled = yes, port = {port} and a bindaddr" in out


async def test_something_else_listening_is_not_taken_for_asterisk() -> None:
    async def ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(ssh, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        code, out = await doctor(port, "secret")
    finally:
        server.close()
        await server.wait_closed()

    assert code == 1
    assert f"what answers at 127.0.0.1:{port} is not Asterisk's AMI" in out


async def test_no_probe_places_no_call_and_adds_no_member(pbx: PbxDouble) -> None:
    code, out = await doctor(pbx.port, pbx.secret, "--no-probe")

    assert code == 0, out
    seen = verdicts(out)
    assert seen["read call"] == seen["read agent"] == seen["read dialplan"] == "NOT CHECKED"
    assert "skipped with --no-probe" in out
    assert not {"Originate", "QueueAdd"} & {action["Action"] for action in pbx.actions}


async def test_without_an_asterisk_configured_there_is_nothing_to_check() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "hotline", "doctor", env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()

    assert process.returncode == 2
    assert "ami.host is not set" in err.decode()

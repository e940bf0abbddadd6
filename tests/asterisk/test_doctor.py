"""`hotline doctor` against the real Asterisk 22: the shipped `hotline` user passes and the
probes leave nothing behind; users with fewer rights get exactly their missing classes named
(in a lab of this module's own, so the session's lab keeps its users); and the PBX double
answers what the doctor asks as this Asterisk does."""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.doctor import PROBE_CHANNEL
from hotline.testing.pbx import PbxDouble
from tests.acceptance.conftest import free_port
from tests.asterisk.ami import AmiSession, Message
from tests.asterisk.lab import Asterisk, boot, build_confdir, start, stop
from tests.integration.test_doctor import doctor, verdicts

SHIPPED = ("write reporting", "write originate", "write agent", "read system", "read call", "read agent", "read dialplan",
           "timestampevents", "context hotline-callback", "context hotline-survey", "context hotline-spy", "queue hotline")  # fmt: skip
# Users the module's own lab adds to the shipped manager.conf: (read =, write =, permit).
REDUCED = {
    "reduced-read": ("call,user", "reporting,originate,agent", "127.0.0.1"),
    "reduced-write": ("system,call,agent,user,dialplan", "reporting", "127.0.0.1"),
    "elsewhere": ("system,call,agent,user,dialplan", "reporting,originate,agent", "192.0.2.1"),
}
REDUCED_SECRET = secrets.token_hex(8)


@pytest.fixture(scope="module")
def reduced_lab(asterisk: Asterisk) -> Iterator[Asterisk]:
    """A second Asterisk on the shipped config plus the REDUCED users."""
    confdir = Path(tempfile.mkdtemp(prefix="hd-", dir="/tmp"))
    lab = Asterisk(asterisk.run_asterisk, confdir, free_port(), free_port(), free_port(), free_port(), free_port(), secrets.token_hex(12), secrets.token_hex(12))
    try:
        build_confdir(lab)
        with (confdir / "manager.conf").open("a", encoding="utf-8") as conf:
            for user, (read, write, permit) in REDUCED.items():
                conf.write(f"\n[{user}]\nsecret = {REDUCED_SECRET}\ndeny = 0.0.0.0/0.0.0.0\npermit = {permit}/255.255.255.255\nread = {read}\nwrite = {write}\n")
        start(lab)
        asyncio.run(boot(lab))
        yield lab
    finally:
        stop(lab)
        shutil.rmtree(confdir, ignore_errors=True)


async def doctor_as(lab: Asterisk, user: str, secret: str) -> tuple[int, str]:
    return await doctor(lab.ami_port, secret, env={"HOTLINE_AMI_USERNAME": user})


def problems(out: str) -> list[str]:
    return [subject for subject, verdict in verdicts(out).items() if verdict == "PROBLEM"]


async def test_the_shipped_hotline_user_passes_and_the_probes_leave_nothing(asterisk: Asterisk) -> None:
    code, out = await doctor(asterisk.ami_port, asterisk.secret)

    assert code == 0, out
    seen = verdicts(out)
    assert [seen.pop(subject) for subject in SHIPPED] == ["OK"] * len(SHIPPED), out
    assert seen.pop("read user") == "NOT CHECKED"
    assert set(seen.values()) == {"OK"}, out
    assert "hotline-doctor" not in await asterisk.acli("queue show hotline")
    assert "hotline-doctor" not in await asterisk.acli("core show channels concise")
    assert any("No such extension/context hotline-doctor@hotline-doctor-probe" in line for line in asterisk.log_lines())


async def test_a_user_reading_too_little_gets_each_missing_read_class_named(reduced_lab: Asterisk) -> None:
    code, out = await doctor_as(reduced_lab, "reduced-read", REDUCED_SECRET)

    assert code == 1, out
    assert problems(out) == ["read system", "read agent", "read dialplan"]
    assert "in [reduced-read] of manager.conf: add system, agent, dialplan to read =;" in out
    assert "write =" not in out.splitlines()[-2]


async def test_a_user_writing_too_little_gets_each_missing_write_class_named(reduced_lab: Asterisk) -> None:
    code, out = await doctor_as(reduced_lab, "reduced-write", REDUCED_SECRET)

    assert code == 1, out
    assert problems(out) == ["write originate", "write agent"]
    assert "in [reduced-write] of manager.conf: add originate, agent to write =;" in out
    seen = verdicts(out)
    # What only a probe shows is said to be unchecked, not guessed; system shows at login.
    assert (seen["read system"], seen["read call"], seen["read agent"], seen["read dialplan"]) == ("OK", "NOT CHECKED", "NOT CHECKED", "NOT CHECKED")


async def test_a_refused_address_reads_as_a_refused_login_with_the_address_to_permit(reduced_lab: Asterisk) -> None:
    refused = await doctor_as(reduced_lab, "elsewhere", REDUCED_SECRET)
    wrong = await doctor_as(reduced_lab, "reduced-read", "not-the-secret")

    for code, out in (refused, wrong):
        assert code == 1
        assert problems(out) == ["登录 login"]
        assert "(Authentication failed)" in out and "this host's address 127.0.0.1" in out


# --- the PBX double answers the doctor as Asterisk 22 does -------------------------------------


async def test_the_double_lists_its_actions_as_asterisk_does(asterisk: Asterisk) -> None:
    real = await asterisk.ami()
    double = PbxDouble(secret="s")
    await double.start()
    session = await AmiSession.connect(double.port)
    try:
        await session.login("hotline", "s")
        theirs, ours = await real.action("ListCommands"), await session.action("ListCommands")
    finally:
        await session.close()
        await double.stop()
        await real.close()
    listed = {key: value for key, value in ours.items() if key not in ("Response", "ActionID")}
    assert listed and {key: theirs.get(key) for key in listed} == listed
    assert list(listed) == sorted(listed, key=str.lower)


async def test_the_double_answers_an_originate_into_a_missing_context_as_asterisk_does(asterisk: Asterisk) -> None:
    real = await asterisk.ami()
    double = PbxDouble(secret="s")
    await double.start()
    session = await AmiSession.connect(double.port)
    try:
        await session.login("hotline", "s")
        theirs = await _probe_call(real, "hotline-doctor-real")
        ours = await _probe_call(session, "hotline-doctor-real")
    finally:
        await session.close()
        await double.stop()
        await real.close()
    # The channels' own events come in their order; the OriginateResponse and the device
    # states come from other threads of Asterisk, at a place that varies from run to run.
    assert sorted(map(_shape, ours), key=repr) == sorted(map(_shape, theirs), key=repr)
    assert [_shape(m) for m in ours if "Linkedid" in m] == [_shape(m) for m in theirs if "Linkedid" in m]


async def _probe_call(session: AmiSession, channel_id: str) -> list[Message]:
    start = len(session.messages)
    reply = await session.action("Originate", Channel=PROBE_CHANNEL, Application="NoOp", Data="hotline doctor", Async="true", ChannelId=channel_id, Variable="HOTLINE_DOCTOR=probe")
    assert reply.get("Response") == "Success", reply
    await session.event("OriginateResponse", start=start, Uniqueid=channel_id)
    await asyncio.sleep(0.3)  # the last DeviceStateChange follows the OriginateResponse
    mine = (channel_id, f"{channel_id};2")
    return [m for m in session.messages[start:] if m.get("Uniqueid") in mine or m.get("Device") == PROBE_CHANNEL]


def _shape(message: Message) -> tuple[object, ...]:
    """An event's headers in order and the values that are not a time or a sequence number."""
    kept = ("Event", "Privilege", "ChannelState", "Context", "Exten", "Uniqueid", "Linkedid", "Variable", "Value", "Cause", "Response", "Reason", "Application", "State")
    channel = re.sub(r"-[0-9a-f]{8}(;[12])$", r"-N\1", message.get("Channel", ""))
    return (tuple(message), channel, tuple(message.get(key) for key in kept))

"""A real SIP call through chan_pjsip: a caller whose display name is Chinese comes in on
the carrier trunk of the pjsip.conf sample and reaches agent 8101's desk phone (sipp)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.acceptance.conftest import Hotline
from tests.asterisk.lab import SIPP_SCENARIOS, Asterisk, Lab
from tests.asterisk.service import all_ended, calls_when, summary

SIPP = shutil.which("sipp")
pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp is not installed (Debian package sip-tester; .ci/debian-deps installs it)")


async def _sipp(cwd: Path, name: str, *args: str) -> asyncio.subprocess.Process:
    assert SIPP is not None
    with (cwd / f"{name}.out").open("wb") as out:
        # -timeout: sipp gives up by itself rather than outliving a failed test.
        return await asyncio.create_subprocess_exec(SIPP, *args, "-nostdin", "-timeout", "40s", "-trace_err", cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


async def _finish(process: asyncio.subprocess.Process, cwd: Path) -> None:
    try:
        async with asyncio.timeout(45):
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        said = "\n".join(f"{p.name}: {p.read_text('utf-8', 'replace')[-1500:]}" for p in sorted(cwd.glob("*.out")) + sorted(cwd.glob("*_errors.log")))
        pytest.fail(f"sipp exited with {process.returncode}\n{said}")


async def _quiet_phone(port: int, quiet: float = 1.0, most: float = 40.0) -> None:
    """Until phone 8101's address has been quiet for `quiet` seconds: an earlier test may
    have rung PJSIP/8101 (no phone there then), and Asterisk goes on retransmitting the
    CANCEL of that call for up to 32 s (Timer F). Each request heard is answered 481, which
    ends its retransmissions; sipp started into them would abort on the stray CANCEL."""
    loop = asyncio.get_running_loop()
    heard = asyncio.Event()

    class Answer(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            heard.set()
            head = data.decode("utf-8", "replace").split("\r\n")
            if not head or head[0].startswith("SIP/2.0"):
                return  # a response: nothing to answer
            kept = [line for line in head[1:] if line.split(":", 1)[0].strip().lower() in ("via", "from", "to", "call-id", "cseq")]
            reply = "\r\n".join(["SIP/2.0 481 Call/Transaction Does Not Exist", *kept, "Content-Length: 0", "", ""])
            self.transport.sendto(reply.encode(), addr)  # type: ignore[attr-defined]

    transport, _ = await loop.create_datagram_endpoint(Answer, local_addr=("127.0.0.1", port))
    try:
        deadline = loop.time() + most
        while loop.time() < deadline:
            heard.clear()
            try:
                await asyncio.wait_for(heard.wait(), quiet)
            except TimeoutError:
                return
    finally:
        transport.close()


async def test_a_sip_caller_with_a_chinese_name_reaches_an_agent_phone(asterisk: Asterisk, lab: Lab, hotline: Hotline, tmp_path: Path) -> None:
    await _quiet_phone(asterisk.agent_sip_port)
    await hotline.start()
    callers = tmp_path / "callers.csv"
    callers.write_text("SEQUENTIAL\n13912345678;张三（巴中）\n", "utf-8")
    await lab.pause("PJSIP/8101", paused=False)
    phones: list[asyncio.subprocess.Process] = []
    try:
        phones.append(await _sipp(tmp_path, "agent", "-sf", str(SIPP_SCENARIOS / "agent-uas.xml"), "-i", "127.0.0.1", "-p", str(asterisk.agent_sip_port), "-m", "1"))
        await asyncio.sleep(0.3)  # listening before the queue rings it
        phones.append(await _sipp(tmp_path, "caller", f"127.0.0.1:{asterisk.sip_port}", "-sf", str(SIPP_SCENARIOS / "caller-uac.xml"), "-inf", str(callers), "-i", "127.0.0.1", "-p", str(asterisk.carrier_sip_port), "-m", "1"))
        for phone in reversed(phones):  # the caller hangs up first
            await _finish(phone, tmp_path)
    finally:
        for phone in phones:
            if phone.returncode is None:
                phone.kill()
                await phone.wait()
        await lab.pause("PJSIP/8101", paused=True)

    calls = await calls_when(hotline, all_ended(1))
    assert summary(calls) == [("13912345678", "张三（巴中）", "hotline", "agent-8101", "answered")]
    assert calls[0]["agent_interface"] == "PJSIP/8101"

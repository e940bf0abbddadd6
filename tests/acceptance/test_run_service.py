"""`hotline run` against the PBX double: calls show in the API, and a restart (even kill -9
with a call up) loses none and doubles none."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import pytest

from hotline.testing.pbx import PbxDouble
from hotline.testing.transcripts import headers, recorded_events
from tests.acceptance.conftest import ROOT, Hotline
from tests.expected import EXPECTED_CALLS

pytestmark = pytest.mark.acceptance


def _summary(calls: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(((c["caller_number"], c["caller_name"], c["queue"], c["agent"], c["outcome"]) for c in calls), key=lambda row: tuple(x or "" for x in row))


def _expected(*names: str) -> list[tuple[Any, ...]]:
    return sorted((row for name in names for row in EXPECTED_CALLS[name]), key=lambda row: tuple(x or "" for x in row))


async def _calls_when(hotline: Hotline, done: Any, timeout: float = 15) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        while True:
            calls = (await hotline.get("/api/calls?limit=1000"))["calls"]
            if done(calls):
                return calls
            await asyncio.sleep(0.05)


async def _tickets_when(hotline: Hotline, done: Any, timeout: float = 10) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        while True:
            tickets = (await hotline.get("/api/tickets"))["tickets"]
            if done(tickets):
                return tickets
            await asyncio.sleep(0.05)


async def test_calls_from_the_pbx_show_in_the_api_and_survive_a_restart(pbx: PbxDouble, hotline: Hotline) -> None:
    await hotline.start()
    names = ("answered-regular", "abandoned-in-queue", "chinese-names")
    for name in names:
        pbx.play(recorded_events(name))
    calls = await _calls_when(hotline, lambda c: len(c) == 4 and all(x["state"] == "ended" for x in c))
    assert _summary(calls) == _expected(*names)
    # Every answered call has a ticket; 张三 rang from Zhang San's number while that
    # ticket was open, so his call joined it instead of opening a second one.
    tickets = await _tickets_when(hotline, lambda t: len(t) == 2)
    assert sorted(t["caller_name"] for t in tickets) == ["Zhang San", "李四（巴中分公司）"]
    assert {t["owner_user_id"] for t in tickets if t["caller_name"] == "Zhang San"} == {hotline.agent_8001_id}
    detail = await hotline.get(f"/api/calls/{calls[0]['id']}")
    timeline_before = len(detail["timeline"])

    assert await hotline.kill(signal.SIGTERM) == 0
    await hotline.start()
    after = (await hotline.get("/api/calls?limit=1000"))["calls"]
    assert _summary(after) == _expected(*names)
    assert len((await hotline.get(f"/api/calls/{calls[0]['id']}"))["timeline"]) == timeline_before


async def test_kill_9_with_a_call_up_then_restart_ends_it_right_once(pbx: PbxDouble, hotline: Hotline) -> None:
    await hotline.start()
    events = recorded_events("answered-vip")
    connect = next(i for i, e in enumerate(events) if e.startswith(b"Event: AgentConnect"))
    pbx.play(events[: connect + 1])
    await _calls_when(hotline, lambda c: len(c) == 1 and c[0]["state"] == "talking")

    await hotline.kill(signal.SIGKILL)
    for event in events[connect + 1 :]:  # the call ends while the service is down
        pbx.world.apply(headers(event))
    pbx.play(recorded_events("answered-regular"))  # and a new call comes after the restart
    await hotline.start()

    calls = await _calls_when(hotline, lambda c: len(c) == 2 and all(x["state"] == "ended" for x in c))
    assert _summary(calls) == _expected("answered-vip", "answered-regular")
    vip = next(c for c in calls if c["caller_number"] == "13800000001")
    assert vip["reconciled"] is True and vip["answered_at"] is not None
    timeline = [step["kind"] for step in (await hotline.get(f"/api/calls/{vip['id']}"))["timeline"]]
    assert timeline.count("answered") == 1 and timeline.count("ended") == 1
    assert hotline.starts == 2


async def test_a_call_that_starts_while_the_service_is_down_is_picked_up_by_the_resync(pbx: PbxDouble, hotline: Hotline) -> None:
    await hotline.start()
    await hotline.kill(signal.SIGKILL)
    events = recorded_events("answered-regular")
    connect = next(i for i, e in enumerate(events) if e.startswith(b"Event: AgentConnect"))
    for event in events[: connect + 1]:
        pbx.world.apply(headers(event))
    pbx.play(events[connect + 1 :])
    await hotline.start()
    calls = await _calls_when(hotline, lambda c: len(c) == 1 and c[0]["state"] == "ended")
    assert _summary(calls) == _expected("answered-regular")
    assert calls[0]["reconciled"] is True


async def test_logs_mask_numbers_and_never_show_the_secret(pbx: PbxDouble, hotline: Hotline) -> None:
    await hotline.start()
    pbx.play(recorded_events("answered-regular"))
    await _calls_when(hotline, lambda c: len(c) == 1 and c[0]["state"] == "ended")
    await hotline.kill(signal.SIGTERM)
    text = hotline.log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "call.answered" and line.get("call") for line in lines)
    assert "13912345678" not in text and "139****5678" in text
    assert "acceptance" not in text  # the AMI secret


async def test_bad_config_fails_at_start_with_one_line_per_problem(hotline: Hotline) -> None:
    env = {**hotline.env, "HOTLINE_AMI_PORT": "0", "HOTLINE_DATABASE_URL": "oracle://x", "HOTLINE_AMI_SECRET": ""}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "hotline", "run", env=env, cwd=ROOT, stderr=asyncio.subprocess.PIPE)
    _, err = await process.communicate()
    assert process.returncode == 2
    problems = [line for line in err.decode().splitlines() if line.startswith("  ")]
    assert len(problems) == 3, err.decode()
    assert any("HOTLINE_AMI_PORT" in p for p in problems) and any("ami.secret" in p for p in problems)

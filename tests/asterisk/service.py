"""The hotline service as the real-Asterisk tier runs it, and what it stored."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.acceptance.conftest import ROOT, Hotline, free_port
from tests.asterisk.lab import die_with_parent


class LabHotline(Hotline):
    """The acceptance tier's `hotline run`, which also dies with this test run."""

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self._logs.append(log)
        self.process = await asyncio.create_subprocess_exec(sys.executable, "-m", "hotline", "run", env=self.env, cwd=ROOT, stdout=log, stderr=log, preexec_fn=die_with_parent)
        self.starts += 1
        await self.wait_health(lambda h: h["ami"]["connected"])


Row = tuple[str | None, str | None, str | None, str | None, str | None]


def summary(calls: list[dict[str, Any]]) -> list[Row]:
    """(caller number, caller name, queue, agent, outcome) per call, sorted: the shape of tests/expected.py."""
    rows = [(c["caller_number"], c["caller_name"], c["queue"], c["agent"], c["outcome"]) for c in calls]
    return sorted(rows, key=lambda row: tuple(x or "" for x in row))


async def calls_when(hotline: Hotline, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 20) -> list[dict[str, Any]]:
    """The stored calls once `done` accepts them; on timeout, fails showing the last ones."""
    calls: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                calls = (await hotline.get("/api/calls?limit=1000"))["calls"]
                if done(calls):
                    return calls
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"the service's calls after {timeout}s: {summary(calls)} states {[c['state'] for c in calls]}")


def all_ended(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda calls: len(calls) >= count and all(c["state"] == "ended" for c in calls)


async def timeline(hotline: Hotline, call: dict[str, Any]) -> list[str]:
    return [step["kind"] for step in (await hotline.get(f"/api/calls/{call['id']}"))["timeline"]]


async def metric(hotline: Hotline, name: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{hotline.url}/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith(f"{name} ") or line.startswith(f"{name}{{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- routing: the service answers the lab dialplan's FastAGI -------------------------------

# The lab's customer directory (docs/customers.md). The key account's manager is user
# 王经理, whose extension 8061 is a lab agent (Local/8061@agents/n) when a test adds it.
MANAGER, MANAGER_EXTENSION = "王经理", "8061"
CUSTOMERS_CSV = f"""external_ref,name,tier,area,numbers,account_manager,notes
LAB-VIP,李四,vip,urban,13800000001,,
LAB-REG,张三,regular,suburban,139 1234 5678,,
LAB-KEY,巴中市人民医院,key_account,urban,0827-5551234,{MANAGER},总机
"""
VIP, REGULAR, KEY_ACCOUNT = "13800000001", "13912345678", "08275551234"


def routing_env(agi_port: int) -> dict[str, str]:
    """The service's FastAGI on the port the lab dialplan asks, in working hours now: the
    rules try nobody first and send VIPs to the general queue after hours, so the hours
    are put in a time zone where it is about midday, every day of the week."""
    offset = 12 - datetime.now(UTC).hour  # -11 .. +12: every one is an Etc/GMT zone
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs: GMT-8 is UTC+8
    return {
        "HOTLINE_ROUTING_AGI_PORT": str(agi_port),
        "HOTLINE_ROUTING_TIMEZONE": zone,
        "HOTLINE_ROUTING_WORK_DAYS": "mon,tue,wed,thu,fri,sat,sun",
        "HOTLINE_ROUTING_WORK_START": "08:30",
        "HOTLINE_ROUTING_WORK_END": "17:30",
    }


async def import_lab_customers(hotline: Hotline, folder: Path) -> str:
    """The account manager as a user, then the lab's customers through the CLI; its report."""
    await hotline.command("user", "add", MANAGER, "--role", "agent", "--extension", MANAGER_EXTENSION)
    path = folder / "customers.csv"
    path.write_text(CUSTOMERS_CSV, "utf-8")
    report = await hotline.command("customers", "import", str(path))
    assert "created 3, updated 0, skipped 0" in report, report
    return report


async def customer_ids(hotline: Hotline) -> dict[str, str]:
    """Customer name -> id as the dialplan sees it (HOTLINE_CUSTOMER)."""
    found = (await hotline.get("/api/customers?limit=1000"))["customers"]
    return {c["name"]: str(c["id"]) for c in found}


async def ask_route(port: int, number: str, timeout: float = 5) -> dict[str, str]:
    """Ask the service's FastAGI for a route as Asterisk does; the variables it sets.

    For tests to wait until the service's view (an agent's presence) is what they need
    before a real call asks the same question."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            block = (
                "agi_network: yes\nagi_network_script: route\nagi_request: agi://127.0.0.1/route\n"
                f"agi_channel: Local/probe\nagi_callerid: {number}\nagi_calleridname: probe\n"
                "agi_callingpres: 0\nagi_uniqueid: probe.1\nagi_context: hotline-in\nagi_extension: 96655\n\n"
            )
            writer.write(block.encode())
            line = (await reader.readline()).decode("utf-8").strip()
            writer.write(b"200 result=0\n")
            await writer.drain()
            await reader.read()  # the service closes: the decision is complete
        finally:
            writer.close()
    found = re.fullmatch(r'EXEC Set "ARRAY\(([^)]*)\)=(.*)"', line)
    assert found, f"not the one Set the service answers with: {line!r}"
    return dict(zip(found[1].split(","), found[2].split(","), strict=True))


async def route_until(port: int, number: str, done: Callable[[dict[str, str]], bool], timeout: float = 5) -> dict[str, str]:
    answer: dict[str, str] = {}
    try:
        async with asyncio.timeout(timeout):
            while not done(answer := await ask_route(port, number)):
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"the service still answers {answer} for {number} after {timeout}s")
    return answer


Tiered = tuple[str | None, str | None, str | None, str | None, str | None, str | None]


def tiered(calls: list[dict[str, Any]]) -> list[Tiered]:
    """summary() with the tier: (caller number, name, queue, agent, outcome, tier), sorted."""
    rows = [(c["caller_number"], c["caller_name"], c["queue"], c["agent"], c["outcome"], c["tier"]) for c in calls]
    return sorted(rows, key=lambda row: tuple(x or "" for x in row))


def route_of(call: dict[str, Any]) -> tuple[str | None, int | None, str | None, str | None]:
    """What the stored call says the service decided: (tier, queue, priority, customer)."""
    return call["tier"], call["route_queue"], call["route_priority"], call["customer"]


def by_number(calls: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    numbers = [c["caller_number"] for c in calls]
    assert len(set(numbers)) == len(numbers), numbers
    return {c["caller_number"]: c for c in calls}


def service_env(ami_port: int, secret: str, folder: Path, name: str) -> dict[str, str]:
    """A `hotline run` environment: this AMI, its own database, web and FastAGI ports."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
        "HOTLINE_AMI_HOST": "127.0.0.1",
        "HOTLINE_AMI_PORT": str(ami_port),
        "HOTLINE_AMI_SECRET": secret,
        "HOTLINE_AMI_RECONNECT_MIN": "0.1",
        "HOTLINE_AMI_RECONNECT_MAX": "0.5",
        "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / f'{name}.db'}",
        "HOTLINE_WEB_PORT": str(free_port()),
        # The service's own FastAGI server, on a port the lab's dialplan does not ask:
        # these take the default route (routing_env() makes a service answer it).
        "HOTLINE_ROUTING_AGI_PORT": str(free_port()),
        "HOTLINE_LOG_FORMAT": "json",
        # No callbacks placed: a caller these tests leave in the queue is a lost caller,
        # and its callback would ring the default agent phone PJSIP/8101, the SIP test's
        # sipp phone (its stray INVITE or CANCEL aborted that test). The callback tests
        # point their own dispatcher at the lab's simulated agents and customers.
        "HOTLINE_CALLBACKS_ENABLED": "false",
    }


async def new_hotline(env: dict[str, str], log: Path) -> LabHotline:
    """A LabHotline on `env` with a supervisor's token (not started)."""
    service = LabHotline(env, log)
    service.token = (await service.command("user", "add", "x", "--role", "supervisor")).strip().splitlines()[-1]
    return service

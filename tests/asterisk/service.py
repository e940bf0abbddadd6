"""The hotline service as the real-Asterisk tier runs it, and what it stored."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.acceptance.conftest import ROOT, Hotline
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

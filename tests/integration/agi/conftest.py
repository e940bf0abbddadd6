"""A routing server on a real TCP port, fed by an in-memory directory and a fixed clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.metrics import Metrics
from hotline.routing.agi import AgiHandler, FastAgiServer
from hotline.routing.answer import RoutingService
from hotline.routing.decide import Caller, Route
from hotline.routing.profile import CallerProfile
from hotline.routing.rules import DEFAULT_RULES, RoutingRules

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)

DIRECTORY = {
    "13912345678": CallerProfile(1, "张三", "regular", "urban", None, None),
    "13800000001": CallerProfile(2, "李四", "vip", "urban", None, None),
    "08275551234": CallerProfile(3, "王五", "regular", "suburban", None, None),
    "13600000004": CallerProfile(4, "巴中市政府", "key_account", "urban", "赵经理", "8005"),
    "13600000005": CallerProfile(5, "巴中银行专线", "private_network", "urban", None, None),
    "13600000006": CallerProfile(6, "周九", "regular", "rural", None, None, "8002"),
    "13700000009": CallerProfile(9, "Slow Route", "regular", "urban", None, None),
}


def digits_only(raw: str) -> str:
    """Stands in for hotline.routing.numbers.normalise: digits pass, anything else is junk."""
    if not raw.isdigit():
        raise ValueError(f"{raw!r} is not all digits")
    return raw


@dataclass
class FakeDirectory:
    """The directory's lookup from a dict; some numbers can be made slow or failing."""

    profiles: Mapping[str, CallerProfile] = field(default_factory=lambda: DIRECTORY)
    slow: Mapping[str, float] = field(default_factory=dict)
    failing: frozenset[str] = frozenset()
    asked: list[str] = field(default_factory=list)

    async def lookup(self, number: str) -> CallerProfile | None:
        self.asked.append(number)
        if number in self.slow:
            await asyncio.sleep(self.slow[number])
        if number in self.failing:
            raise ConnectionError("database is down")
        return self.profiles.get(number)


@dataclass
class Running:
    port: int
    metrics: Metrics
    directory: FakeDirectory
    recorded: list[tuple[Route, Caller]]
    server: FastAgiServer


Start = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_routing() -> AsyncIterator[Start]:
    servers: list[FastAgiServer] = []

    async def start(
        *,
        directory: FakeDirectory | None = None,
        available: frozenset[str] = frozenset(),
        now: datetime = MONDAY_MORNING,
        budget_ms: int = 300,
        header_timeout: float = 2.0,
        rules: RoutingRules = DEFAULT_RULES,
        record: Callable[[Route, Caller], Awaitable[None]] | None = None,
        handlers: Mapping[str, AgiHandler] | None = None,
    ) -> Running:
        directory = directory or FakeDirectory()
        metrics, recorded = Metrics(), []

        async def keep(route: Route, caller: Caller) -> None:
            recorded.append((route, caller))
            if record is not None:
                await record(route, caller)

        service = RoutingService(
            directory.lookup, rules, lambda: now, available.__contains__, budget_ms, keep,
            normalise=digits_only, metrics=metrics,
        )
        server = FastAgiServer(
            "127.0.0.1", 0, {"route": service, **(handlers or {})},
            header_timeout=header_timeout, metrics=metrics,
        )
        servers.append(server)
        return Running(await server.start(), metrics, directory, recorded, server)

    yield start
    for server in servers:
        await server.stop()

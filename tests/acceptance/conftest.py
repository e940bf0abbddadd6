"""Acceptance: `python -m hotline` as a subprocess, as users run it, against the PBX double."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hotline.testing.pbx import PbxDouble
from tests.databases import PostgresDatabases, postgres_unavailable

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Hotline:
    """One `hotline run` process (restartable) with its environment and log."""

    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    token: str = ""
    agent_8001_id: int = 0
    starts: int = 0
    _logs: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['HOTLINE_WEB_PORT']}"

    async def command(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "hotline", *args, env=self.env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self._logs.append(log)
        self.process = await asyncio.create_subprocess_exec(sys.executable, "-m", "hotline", "run", env=self.env, cwd=ROOT, stdout=log, stderr=log)
        self.starts += 1
        await self.wait_health(lambda h: h["ami"]["connected"])

    async def wait_health(self, ok: Callable[[dict[str, Any]], bool], timeout: float = 20) -> None:
        async with asyncio.timeout(timeout), aiohttp.ClientSession() as http:
            while True:
                assert self.process is not None and self.process.returncode is None, self.log_path.read_text()[-3000:]
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        if ok(await response.json()):
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)

    async def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return await self.process.wait()

    async def get(self, path: str) -> Any:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {self.token}"}) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill(signal.SIGTERM)
        for log in self._logs:
            log.close()


@pytest.fixture
async def pbx() -> AsyncIterator[PbxDouble]:
    double = PbxDouble(secret="acceptance")
    await double.start()
    yield double
    await double.stop()


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A fresh migrated PostgreSQL database, dropped after (skips where PostgreSQL does not answer)."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    databases = PostgresDatabases()
    url = await databases.create()
    try:
        yield url
    finally:
        await databases.drop(url)
        await databases.drop_template()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
        return
    async with fresh_postgres() as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        yield url


@pytest.fixture
async def hotline(pbx: PbxDouble, tmp_path: Path, database_url: str) -> AsyncIterator[Hotline]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
        "HOTLINE_AMI_HOST": "127.0.0.1",
        "HOTLINE_AMI_PORT": str(pbx.port),
        "HOTLINE_AMI_SECRET": "acceptance",
        "HOTLINE_AMI_RECONNECT_MIN": "0.05",
        "HOTLINE_AMI_RECONNECT_MAX": "0.2",
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_WEB_PORT": str(free_port()),
        "HOTLINE_ROUTING_AGI_PORT": str(free_port()),
        "HOTLINE_LOG_FORMAT": "json",
    }
    service = Hotline(env, tmp_path / "hotline.log")
    service.token = (await service.command("user", "add", "supervisor1", "--role", "supervisor")).strip().splitlines()[-1]
    await service.command("user", "add", "agent8001", "--role", "agent", "--extension", "8001")
    service.agent_8001_id = 2
    yield service
    await service.close()

"""Browser tier: `python -m hotline run` as users run it, against the PBX double, driven in
Debian's headless chromium by Playwright. Skipped where /usr/bin/chromium is absent (CI
installs it: .ci/debian-deps)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hotline.testing.pbx import PbxDouble
from tests.acceptance.conftest import ROOT, Hotline, free_port

CHROMIUM = Path(os.environ.get("HOTLINE_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "热线-passw0rd"

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath) and not CHROMIUM.exists():
            item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} is absent (Debian package chromium; .ci/debian-deps installs it)"))


class Console(Hotline):
    """The service with an admin, and helpers to set the scene through its API."""

    admin_token: str = ""

    async def add_user(self, name: str, role: str, *extra: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hotline", "user", "add", name, "--role", role, "--password-stdin", *extra,
            env=self.env, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate(f"{PASSWORD}\n".encode())
        assert process.returncode == 0, err.decode()
        return out.decode().strip().splitlines()[-1]

    async def api(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with aiohttp.ClientSession() as http, http.request(method, f"{self.url}{path}", json=body, headers=headers) as response:
            assert response.status == expect, await response.text()
            return await response.json()


@pytest.fixture
async def pbx() -> AsyncIterator[PbxDouble]:
    double = PbxDouble(secret="browser")
    await double.start()
    yield double
    await double.stop()


@pytest.fixture
async def console(pbx: PbxDouble, tmp_path: Path) -> AsyncIterator[Console]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
        "HOTLINE_AMI_HOST": "127.0.0.1",
        "HOTLINE_AMI_PORT": str(pbx.port),
        "HOTLINE_AMI_SECRET": "browser",
        "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
        "HOTLINE_WEB_PORT": str(free_port()),
        "HOTLINE_ROUTING_AGI_PORT": str(free_port()),
        "HOTLINE_LOG_FORMAT": "json",
    }
    service = Console(env, tmp_path / "hotline.log")
    service.admin_token = await service.add_user("admin1", "admin")
    await service.start()
    yield service
    await service.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        await chromium.close()

"""The README's first commands, run as written: `make demo` and `make run` each set up and
start the service (the demo prints where to go and who may log in; the service answers
/healthz), `make test` is what .ci/run runs. Only the ports and the database file are
given (by environment), so nothing touches the checkout's own files or ports."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.acceptance.conftest import ROOT, free_port

pytestmark = pytest.mark.acceptance


def start_here_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Start here", 1)[1].split("\n## ", 1)[0]
    return [m.group(1).split("#")[0].strip() for m in re.finditer(r"^    (make [^\n]+)$", section, re.M)]


def test_the_readme_starts_with_the_demo_then_the_service_then_the_tests() -> None:
    assert start_here_commands() == ["make demo", "make run", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("command", ["make demo", "make run"])
async def test_a_start_here_command_runs_as_written(command: str, tmp_path: Path) -> None:
    assert command in start_here_commands()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
        "HOTLINE_WEB_PORT": str(port), "HOTLINE_ROUTING_AGI_PORT": str(free_port()),
        "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'readme.db'}", "HOTLINE_LOG_FORMAT": "json",
    }  # fmt: skip
    log = (tmp_path / "out.log").open("wb")
    process = await asyncio.create_subprocess_exec(*command.split(), cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        async with asyncio.timeout(120), aiohttp.ClientSession() as http:  # make may install first
            while True:
                assert process.returncode is None, (tmp_path / "out.log").read_text()[-3000:]
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200 and (await response.json())["ami"]["connected"]:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        if command == "make demo":
            async with asyncio.timeout(20):
                while "every password is demo-" not in (tmp_path / "out.log").read_text():
                    await asyncio.sleep(0.1)
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
        log.close()

"""`hotline demo` as a newcomer runs it: a subprocess on free ports that prints its URL and
log-ins; logged in through the HTTP API with what it printed, a supervisor sees within
seconds answered and abandoned calls, tickets (some forwarded to a department, deadlines
fired at the accelerated clock) and a lost caller's callback answered by a simulated
customer; SIGTERM stops it cleanly, and a second run on the same database adds nobody
twice."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.acceptance.conftest import ROOT, free_port

pytestmark = pytest.mark.acceptance
SEEN_WITHIN = 45.0  # seconds; the demo starts a call at once and one every ~1 s after


class Demo:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
            "HOTLINE_WEB_PORT": str(free_port()), "HOTLINE_ROUTING_AGI_PORT": str(free_port()), "HOTLINE_LOG_FORMAT": "json",
        }  # fmt: skip
        self.process: asyncio.subprocess.Process | None = None
        self.printed = ""
        self.log = (workdir / "demo.log").open("ab")

    async def start(self) -> str:
        """Started; the password it printed."""
        self.printed = ""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hotline", "demo", "--speed", "60", "--every", "1", env=self.env, cwd=self.workdir, stdout=asyncio.subprocess.PIPE, stderr=self.log,
        )  # fmt: skip
        assert self.process.stdout is not None
        async with asyncio.timeout(30):
            while "Ctrl-C" not in self.printed:
                line = await self.process.stdout.readline()
                assert line, f"the demo ended: {self.printed}\n{(self.workdir / 'demo.log').read_text()[-3000:]}"
                self.printed += line.decode()
        found = re.search(r"every password is (demo-[0-9a-f]+)", self.printed)
        assert found, self.printed
        return found.group(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['HOTLINE_WEB_PORT']}"

    async def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    made = Demo(tmp_path)
    yield made
    if made.process is not None and made.process.returncode is None:
        made.process.kill()
        await made.process.wait()
    made.log.close()


async def until(http: aiohttp.ClientSession, url: str, found: Callable[[Any], bool]) -> Any:
    body: Any = None
    try:
        async with asyncio.timeout(SEEN_WITHIN):
            while True:
                async with http.get(url) as response:
                    assert response.status == 200, await response.text()
                    body = await response.json()
                if found(body):
                    return body
                await asyncio.sleep(0.25)
    except TimeoutError:
        pytest.fail(f"not seen within {SEEN_WITHIN} s at {url}: {str(body)[:2000]}")


async def test_the_demo_shows_calls_tickets_and_a_callback_within_seconds(demo: Demo) -> None:
    password = await demo.start()
    assert f"open: http://127.0.0.1:{demo.env['HOTLINE_WEB_PORT']}/" in demo.printed
    for name in ("admin", "班长", "小王", "维修员", "王经理"):
        assert name in demo.printed

    async with aiohttp.ClientSession(base_url=demo.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post("/login", json={"name": "班长", "password": password}) as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["user"]["role"] == "supervisor"

        calls = await until(http, "/api/calls?limit=200", lambda b: {"answered", "abandoned"} <= {c["outcome"] for c in b["calls"]})
        assert any(c["caller_name"] for c in calls["calls"] if re.search(r"[\u4e00-\u9fff]", c["caller_name"] or ""))  # Chinese names
        tickets = await until(http, "/api/tickets?limit=200", lambda b: any(t.get("department_id") for t in b["tickets"]))
        assert tickets["tickets"], tickets
        callbacks = await until(http, "/api/callbacks", lambda b: any(c["state"] == "done" and c["outcome"] == "answered" for c in b["callbacks"]))
        assert any(c["kind"] == "abandoned" for c in callbacks["callbacks"])

    assert await demo.stop() == 0
    assert (demo.workdir / "hotline-demo.db").exists()  # its own database, never hotline.db
    assert not (demo.workdir / "hotline.db").exists()


async def test_a_second_run_on_the_same_database_gives_new_passwords_and_adds_nobody_twice(demo: Demo) -> None:
    first = await demo.start()
    assert await demo.stop() == 0
    second = await demo.start()
    assert second != first
    async with aiohttp.ClientSession(base_url=demo.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post("/login", json={"name": "admin", "password": first}) as response:
            assert response.status == 401
        async with http.post("/login", json={"name": "admin", "password": second}) as response:
            assert response.status == 200
        async with http.get("/api/users") as response:
            names = [u["name"] for u in (await response.json())["users"]]
    assert len(names) == len(set(names)) == 10
    assert await demo.stop() == 0

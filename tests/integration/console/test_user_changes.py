"""An admin's change to a user reaches the live console at once, through the service as
hotline/app.py composes it: a disabled user's open WebSocket is closed (and cannot come
back), and an extension moved to another agent sends the next pop to the new agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType

from hotline.app import Parts, build, web_app
from hotline.config import Settings, load_settings
from hotline.db.migrate import upgrade
from .conftest import messages

WAIT = 5.0
ZHANG_SAN = "1795533174.102"


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[Settings, Parts]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    # An AMI host nobody serves: no demo PBX starts, nothing connects (build() only builds).
    settings = load_settings(environ={"HOTLINE_DATABASE_URL": url, "HOTLINE_AMI_HOST": "127.0.0.1", "HOTLINE_AMI_PORT": "9", "HOTLINE_AMI_SECRET": "x"})
    await upgrade(url)
    parts = await build(settings)
    yield settings, parts
    await parts.pops.aclose()
    await parts.feed.aclose()
    await parts.directory.aclose()
    await parts.engine.dispose()


async def _hello(ws: Any) -> dict[str, Any]:
    message = await ws.receive_json(timeout=WAIT)
    assert message["type"] == "hello"
    return message


async def _next_pop(ws: Any) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        while True:
            message = await ws.receive_json()
            if message["type"] == "pop":
                return message


async def test_disabling_a_user_closes_their_socket_and_keeps_it_shut(service: tuple[Settings, Parts], aiohttp_client: Any) -> None:
    settings, parts = service
    client = await aiohttp_client(web_app(settings, parts))
    _, admin_token = await parts.users.add("管理员", "admin")
    agent, agent_token = await parts.users.add("agent8002", "agent", extension="8002")
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {agent_token}"})
    await _hello(ws)

    response = await client.patch(f"/api/users/{agent.id}", json={"disabled": True}, headers={"Authorization": f"Bearer {admin_token}"})
    assert response.status == 200, await response.text()

    closing = await ws.receive(timeout=WAIT)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert parts.hub.count() == 0
    refused = await client.get("/ws", headers={"Authorization": f"Bearer {agent_token}"})
    assert refused.status == 401


async def test_an_extension_moved_to_another_agent_pops_on_the_new_agents_page(service: tuple[Settings, Parts], aiohttp_client: Any) -> None:
    settings, parts = service
    client = await aiohttp_client(web_app(settings, parts))
    _, admin_token = await parts.users.add("管理员", "admin")
    old, old_token = await parts.users.add("老坐席", "agent", extension="8002")
    new, new_token = await parts.users.add("新坐席", "agent", extension="8012")
    admin = {"Authorization": f"Bearer {admin_token}"}
    first = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {old_token}"})
    await _hello(first)
    loading = parts.pops.agents.refresh_if_stale()  # the extension map, trusted for a minute
    assert loading is not None
    await loading

    # 8002 moves from 老坐席 to 新坐席: the next ring must follow it at once.
    for user_id, extension in ((old.id, "8099"), (new.id, "8002")):
        response = await client.patch(f"/api/users/{user_id}", json={"extension": extension}, headers=admin)
        assert response.status == 200, await response.text()
    closing = await first.receive(timeout=WAIT)  # a changed user's page reconnects, authorised anew
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    second = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {new_token}"})
    await _hello(second)

    # chinese-names: 张三's call rings Local/8002@agents.
    call = [m for m in messages("chinese-names") if m.get("Linkedid", ZHANG_SAN) == ZHANG_SAN]
    await parts.capture.handle(call)  # type: ignore[arg-type]
    pop = await _next_pop(second)
    assert pop["caller"]["callerid_name"] == "张三"
    assert pop["stage"] == "ringing"

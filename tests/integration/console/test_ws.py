"""GET /ws itself: who may open it, the greeting, and what the browser may send."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from hotline.metrics import Metrics
from hotline.users.store import UserStore
from hotline.web.app import create_app
from hotline.web.ws import add_ws_routes

from .conftest import Console, agents


async def test_a_request_without_a_user_is_refused(console: Console) -> None:
    response = await console.client.get("/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert response.status == 401
    assert (await response.json())["error_id"] == "unauthorized"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await console.client.ws_connect("/ws")
    assert refused.value.status == 401
    assert console.hub.count() == 0


async def test_with_the_services_own_middleware_a_bearer_token_opens_it_and_nothing_else_does(console: Console, aiohttp_client: Any) -> None:
    """create_app's auth middleware sets request[USER] on /ws (cookie or bearer token)."""
    users = UserStore(console.engine)
    agent, token = await users.add("agent8004", "agent", extension="8004")
    app = create_app(console.store, users, Metrics(), lambda: True)
    add_ws_routes(app, console.hub, hello=[console.pops.hello, console.feed.hello])
    client = await aiohttp_client(app)

    refused = await client.get("/ws")
    with pytest.raises(aiohttp.WSServerHandshakeError) as wrong_token:
        await client.ws_connect("/ws", headers={"Authorization": "Bearer nope"})
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    hello = await ws.receive_json()

    assert refused.status == 401 and wrong_token.value.status == 401
    assert hello["type"] == "hello" and hello["user"]["id"] == agent.id and hello["user"]["extension"] == "8004"
    await ws.close()


async def test_hello_says_who_you_are_and_what_is_going_on(console: Console) -> None:
    agent = await console.connect("agent8001")
    supervisor = await console.connect("值班长")

    hello = await agent.next("hello")
    staff_hello = await supervisor.next("hello")

    assert hello["user"] == {"id": console.people["agent8001"].id, "name": "agent8001", "role": "agent", "extension": "8001", "department_id": None}
    assert hello["pop"] is None and "calls" not in hello
    assert hello["server_time"] == "2026-11-25T02:00:00+00:00"
    assert staff_hello["calls"] == [] and staff_hello["pop"] is None
    assert agent.received[0]["type"] == "hello"  # first, before anything else


async def test_ping_gets_pong_and_anything_else_an_error_that_changes_nothing(console: Console) -> None:
    (socket,) = await agents(console, "维修员")

    for frame in ('{"type": "ping"}', "not json", '{"type": "pop", "call_id": "x"}', "[1, 2]", '"ping"'):
        await socket.ws.send_str(frame)
    await socket.ws.send_bytes(b"\x00\x01")
    await socket.ws.send_str('{"type": "ping"}')

    assert (await socket.next("pong"))["type"] == "pong"
    errors = [await socket.next("error") for _ in range(5)]
    assert [e["message"] for e in errors] == [
        "not JSON",
        "unknown message type 'pop'; the console sends only ping",
        "a message is a JSON object with a type",
        "a message is a JSON object with a type",
        "send JSON text frames, not binary",
    ]
    await socket.next("pong")
    assert console.hub.count() == 1 and not socket.ws.closed
    assert [m["type"] for m in socket.received] == ["hello", "pong", "error", "error", "error", "error", "error", "pong"]

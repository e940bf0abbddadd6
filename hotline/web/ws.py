"""GET /ws: the console's WebSocket. The auth middleware has set request[USER] (session
cookie, with its Origin checked, or bearer token); this handler refuses a request without
one all the same, greets the socket with `hello`, hands it to the hub and answers what the
browser sends."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from hotline.console.hub import Hub
from hotline.users.store import User
from hotline.web.app import USER
from hotline.web.responses import json_response

log = structlog.get_logger(__name__)

HUB = web.AppKey("hub", Hub)
# What a client may send is tiny (`{"type": "ping"}`); anything bigger closes the socket.
MAX_CLIENT_MESSAGE = 4096
HEARTBEAT = 30.0  # seconds: aiohttp pings, and closes a socket whose pong does not come

Greeting = Callable[[User], Mapping[str, Any]]


def add_ws_routes(app: web.Application, hub: Hub, *, hello: Sequence[Greeting] = ()) -> None:
    """GET /ws. `hello` gives the parts of the greeting (the current pop, the live calls)
    for a user; they are read from memory, so the greeting and the socket joining the
    hub happen with nothing sent in between."""
    app[HUB] = hub

    async def websocket(request: web.Request) -> web.StreamResponse:
        user = request.get(USER)
        if user is None:
            # The middleware answers 401 first; this guards an app wired without it.
            log.warning("ws.refused", reason="no user", path=request.path)
            return json_response({"error_id": "unauthorized", "message": "log in first (session cookie or bearer token)", "details": {}}, 401)
        # No per-message deflate: each message is serialised once for every socket, and
        # deflating it again per socket would cost more CPU than the bytes it saves.
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT, compress=False, max_msg_size=MAX_CLIENT_MESSAGE)
        await ws.prepare(request)
        greeting: dict[str, Any] = {}
        for part in hello:
            greeting.update(part(user))
        conn = hub.attach(ws, user, greeting)
        try:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    hub.receive(conn, message.type, message.data)
        finally:
            await hub.detach(conn)
        return ws

    app.router.add_get("/ws", websocket)
    app.on_shutdown.append(_close_sockets)


async def _close_sockets(app: web.Application) -> None:
    await app[HUB].close()


"""HTTP for 监听 / 耳语 / 强插: POST /api/floor/agents/{extension}/listen|whisper|barge rings
the supervisor's own phone into ChanSpy on that agent's call. Thin: ListenIn decides who
may and records what was sent; the answer is 202, as the supervisor still has to pick up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from hotline.floor.spy import ListenIn, SpyMode
from hotline.web.app import USER
from hotline.web.responses import json_response
from hotline.web.tickets import _body

LISTEN_IN = web.AppKey("listen_in", ListenIn)


def add_floor_spy_routes(app: web.Application, listen_in: ListenIn) -> None:
    app[LISTEN_IN] = listen_in
    # One route a mode, not /{mode}: the floor's other agent actions live beside them.
    for mode in SpyMode:
        app.router.add_post(f"/api/floor/agents/{{extension}}/{mode.value}", _start(mode))


def _start(mode: SpyMode) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def start(request: web.Request) -> web.Response:
        await _body(request, {})  # none is needed; a field sent by mistake is named
        started = await request.app[LISTEN_IN].start(request[USER], mode, request.match_info["extension"])
        return json_response(started, status=202)

    start.__name__ = f"floor_{mode.value}"
    return start

"""HTTP for 监听 / 耳语 / 强插: POST /api/floor/agents/{extension}/listen|whisper|barge rings
the supervisor's own phone into ChanSpy on that agent's call. Thin: ListenIn decides who
may and records what was sent; the answer is 202, as the supervisor still has to pick up.
Several instances: the instance that owns the AMI connection places it (cluster/forward.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hotline.cluster.forward import AtTheOwner
from hotline.floor.spy import ListenIn, SpyMode
from hotline.users.store import User
from hotline.web.app import AT_OWNER, USER
from hotline.web.responses import json_response
from hotline.web.tickets import _body

LISTEN_IN = web.AppKey("listen_in", ListenIn)


def add_floor_spy_routes(app: web.Application, listen_in: ListenIn, at_owner: AtTheOwner | None = None) -> None:
    app[LISTEN_IN] = listen_in
    if at_owner is not None:
        app[AT_OWNER] = at_owner
        for mode in SpyMode:
            at_owner.expose(f"spy.{mode.value}", _at_owner(listen_in, mode))
    # One route a mode, not /{mode}: the floor's other agent actions live beside them.
    for mode in SpyMode:
        app.router.add_post(f"/api/floor/agents/{{extension}}/{mode.value}", _start(mode))


def _start(mode: SpyMode) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def start(request: web.Request) -> web.Response:
        await _body(request, {})  # none is needed; a field sent by mistake is named
        extension = request.match_info["extension"]
        if AT_OWNER in request.app:
            started = await request.app[AT_OWNER].call(f"spy.{mode.value}", request[USER], {"extension": extension})
        else:
            started = await request.app[LISTEN_IN].start(request[USER], mode, extension)
        return json_response(started, status=202)

    start.__name__ = f"floor_{mode.value}"
    return start


def _at_owner(listen_in: ListenIn, mode: SpyMode) -> Callable[[User, dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def handle(actor: User, args: dict[str, Any]) -> dict[str, Any]:
        return await listen_in.start(actor, mode, str(args["extension"]))

    return handle

"""HTTP: the calls API, health and metrics. Thin: every answer comes from a store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from hotline.calls.store import CallStore
from hotline.errors import BadRequest, HotlineError, NotFound
from hotline.events import CallState, Outcome
from hotline.metrics import Metrics
from hotline.users.store import User, UserStore
from hotline.web.responses import json_response

log = structlog.get_logger(__name__)

CALLS = web.AppKey("calls", CallStore)
USERS = web.AppKey("users", UserStore)
METRICS = web.AppKey("metrics", Metrics)
AMI_CONNECTED = web.AppKey("ami_connected", Callable[[], bool])
USER = web.RequestKey("user", User)

_STATUS = {
    "bad_request": 400,
    "bad_number": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "illegal_transition": 409,
    "follow_up_required": 409,
    "extension_pending": 409,
    "extension_decided": 409,
    "deadline_not_open": 409,
    "deadline_busy": 409,
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Unauthorized(HotlineError):
    """This needs `Authorization: Bearer TOKEN` with a valid token (`hotline user add`)."""

    error_id = "unauthorized"


def create_app(calls: CallStore, users: UserStore, metrics: Metrics, ami_connected: Callable[[], bool]) -> web.Application:
    app = web.Application(middlewares=[_errors, _auth])
    app[CALLS], app[USERS], app[METRICS], app[AMI_CONNECTED] = calls, users, metrics, ami_connected
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/calls/{id}", get_call)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HotlineError as exc:
        body = {"error_id": exc.error_id, "message": str(exc), "details": exc.details}
        return json_response(body, _STATUS.get(exc.error_id, 409))


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        user = await request.app[USERS].by_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if user is None:
            raise Unauthorized()
        request[USER] = user
    return await handler(request)


async def healthz(request: web.Request) -> web.Response:
    database = await request.app[CALLS].ping()
    ami = request.app[AMI_CONNECTED]()
    body = {"status": "ok" if database and ami else "degraded", "ami": {"connected": ami}, "database": {"reachable": database}}
    return json_response(body, 200 if database else 503)


async def metrics_text(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS].render(), content_type="text/plain", charset="utf-8")


async def list_calls(request: web.Request) -> web.Response:
    q = request.query
    state = _choice(q.get("state"), CallState, "state")
    outcome = _choice(q.get("outcome"), Outcome, "outcome")
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        raise BadRequest("limit must be a whole number", limit=q.get("limit")) from None
    if not 1 <= limit <= 1000:
        raise BadRequest("limit must be between 1 and 1000", limit=limit)
    return json_response({"calls": await request.app[CALLS].list_calls(state=state, outcome=outcome, limit=limit)})


async def get_call(request: web.Request) -> web.Response:
    call = await request.app[CALLS].get_call(request.match_info["id"])
    if call is None:
        raise NotFound("no such call", id=request.match_info["id"])
    return json_response(call)


def _choice(value: str | None, allowed: type, name: str) -> str | None:
    if value is None:
        return None
    choices = [member.value for member in allowed]
    if value not in choices:
        raise BadRequest(f"{name} must be one of: {', '.join(choices)}", **{name: value})
    return value

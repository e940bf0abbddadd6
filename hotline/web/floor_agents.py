"""HTTP for agents' states on the floor (floor/agents.py). Thin: bodies are checked here,
every problem named at once; who may do what is checked here and again by the service.

    POST /api/floor/me/log-in | log-out | ready | end-wrapup      agents, for themselves
    POST /api/floor/me/pause {reason}                              reason: one of pause_reasons
    GET  /api/floor/me                                             my state and the pause reasons
    POST /api/floor/agents/{extension}/force-pause {reason}        supervisors, admins
    POST /api/floor/agents/{extension}/force-log-out {reason}      supervisors, admins
    GET  /api/floor/agents                                         supervisors, admins: every agent
    GET  /api/floor/agents/time?day=YYYY-MM-DD                     supervisors, admins (default today)

An action answers ActionResult.view(): Asterisk's answer per queue, whether the state came
back in time (`settled`) and the agent's row. Department users are refused everything.
Several instances: the actions are done by the instance that owns the AMI connection
(cluster/forward.py), whichever instance the browser is connected to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web

from hotline.console.hub import STAFF
from hotline.errors import BadRequest, NotFound
from hotline.floor.agents import ActionResult, FloorAgents
from hotline.users.store import Role, User
from hotline.cluster.forward import AtTheOwner
from hotline.web.app import AT_OWNER, USER, require_role
from hotline.web.responses import json_response

FLOOR_AGENTS = web.AppKey("floor_agents", FloorAgents)
AGENTS_ONLY = frozenset({Role.AGENT})
_EXTENSION = re.compile(r"^[0-9A-Za-z_-]{1,40}$")
Parse = Callable[[Any], Any]
Own = Callable[[FloorAgents, User, dict[str, Any]], Awaitable[ActionResult]]
Force = Callable[[FloorAgents, User, str, str], Awaitable[ActionResult]]


def add_floor_agent_routes(app: web.Application, agents: FloorAgents, at_owner: AtTheOwner | None = None) -> None:
    app[FLOOR_AGENTS] = agents
    if at_owner is not None:
        app[AT_OWNER] = at_owner
        for action, (_, run) in OWN.items():
            at_owner.expose(f"floor.{action}", _own(agents, run))
        for action, (_, force_run) in FORCED.items():
            at_owner.expose(f"floor.{action}", _forced(agents, force_run))
    app.router.add_get("/api/floor/me", my_state)
    app.router.add_post("/api/floor/me/{action}", act_on_myself)
    app.router.add_get("/api/floor/agents", list_agents)
    app.router.add_get("/api/floor/agents/time", time_report)
    # Only the force actions: listen, whisper and barge share the prefix (web/floor_spy.py).
    app.router.add_post("/api/floor/agents/{extension}/{action:force-pause|force-log-out}", force)


def _text(limit: int, *, max_bytes: int | None = None) -> Parse:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
            raise ValueError(f"must be a text of 1 to {limit} characters")
        if max_bytes is not None and len(value.strip().encode()) > max_bytes:
            raise ValueError(f"must be at most {max_bytes} bytes in UTF-8 (Asterisk keeps no more of a pause reason: {max_bytes // 3} Chinese characters)")
        return value.strip()

    return parse


# app_queue keeps a member's pause reason in char[80]: a longer one is cut inside a Chinese
# character, and every event of that member after it is no longer valid UTF-8.
REASON_BYTES = 79

# action -> (required fields, what to do)
OWN: dict[str, tuple[dict[str, Parse], Own]] = {
    "log-in": ({}, lambda a, u, b: a.log_in(u)),
    "log-out": ({}, lambda a, u, b: a.log_out(u)),
    "pause": ({"reason": _text(40, max_bytes=REASON_BYTES)}, lambda a, u, b: a.pause(u, b["reason"])),
    "ready": ({}, lambda a, u, b: a.ready(u)),
    "end-wrapup": ({}, lambda a, u, b: a.end_wrapup(u)),
}
# The pause reason goes to Asterisk and the agent's state (40 characters); a log-out's is
# only recorded.
FORCED: dict[str, tuple[Parse, Force]] = {
    "force-pause": (_text(40, max_bytes=REASON_BYTES), lambda a, u, e, r: a.force_pause(u, e, r)),
    "force-log-out": (_text(4000), lambda a, u, e, r: a.force_log_out(u, e, r)),
}


def _own(agents: FloorAgents, run: Own) -> Callable[[User, dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def handle(actor: User, body: dict[str, Any]) -> dict[str, Any]:
        return (await run(agents, actor, body)).view()

    return handle


def _forced(agents: FloorAgents, run: Force) -> Callable[[User, dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def handle(actor: User, args: dict[str, Any]) -> dict[str, Any]:
        return (await run(agents, actor, args["extension"], args["reason"])).view()

    return handle


async def _body(request: web.Request, required: dict[str, Parse]) -> dict[str, Any]:
    """The JSON body's fields, parsed; a BadRequest naming every problem otherwise."""
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    fields = ", ".join(required) or "none"
    problems = [f"unknown field {name!r}; the fields are: {fields}" for name in body if name not in required]
    problems += [f"{name} is missing" for name in required if body.get(name) is None]
    parsed = {}
    for name, parse in required.items():
        if body.get(name) is not None:
            try:
                parsed[name] = parse(body[name])
            except ValueError as exc:
                problems.append(f"{name} {exc}")
    if problems:
        raise BadRequest("; ".join(problems), problems=problems)
    return parsed


async def my_state(request: web.Request) -> web.Response:
    user = require_role(request, AGENTS_ONLY)
    agents = request.app[FLOOR_AGENTS]
    s = agents.settings
    agent = agents.agent(user.extension).view() if user.extension else None
    return json_response({"agent": agent, "pause_reasons": list(s.pause_reasons), "wrapup_reason": s.wrapup_reason, "wrapup_limit_seconds": s.wrapup_limit_interval.total_seconds()})


async def act_on_myself(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    if action not in OWN:
        raise NotFound(f"no action {action!r}; the actions are: {', '.join(OWN)}", action=action)
    user = require_role(request, AGENTS_ONLY)
    required, run = OWN[action]
    body = await _body(request, required)
    if AT_OWNER in request.app:
        return json_response(await request.app[AT_OWNER].call(f"floor.{action}", user, body))
    return json_response((await run(request.app[FLOOR_AGENTS], user, body)).view())


async def force(request: web.Request) -> web.Response:
    action, extension = request.match_info["action"], request.match_info["extension"]
    if action not in FORCED or not _EXTENSION.match(extension):
        raise NotFound(f"no action {action!r} on {extension!r}; the actions are: {', '.join(FORCED)}", action=action)
    user = require_role(request, STAFF)
    parse, run = FORCED[action]
    body = await _body(request, {"reason": parse})
    if AT_OWNER in request.app:
        return json_response(await request.app[AT_OWNER].call(f"floor.{action}", user, {"extension": extension, "reason": body["reason"]}))
    return json_response((await run(request.app[FLOOR_AGENTS], user, extension, body["reason"])).view())


async def list_agents(request: web.Request) -> web.Response:
    require_role(request, STAFF)
    agents = request.app[FLOOR_AGENTS]
    return json_response({"agents": [row.view() for row in agents.snapshot()], "pause_reasons": list(agents.settings.pause_reasons), "wrapup_reason": agents.settings.wrapup_reason})


async def time_report(request: web.Request) -> web.Response:
    require_role(request, STAFF)
    agents = request.app[FLOOR_AGENTS]
    raw = request.query.get("day")
    try:
        day = date.fromisoformat(raw) if raw is not None else agents.today()
    except ValueError:
        raise BadRequest(f"day: {raw!r} is not a date YYYY-MM-DD", day=raw) from None
    rows = await agents.time_report(day)
    return json_response({"day": day, "timezone": str(agents.tz), "agents": [row.view() for row in rows]})

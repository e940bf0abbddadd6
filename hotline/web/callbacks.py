"""HTTP for callbacks: the list a user may see, booking one for the time a customer asked for,
and cancel, record (a visit, a reply letter) and retry. Thin: bodies are checked here, every
problem named at once and nothing changed; the desk decides who may do what."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from hotline.callbacks.desk import CallbackDesk
from hotline.callbacks.model import CallbackState
from hotline.errors import BadRequest, NotFound
from hotline.users.store import User
from hotline.web.app import USER
from hotline.web.responses import json_response
from hotline.web.tickets import Parse, _body, _bounded, _id, _moment, _or_null, _path_id, _short, _text

CALLBACKS = web.AppKey("callbacks", CallbackDesk)
Act = Callable[[CallbackDesk, User, int, dict[str, Any]], Awaitable[dict[str, Any]]]

# action -> (required fields, optional fields, what to do); the answer is the callback again.
ACTIONS: dict[str, tuple[dict[str, Parse], dict[str, Parse], Act]] = {
    "cancel": ({"reason": _text}, {}, lambda d, u, i, b: d.cancel(u, i, b["reason"])),
    "record": ({"result": _text}, {"note": _or_null(_text)}, lambda d, u, i, b: d.record(u, i, b["result"], b.get("note"))),
    "retry": ({}, {}, lambda d, u, i, b: d.retry(u, i)),
    "complaint": ({"note": _text}, {}, lambda d, u, i, b: d.complaint(u, i, b["note"])),
}


def add_callback_routes(app: web.Application, desk: CallbackDesk) -> None:
    app[CALLBACKS] = desk
    app.router.add_get("/api/callbacks", list_callbacks)
    app.router.add_post("/api/callbacks", book_callback)
    app.router.add_get("/api/callbacks/{id}", get_callback)
    app.router.add_post("/api/callbacks/{id}/{action}", act)


def _number(desk: CallbackDesk) -> Parse:
    def parse(value: Any) -> str:
        number = _short(value)
        problem = desk.number_problem(number)
        if problem:
            raise ValueError(problem)
        return number

    return parse


def _asked_time(desk: CallbackDesk) -> Parse:
    def parse(value: Any) -> datetime:
        moment = _moment(value)
        problem = desk.time_problem(moment)
        if problem:
            raise ValueError(problem)
        return moment

    return parse


async def list_callbacks(request: web.Request) -> web.Response:
    q = request.query
    choices = [state.value for state in CallbackState]
    wanted = {part.strip() for part in q.get("state", "").split(",") if part.strip()}
    unknown = sorted(wanted - set(choices))
    if unknown:
        raise BadRequest(f"state must be some of: {', '.join(choices)} (not {', '.join(unknown)})", state=unknown)
    limit = _bounded(q.get("limit", "100"), "limit", 1, 500)
    found = await request.app[CALLBACKS].list(request[USER], states=wanted or None, limit=limit)
    return json_response({"callbacks": found})


async def book_callback(request: web.Request) -> web.Response:
    desk = request.app[CALLBACKS]
    body = await _body(request, {"number": _number(desk), "at": _asked_time(desk)}, {"ticket_id": _or_null(_id), "note": _or_null(_text)})
    booked = await desk.book(request[USER], number=body["number"], at=body["at"], ticket_id=body.get("ticket_id"), note=body.get("note"))
    return json_response(booked, status=201, headers={"Location": f"/api/callbacks/{booked['id']}"})


async def get_callback(request: web.Request) -> web.Response:
    return json_response(await request.app[CALLBACKS].get(request[USER], _path_id(request)))


async def act(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise NotFound(f"no action {action!r}; the actions are: {', '.join(ACTIONS)}", action=action)
    callback_id = _path_id(request)
    required, optional, run = ACTIONS[action]
    body = await _body(request, required, optional)
    return json_response(await run(request.app[CALLBACKS], request[USER], callback_id, body))

"""HTTP for tickets, departments and the SLA report. Thin: bodies are checked here, every
problem named at once and nothing changed; the service decides who may do what."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from aiohttp import web

from hotline.errors import BadRequest, NotFound
from hotline.tickets.departments import Departments
from hotline.tickets.errors import Forbidden
from hotline.tickets.lifecycle import TicketStatus
from hotline.tickets.opening import HAND_SOURCES, HandTicket
from hotline.tickets.report import to_csv
from hotline.tickets.service import CLASSIFIABLE, TicketService
from hotline.tickets.standard import Area, Category, FaultKind, InstallKind, Tier
from hotline.tickets.views import TicketFilter
from hotline.users.store import Role, User
from hotline.web.app import USER
from hotline.web.responses import json_response

TICKETS = web.AppKey("tickets", TicketService)
DEPARTMENTS = web.AppKey("departments", Departments)
Parse = Callable[[Any], Any]
Act = Callable[[TicketService, User, int, dict[str, Any]], Awaitable[Any]]


def add_ticket_routes(app: web.Application, service: TicketService, departments: Departments) -> None:
    app[TICKETS], app[DEPARTMENTS] = service, departments
    app.router.add_get("/api/tickets", list_tickets)
    app.router.add_post("/api/tickets", open_ticket)
    app.router.add_get("/api/tickets/{id}", get_ticket)
    app.router.add_post("/api/tickets/{id}/{action}", act)
    app.router.add_get("/api/departments", list_departments)
    app.router.add_post("/api/departments", create_department)
    app.router.add_post("/api/departments/{id}/members", add_member)
    app.router.add_get("/api/reports/sla", sla_report)
    app.router.add_get("/api/extension-requests", list_extension_requests)


# --- checking values: each parser returns the value or raises ValueError("must be ...") ---


def _text(value: Any, limit: int = 4000) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValueError(f"must be a text of 1 to {limit} characters")
    return value.strip()


def _short(value: Any) -> str:
    return _text(value, 200)


def _choice(kind: type[StrEnum]) -> Parse:
    def parse(value: Any) -> StrEnum:
        if value not in {member.value for member in kind}:
            raise ValueError(f"must be one of: {', '.join(kind)}")
        return kind(value)

    return parse


def _or_null(parse: Parse) -> Parse:
    return lambda value: None if value is None else parse(value)


def _source(value: Any) -> str:
    if value not in HAND_SOURCES:
        raise ValueError(f"must be one of: {', '.join(HAND_SOURCES)}")
    return str(value)


def _id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("must be an id (a whole number from 1)")
    return value


def _department(value: Any) -> int | str:
    return _id(value) if isinstance(value, int) else _short(value)


def _moment(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError('must be a time with its zone, e.g. "2026-11-25T18:00:00+08:00"')
    return moment


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


async def _body(request: web.Request, required: dict[str, Parse], optional: dict[str, Parse] | None = None) -> dict[str, Any]:
    """The JSON body's fields, parsed; a BadRequest naming every problem otherwise."""
    optional = optional or {}
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    known = {**required, **optional}
    problems = [f"unknown field {name!r}; the fields are: {', '.join(known)}" for name in body if name not in known]
    problems += [f"{name} is missing" for name in required if body.get(name) is None]
    parsed = {}
    for name, value in body.items():
        if name in known and (value is not None or name not in required):
            try:
                parsed[name] = known[name](value)
            except ValueError as exc:
                problems.append(f"{name} {exc}")
    if problems:
        raise BadRequest("; ".join(problems), problems=problems)
    return parsed


# --- tickets ----------------------------------------------------------------------------

_CLASSIFY = {
    "category": _choice(Category),
    "fault_kind": _or_null(_choice(FaultKind)),
    "install_kind": _or_null(_choice(InstallKind)),
    "tier": _choice(Tier),
    "area": _choice(Area),
    "reason": _text,
}
_OPEN = {
    "caller_number": _short,
    "caller_name": _short,
    "tier": _choice(Tier),
    "area": _choice(Area),
    "fault_kind": _choice(FaultKind),
    "install_kind": _choice(InstallKind),
}
_REASON = {"reason": _text}
EXTENSION_STATES = ("pending", "approved", "rejected")

# action -> (required fields, optional fields, what to do)
ACTIONS: dict[str, tuple[dict[str, Parse], dict[str, Parse], Act]] = {
    "classify": ({}, _CLASSIFY, lambda s, u, i, b: s.classify(u, i, {k: b[k] for k in CLASSIFIABLE if k in b}, b.get("reason"))),
    "note": ({"text": _text}, {}, lambda s, u, i, b: s.note(u, i, b["text"])),
    "reply": ({"text": _text}, {}, lambda s, u, i, b: s.reply(u, i, b["text"])),
    "resolve": ({"resolution": _text}, {}, lambda s, u, i, b: s.resolve(u, i, b["resolution"])),
    "forward": ({"department": _department}, _REASON, lambda s, u, i, b: s.forward(u, i, b["department"], b.get("reason"))),
    "acknowledge": ({}, _REASON, lambda s, u, i, b: s.acknowledge(u, i, b.get("reason"))),
    "request-extension": (
        {"deadline": _short, "new_due_at": _moment, "reason": _text},
        {},
        lambda s, u, i, b: s.request_extension(u, i, b["deadline"], b["new_due_at"], b["reason"]),
    ),
    "approve-extension": ({"request_id": _id}, _REASON, lambda s, u, i, b: s.approve_extension(u, i, b["request_id"], b.get("reason"))),
    "reject-extension": ({"request_id": _id}, _REASON, lambda s, u, i, b: s.reject_extension(u, i, b["request_id"], b.get("reason"))),
    "follow-up": ({"result": _text}, {}, lambda s, u, i, b: s.start_follow_up(u, i, b["result"])),
    "close": ({}, _REASON, lambda s, u, i, b: s.close(u, i, b.get("reason"))),
}


async def list_tickets(request: web.Request) -> web.Response:
    q = request.query
    statuses = tuple(_query(_choice(TicketStatus), part, "status") for part in q.get("status", "").split(",") if part)
    wanted = TicketFilter(
        statuses=statuses,
        department_id=_query(_id, _whole(q["department"], "department"), "department") if "department" in q else None,
        owner_user_id=_query(_id, _whole(q["owner"], "owner"), "owner") if "owner" in q else None,
        overdue=_query(_yes_no, q.get("overdue", "false"), "overdue"),
        attention=_query(_yes_no, q.get("attention", "false"), "attention"),
        limit=_bounded(q.get("limit", "50"), "limit", 1, 500),
        offset=_bounded(q.get("offset", "0"), "offset", 0, 10**9),
    )
    page, total = await request.app[TICKETS].list_tickets(request[USER], wanted)
    return json_response({"tickets": page, "total": total})


async def open_ticket(request: web.Request) -> web.Response:
    body = await _body(request, {"source": _source, "category": _choice(Category), "summary": _text}, _OPEN)
    service = request.app[TICKETS]
    ticket_id = await service.open_by_hand(request[USER], HandTicket(**body))
    detail = await service.detail(request[USER], ticket_id, just_acted=True)
    return json_response(detail, status=201, headers={"Location": f"/api/tickets/{ticket_id}"})


async def get_ticket(request: web.Request) -> web.Response:
    return json_response(await request.app[TICKETS].detail(request[USER], _path_id(request)))


async def act(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise NotFound(f"no action {action!r}; the actions are: {', '.join(ACTIONS)}", action=action)
    ticket_id = _path_id(request)
    required, optional, run = ACTIONS[action]
    body = await _body(request, required, optional)
    service = request.app[TICKETS]
    await run(service, request[USER], ticket_id, body)
    return json_response(await service.detail(request[USER], ticket_id, just_acted=True))


async def list_extension_requests(request: web.Request) -> web.Response:
    state = request.query.get("state")
    if state is not None and state not in EXTENSION_STATES:
        raise BadRequest(f"state must be one of: {', '.join(EXTENSION_STATES)}", state=state)
    return json_response({"requests": await request.app[TICKETS].extension_requests(request[USER], state)})


# --- departments and the report ---------------------------------------------------------


async def list_departments(request: web.Request) -> web.Response:
    return json_response({"departments": [asdict(d) for d in await request.app[DEPARTMENTS].list()]})


async def create_department(request: web.Request) -> web.Response:
    _admin(request)
    body = await _body(request, {"name": _short}, {"head_user_id": _id})
    department = await request.app[DEPARTMENTS].create(body["name"], head_user_id=body.get("head_user_id"))
    return json_response(asdict(department), status=201, headers={"Location": f"/api/departments/{department.id}"})


async def add_member(request: web.Request) -> web.Response:
    _admin(request)
    body = await _body(request, {"user_id": _id}, {"head": _flag})
    department = await request.app[DEPARTMENTS].add_member(_path_id(request), body["user_id"], head=body.get("head", False))
    return json_response(asdict(department))


async def sla_report(request: web.Request) -> web.Response:
    q = request.query
    first, last = (_query(date.fromisoformat, q.get(name, ""), name) for name in ("from", "to"))
    group = _query(lambda v: v if v in ("department", "category", "tier") else {}[v], q.get("group", "department"), "group")
    report = await request.app[TICKETS].sla_report(request[USER], first=first, last=last, group=group)
    if q.get("format", "json") == "csv":
        name = f"sla-{group}-{first}-{last}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return web.Response(body=to_csv(report), content_type="text/csv", charset="utf-8", headers=headers)
    return json_response(report)


def _admin(request: web.Request) -> None:
    if request[USER].role is not Role.ADMIN:
        raise Forbidden(f"only an admin changes departments; {request[USER].name} is {request[USER].role.value}")


# --- small helpers ----------------------------------------------------------------------


def _path_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise NotFound("no such item", id=raw)
    return int(raw)


def _query(parse: Parse, raw: Any, name: str) -> Any:
    try:
        return parse(raw)
    except (ValueError, KeyError):
        raise BadRequest(f"{name}: {raw!r} is not valid", **{name: raw}) from None


def _yes_no(raw: str) -> bool:
    return {"true": True, "false": False}[raw]


def _whole(raw: str, name: str) -> int:
    return _query(int, raw, name)  # type: ignore[no-any-return]


def _bounded(raw: str, name: str, low: int, high: int) -> int:
    value = _whole(raw, name)
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}", **{name: value})
    return value

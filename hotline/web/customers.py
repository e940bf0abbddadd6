"""HTTP for the customer directory: admins list, search, create, change and delete customers,
numbers included; supervisors may read. Thin: every answer comes from the directory."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from aiohttp import web

from hotline.errors import BadRequest, HotlineError, NotFound
from hotline.routing.customers import Customer, CustomerDraft, PhoneNumber
from hotline.routing.directory import CustomerDirectory
from hotline.routing.numbers import for_display
from hotline.users.store import Role
from hotline.web.app import USER
from hotline.web.responses import dumps

DIRECTORY = web.AppKey("customer_directory", CustomerDirectory)
_READ = frozenset({Role.ADMIN, Role.SUPERVISOR})
_WRITE = frozenset({Role.ADMIN})
_FIELDS = ("name", "tier", "area", "numbers", "account_manager_id", "notes", "external_ref")


class Forbidden(HotlineError):
    """Your role may not do this."""

    error_id = "forbidden"


def add_customer_routes(app: web.Application, directory: CustomerDirectory) -> None:
    app[DIRECTORY] = directory
    app.router.add_get("/api/customers", list_customers)
    app.router.add_post("/api/customers", create_customer)
    app.router.add_get("/api/customers/{id}", get_customer)
    app.router.add_put("/api/customers/{id}", update_customer)
    app.router.add_delete("/api/customers/{id}", delete_customer)


def _directory(request: web.Request, roles: frozenset[Role]) -> CustomerDirectory:
    """The directory, once the user's role may do this."""
    role = request[USER].role
    if role not in roles:
        raise Forbidden(f"a user with role {role.value} may not do this; it needs {' or '.join(sorted(roles))}", role=role.value)
    return request.app[DIRECTORY]


async def list_customers(request: web.Request) -> web.Response:
    directory = _directory(request, _READ)
    q = request.query
    page = await directory.search(
        q.get("q", ""),
        tier=q.get("tier"),
        area=q.get("area"),
        limit=_whole(q.get("limit", "50"), "limit"),
        offset=_whole(q.get("offset", "0"), "offset"),
    )
    return web.json_response({"customers": [customer_json(c) for c in page.customers], "total": page.total}, dumps=dumps)


async def get_customer(request: web.Request) -> web.Response:
    customer = await _directory(request, _READ).get(_id(request))
    if customer is None:
        raise NotFound("no such customer", id=request.match_info["id"])
    return web.json_response(customer_json(customer), dumps=dumps)


async def create_customer(request: web.Request) -> web.Response:
    directory = _directory(request, _WRITE)
    customer = await directory.create(await _draft(request))
    headers = {"Location": f"/api/customers/{customer.id}"}
    return web.json_response(customer_json(customer), status=201, headers=headers, dumps=dumps)


async def update_customer(request: web.Request) -> web.Response:
    directory = _directory(request, _WRITE)
    customer = await directory.update(_id(request), await _draft(request))
    return web.json_response(customer_json(customer), dumps=dumps)


async def delete_customer(request: web.Request) -> web.Response:
    await _directory(request, _WRITE).delete(_id(request))
    return web.Response(status=204)


def customer_json(customer: Customer) -> dict[str, Any]:
    manager = None if customer.account_manager_id is None else {"id": customer.account_manager_id, "name": customer.account_manager}
    return {
        "id": customer.id,
        "name": customer.name,
        "tier": customer.tier,
        "area": customer.area,
        "numbers": [{"number": n.number, "display": for_display(n.number), "label": n.label} for n in customer.numbers],
        "account_manager": manager,
        "notes": customer.notes,
        "external_ref": customer.external_ref,
        "created_at": customer.created_at.isoformat(),
        "updated_at": customer.updated_at.isoformat(),
    }


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()):
        raise NotFound("no such customer", id=raw)
    return int(raw)


def _whole(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number", **{name: raw}) from None


async def _draft(request: web.Request) -> CustomerDraft:
    """The body as a draft; every field with the wrong type is named at once."""
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    problems = [f"unknown field {key!r}; the fields are: {', '.join(_FIELDS)}" for key in body if key not in _FIELDS]
    get = partial(_field, body, problems)
    draft = CustomerDraft(
        name=get("name", _is_str, "a string", required=True) or "",
        tier=get("tier", _is_str, "a string", required=True) or "",
        area=get("area", _is_str, "a string", required=True) or "",
        numbers=_numbers(get("numbers", _is_list, "a list", required=True) or [], problems),
        account_manager_id=get("account_manager_id", _is_id, "a user id or null"),
        notes=get("notes", _is_str, "a string") or "",
        external_ref=get("external_ref", _is_str, "a string or null"),
    )
    if problems:
        raise BadRequest("; ".join(problems), problems=problems)
    return draft


def _field(body: dict[str, Any], problems: list[str], key: str, check: Callable[[Any], bool], kind: str, *, required: bool = False) -> Any:
    if key not in body or body[key] is None:
        if required:
            problems.append(f"{key} is missing")
        return None
    if not check(body[key]):
        problems.append(f"{key} must be {kind}")
        return None
    return body[key]


def _numbers(entries: list[Any], problems: list[str]) -> list[PhoneNumber]:
    numbers = [_number(entry) for entry in entries]
    problems += [f"numbers: {dumps(e)} is neither a string nor {{number, label}}" for e, n in zip(entries, numbers, strict=True) if n is None]
    return [n for n in numbers if n is not None]


def _number(entry: Any) -> PhoneNumber | None:
    """A number is "0827 555 1234", or {"number": ..., "label": ...} to set its label."""
    if isinstance(entry, str):
        return PhoneNumber(entry)
    if isinstance(entry, dict) and set(entry) <= {"number", "label"} and _is_str(entry.get("number")):
        label = entry.get("label")
        return PhoneNumber(entry["number"], label) if label is None or _is_str(label) else None
    return None


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


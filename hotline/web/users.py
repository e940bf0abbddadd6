"""HTTP for user accounts: supervisors and admins list them, admins create and change them
(role, extension, department, password reset, disabled). Thin: bodies are checked with the
tickets API's `_body`, every problem named and nothing changed; the store does the rest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from aiohttp import web

from hotline.users.passwords import password_problem
from hotline.users.sessions import SessionStore
from hotline.users.store import Role, User, UserStore
from hotline.web.app import SESSIONS, USERS, require_role
from hotline.web.responses import json_response
from hotline.web.tickets import Parse, _body, _choice, _flag, _id, _or_null, _path_id

log = structlog.get_logger(__name__)

_READ = frozenset({Role.ADMIN, Role.SUPERVISOR})
_WRITE = frozenset({Role.ADMIN})


# Told the id of a user just added or changed: the console's sockets of that user are
# closed (their page reconnects and is authorised again, with the new role, department or
# none when disabled) and the extension -> agent map is read again (hotline/app.py).
ON_USER_CHANGE = web.AppKey("on_user_change", tuple[Callable[[int], object], ...])


def add_user_routes(app: web.Application, users: UserStore, sessions: SessionStore, *, on_change: Sequence[Callable[[int], object]] = ()) -> None:
    app[USERS], app[SESSIONS], app[ON_USER_CHANGE] = users, sessions, tuple(on_change)
    app.router.add_get("/api/users", list_users)
    app.router.add_post("/api/users", create_user)
    app.router.add_patch("/api/users/{id}", change_user)


def user_json(user: User, department_names: dict[int, str]) -> dict[str, Any]:
    """A user as the API shows them; never a password hash, never a token."""
    department = None if user.department_id is None else department_names.get(user.department_id)
    return {
        "id": user.id,
        "name": user.name,
        "role": user.role.value,
        "extension": user.extension,
        "department_id": user.department_id,
        "department": department,
        "disabled": user.disabled,
    }


# --- checking values: each returns the value or raises ValueError("must be ...") ---------


def _name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 80:
        raise ValueError("must be a text of 1 to 80 characters")
    return value.strip()


def _extension(value: Any) -> str:
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and 2 <= len(value) <= 10):
        raise ValueError('must be 2 to 10 digits, as a text (e.g. "8001")')
    return value


def checked_password(value: Any) -> str:
    problem = password_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return str(value)


_ROLE: Parse = _choice(Role)
_CREATE_REQUIRED: dict[str, Parse] = {"name": _name, "role": _ROLE}
_CREATE_OPTIONAL: dict[str, Parse] = {"password": checked_password, "extension": _or_null(_extension), "department_id": _or_null(_id)}
_CHANGE: dict[str, Parse] = {"role": _ROLE, "extension": _or_null(_extension), "department_id": _or_null(_id), "password": checked_password, "disabled": _flag}


# --- handlers ---------------------------------------------------------------------------


async def list_users(request: web.Request) -> web.Response:
    require_role(request, _READ)
    users = request.app[USERS]
    names = await users.department_names()
    return json_response({"users": [user_json(user, names) for user in await users.list()]})


async def create_user(request: web.Request) -> web.Response:
    admin = require_role(request, _WRITE)
    body = await _body(request, _CREATE_REQUIRED, _CREATE_OPTIONAL)
    users = request.app[USERS]
    user, token = await users.add(body["name"], body["role"], **{k: v for k, v in body.items() if k in _CREATE_OPTIONAL})
    log.info("user.added", user=user.name, user_id=user.id, role=user.role.value, by=admin.name, password="password" in body)
    # The token is shown once, as `hotline user add` prints it: an API-only user needs it.
    _changed(request, user.id)
    created = {**user_json(user, await users.department_names()), "api_token": token}
    return json_response(created, status=201, headers={"Location": f"/api/users/{user.id}"})


async def change_user(request: web.Request) -> web.Response:
    admin = require_role(request, _WRITE)
    user_id = _path_id(request)
    body = await _body(request, {}, _CHANGE)
    user = await request.app[USERS].update(user_id, **body)
    ended = 0
    if "password" in body or body.get("disabled") is True:
        # A reset password or a disabled account: whoever holds a session of theirs is out.
        ended = await request.app[SESSIONS].end_all_of(user_id)
    log.info("user.changed", user=user.name, user_id=user.id, fields=sorted(body), by=admin.name, sessions_ended=ended)
    _changed(request, user.id)
    return json_response(user_json(user, await request.app[USERS].department_names()))


def _changed(request: web.Request, user_id: int) -> None:
    for listener in request.app[ON_USER_CHANGE]:
        listener(user_id)

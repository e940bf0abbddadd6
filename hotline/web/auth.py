"""Log-in and log-out for the browser console (docs/console.md, "Log-in and sessions"), and
the logged-in user's own account: GET /api/me, POST /api/me/password. The log-in page
itself is rendered elsewhere; here it is only redirected to, with ?error=bad or locked."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web

from hotline.errors import HotlineError
from hotline.users.guard import BadLogin, Locked, LoginGuard, log_in
from hotline.users.sessions import SessionStore
from hotline.users.store import Role, User, UserStore
from hotline.web.app import CSRF, SESSION_COOKIE, SESSIONS, USER, USERS
from hotline.web.responses import json_response
from hotline.web.tickets import Parse, _body
from hotline.web.users import checked_password, user_json

log = structlog.get_logger(__name__)

GUARD = web.AppKey("login_guard", LoginGuard)
SECURE_COOKIES = web.AppKey("secure_cookies", bool)
ROLE_PAGES = {Role.AGENT: "/agent", Role.DEPARTMENT: "/department", Role.SUPERVISOR: "/supervisor", Role.ADMIN: "/admin"}
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class WrongPassword(HotlineError):
    """old_password is not your current password."""

    error_id = "wrong_password"


def add_auth_routes(app: web.Application, users: UserStore, sessions: SessionStore, guard: LoginGuard, *, secure_cookies: bool = False) -> None:
    """Log-in, log-out and /api/me; from here on the middleware also knows session cookies.
    `users` is the store create_app was given; `secure_cookies` is [web] secure_cookies."""
    app[USERS], app[SESSIONS], app[GUARD], app[SECURE_COOKIES] = users, sessions, guard, secure_cookies
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/me/password", change_password)


def local_path(value: object) -> str | None:
    """`value` if it is a path on this site ("/agent?x=1"), else None: "//evil.example" and
    "/\\evil.example" are other sites to a browser, and a control character could split
    the Location header."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or len(value) > 2000:
        return None
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a text")
    return value


# --- log-in and log-out -----------------------------------------------------------------


async def login(request: web.Request) -> web.StreamResponse:
    as_json = request.content_type not in _FORMS
    name, password, next_path = await (_json_credentials(request) if as_json else _form_credentials(request))
    try:
        user = await log_in(request.app[USERS], request.app[GUARD], name, password, _address(request))
    except Locked as exc:
        return _locked(exc) if as_json else _back_to_login("locked", next_path)
    except BadLogin:
        if as_json:
            raise
        return _back_to_login("bad", next_path)
    await _end_presented_session(request)
    token, csrf = await request.app[SESSIONS].create(user.id)
    if as_json:
        response: web.Response = json_response({"user": await _me_json(request, user), "csrf": csrf})
    else:
        response = _see_other(next_path or ROLE_PAGES[user.role])
    response.set_cookie(SESSION_COOKIE, token, path="/", httponly=True, samesite="Strict", secure=request.app[SECURE_COOKIES])
    return response


async def _json_credentials(request: web.Request) -> tuple[str, str, str | None]:
    body = await _body(request, {"name": _text, "password": _text}, {"next": _text})
    return body["name"], body["password"], None


async def _form_credentials(request: web.Request) -> tuple[str, str, str | None]:
    form = await request.post()
    name, password = form.get("name"), form.get("password")
    # A form without them is a failed log-in like any other: the page shows "wrong name or password".
    return (name if isinstance(name, str) else ""), (password if isinstance(password, str) else ""), local_path(form.get("next"))


async def _end_presented_session(request: web.Request) -> None:
    """A browser that logs in again gets a new session; the one it came with ends (a token
    planted in the browser before log-in never becomes a logged-in session)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await request.app[SESSIONS].end(cookie)


async def logout(request: web.Request) -> web.StreamResponse:
    # CSRF in request: the middleware found the session and checked the form's csrf field.
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and CSRF in request:
        await request.app[SESSIONS].end(cookie)
        log.info("auth.logout", name=request[USER].name, user_id=request[USER].id)
    response = _see_other("/login")
    response.del_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=request.app[SECURE_COOKIES])
    return response


def _back_to_login(error: str, next_path: str | None) -> web.Response:
    query = f"error={error}" + (f"&next={quote(next_path, safe='/')}" if next_path else "")
    return _see_other(f"/login?{query}")


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _locked(exc: Locked) -> web.Response:
    body = {"error_id": exc.error_id, "message": str(exc), "details": exc.details}
    return json_response(body, 429, headers={"Retry-After": str(exc.seconds)})


def _address(request: web.Request) -> str:
    return request.remote or "unknown"


# --- the user's own account -------------------------------------------------------------


async def me(request: web.Request) -> web.Response:
    return json_response(await _me_json(request, request[USER]))


async def _me_json(request: web.Request, user: User) -> dict[str, Any]:
    return user_json(user, await request.app[USERS].department_names())


_CHANGE_PASSWORD: dict[str, Parse] = {"old_password": _text, "new_password": checked_password}


async def change_password(request: web.Request) -> web.StreamResponse:
    """The user's new password; their other sessions end (this one stays logged in)."""
    user = request[USER]
    body = await _body(request, _CHANGE_PASSWORD)
    guard, address = request.app[GUARD], _address(request)
    # The old password is a log-in of its own: guessing it through a stolen session is
    # rate-limited like the log-in form.
    wait = await guard.retry_after(user.name, address)
    if wait is not None:
        return _locked(Locked(wait))
    if await request.app[USERS].authenticate(user.name, body["old_password"]) is None:
        await guard.failed(user.name, address)
        log.warning("auth.password_change_refused", name=user.name, user_id=user.id, address=address)
        raise WrongPassword()
    await request.app[USERS].set_password(user.id, body["new_password"])
    keep = request.cookies.get(SESSION_COOKIE) if CSRF in request else None
    ended = await request.app[SESSIONS].end_all_of(user.id, keep=keep)
    log.info("auth.password_changed", name=user.name, user_id=user.id, other_sessions_ended=ended)
    return web.Response(status=204)

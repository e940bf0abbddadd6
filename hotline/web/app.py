"""HTTP: who is asking (bearer token or session cookie, with CSRF and Origin checks), the
calls API, health and metrics. Thin: every answer comes from a store."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from hotline.cluster.forward import AtTheOwner
from hotline.calls.store import CallStore
from hotline.errors import BadRequest, HotlineError, NotFound
from hotline.events import CallState, Outcome
from hotline.metrics import Metrics
from hotline.users.sessions import SessionStore
from hotline.users.store import Role, User, UserStore
from hotline.web.responses import json_response

log = structlog.get_logger(__name__)

CALLS = web.AppKey("calls", CallStore)
USERS = web.AppKey("users", UserStore)
# Set by add_auth_routes (hotline/web/auth.py): without it only bearer tokens are known.
SESSIONS = web.AppKey("sessions", SessionStore)
METRICS = web.AppKey("metrics", Metrics)
AMI_CONNECTED = web.AppKey("ami_connected", Callable[[], bool])
# Several instances: whether this one owns the AMI connection now, and its name (set by
# the composition root; without them the instance is the only one).
AMI_OWNER = web.AppKey("ami_owner", Callable[[], bool])
INSTANCE = web.AppKey("instance", str)
# Several instances: what needs the AMI connection is done by the instance that owns it.
AT_OWNER = web.AppKey("at_owner", AtTheOwner)
USER = web.RequestKey("user", User)
# The session's CSRF token; set only when the request was authenticated by the session
# cookie (a page's fetch sends it back in X-CSRF-Token; a form in the field `csrf`).
CSRF = web.RequestKey("csrf", str)
SESSION_COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_WATCHERS = frozenset({Role.SUPERVISOR, Role.ADMIN})

_STATUS = {
    "bad_request": 400,
    "bad_number": 400,
    "unauthorized": 401,
    "bad_login": 401,
    "forbidden": 403,
    "csrf": 403,
    "bad_origin": 403,
    "wrong_password": 403,
    "not_found": 404,
    "locked": 429,
    "illegal_transition": 409,
    "follow_up_required": 409,
    "extension_pending": 409,
    "extension_decided": 409,
    "deadline_not_open": 409,
    "deadline_busy": 409,
    "ami_owner_unreachable": 503,
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Unauthorized(HotlineError):
    """This needs a log-in: the session cookie, or `Authorization: Bearer TOKEN` (`hotline user add`)."""

    error_id = "unauthorized"


class Forbidden(HotlineError):
    """Your role may not do this."""

    error_id = "forbidden"


class CsrfRefused(HotlineError):
    """This request needs the session's CSRF token (header X-CSRF-Token, or form field csrf)."""

    error_id = "csrf"


class BadOrigin(HotlineError):
    """A page of another site may not act with this site's session."""

    error_id = "bad_origin"


def require_role(request: web.Request, roles: frozenset[Role]) -> User:
    """The request's user, once their role is one of `roles`; Forbidden otherwise."""
    user = request[USER]
    if user.role not in roles:
        raise Forbidden(f"a user with role {user.role.value} may not do this; it needs {' or '.join(sorted(roles))}", role=user.role.value)
    return user


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
    """Sets request[USER] from a bearer token or the session cookie. The API and the
    WebSocket need a user; pages decide themselves (they send the anonymous to /login)."""
    await _authenticate(request)
    if USER not in request and (request.path.startswith("/api/") or request.path == "/ws"):
        raise Unauthorized()
    if request.method == "POST" and request.path == "/login":
        _same_origin(request)  # no page of another site logs a browser in to its account
    return await handler(request)


async def _authenticate(request: web.Request) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        # No cookie is looked at: a bearer request needs no CSRF token and no Origin.
        user = await request.app[USERS].by_token(token.strip()) if token.strip() else None
        if user is not None:
            request[USER] = user
        return
    cookie, sessions = request.cookies.get(SESSION_COOKIE), request.app.get(SESSIONS)
    found = await sessions.resolve(cookie) if cookie and sessions is not None else None
    if found is None:
        return
    _same_origin(request)
    if request.method not in _SAFE_METHODS and request.path != "/login":
        await _check_csrf(request, found[1])
    request[USER], request[CSRF] = found


async def _check_csrf(request: web.Request, expected: str) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in _FORMS:
        field = (await request.post()).get(CSRF_FIELD)  # kept by aiohttp: the handler reads it again
        given = field if isinstance(field, str) else None
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning("auth.csrf_refused", path=request.path, method=request.method, given=given is not None)
        raise CsrfRefused()


def _same_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() not in _own_origins(request):
        log.warning("auth.bad_origin", path=request.path, origin=origin)
        raise BadOrigin(origin=origin)


def _own_origins(request: web.Request) -> set[str]:
    """This site as the browser names it. Behind a TLS proxy the browser says https://NAME
    while we see http://127.0.0.1:8080, so the proxy's X-Forwarded-Proto/-Host count too.
    Trusting them is safe here: a page of another site cannot make the browser send them
    (custom headers need a CORS preflight we never grant), and without the browser's
    cookie nothing is gained."""
    schemes = {request.scheme, *_first(request.headers.get("X-Forwarded-Proto"))}
    hosts = {request.host, *_first(request.headers.get("X-Forwarded-Host"))}
    return {f"{scheme}://{host}".lower() for scheme in schemes for host in hosts}


def _first(value: str | None) -> list[str]:
    """The first entry of a proxy header (the proxy nearest the browser wrote it)."""
    return [value.split(",")[0].strip()] if value else []


async def healthz(request: web.Request) -> web.Response:
    """For a load balancer: 200 while the instance serves (its database reachable), 503
    else; `ami.owner` says whether it owns the AMI connection (several instances: one
    does), and "degraded" an owner not connected to Asterisk."""
    database = await request.app[CALLS].ping()
    ami = request.app[AMI_CONNECTED]()
    owner = request.app[AMI_OWNER]() if AMI_OWNER in request.app else True
    body = {
        "status": "ok" if database and (ami or not owner) else "degraded",
        "instance": request.app.get(INSTANCE), "ami": {"connected": ami, "owner": owner}, "database": {"reachable": database},
    }  # fmt: skip
    return json_response(body, 200 if database else 503)


async def metrics_text(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS].render(), content_type="text/plain", charset="utf-8")


async def list_calls(request: web.Request) -> web.Response:
    require_role(request, _WATCHERS)
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
    require_role(request, _WATCHERS)
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

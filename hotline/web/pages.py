"""The console's pages (docs/console.md): the log-in form, one page per role, the 403 page
and the static files. Pages are shells rendered by Jinja2 (autoescaped) in the user's
language; their JavaScript fills them from the API and the /ws feed.

Who the user is comes from the auth middleware (request[USER], and request[CSRF] for a
cookie session); a page without a user sends the browser to /login?next=PATH."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web
from markupsafe import Markup

from hotline.events import CallState
from hotline.tickets.lifecycle import TicketStatus
from hotline.tickets.plan import DeadlineKind
from hotline.tickets.report import NOT_FORWARDED
from hotline.tickets.standard import Area, Category, FaultKind, InstallKind, Tier
from hotline.floor.reports import PERIODS
from hotline.users.store import Role, User
from hotline.web.app import CSRF, USER
from hotline.web.auth import ROLE_PAGES, local_path
from hotline.web.i18n import CATALOGUE, LANG_COOKIE, LANGUAGES, choose_language, language_of, script_json, translator

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
TEMPLATES = web.AppKey("page_templates", jinja2.Environment)

# Each page and the roles that may open it; admins also watch the floor on /supervisor.
PAGE_ROLES: dict[str, frozenset[Role]] = {
    "agent": frozenset({Role.AGENT}),
    "department": frozenset({Role.DEPARTMENT}),
    "supervisor": frozenset({Role.SUPERVISOR, Role.ADMIN}),
    "admin": frozenset({Role.ADMIN}),
    "wallboard": frozenset({Role.SUPERVISOR, Role.ADMIN}),
    "reports": frozenset({Role.SUPERVISOR, Role.ADMIN}),
}
# What a page's JavaScript needs beyond the common page data.
PAGE_DATA: dict[str, dict[str, Any]] = {"reports": {"periods": list(PERIODS)}}
LOGIN_ERRORS = {"bad": "login.error.bad", "locked": "login.error.locked"}
LANG_COOKIE_SECONDS = 365 * 24 * 3600
# What the JavaScript offers in its selects, from the enums themselves (one source).
ENUMS: dict[str, list[str]] = {
    "category": [c.value for c in Category],
    "fault_kind": [k.value for k in FaultKind],
    "install_kind": [k.value for k in InstallKind],
    "tier": [t.value for t in Tier],
    "area": [a.value for a in Area],
    "role": [r.value for r in Role],
    "status": [s.value for s in TicketStatus],
    "deadline": [k.value for k in DeadlineKind],
    "call_state": [s.value for s in CallState],
}
# A host as a CSP source: name or address and port, nothing that could end the directive.
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def add_page_routes(app: web.Application) -> None:
    """GET /, /login, /agent, /department, /supervisor, /admin and /static/*."""
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app.router.add_get("/", home)
    app.router.add_get("/login", login_page)
    for name in PAGE_ROLES:
        app.router.add_get(f"/{name}", _role_page(name))
    app.router.add_static("/static/", STATIC_DIR)
    app.on_response_prepare.append(_static_headers)


# --- handlers -----------------------------------------------------------------------------


async def home(request: web.Request) -> web.Response:
    user = request.get(USER)
    return _remember_language(request, _see_other(ROLE_PAGES[user.role] if user else "/login"))


async def login_page(request: web.Request) -> web.Response:
    next_path = local_path(request.query.get("next"))
    user = request.get(USER)
    if user is not None:
        return _remember_language(request, _see_other(next_path or ROLE_PAGES[user.role]))
    error_key = LOGIN_ERRORS.get(request.query.get("error", ""))
    return _render(request, "login.html", page="login", next_path=next_path or "", error_key=error_key)


def _role_page(name: str) -> Any:
    async def page(request: web.Request) -> web.Response:
        user = request.get(USER)
        if user is None:
            return _see_other(f"/login?next={quote(request.path_qs, safe='/')}")
        if user.role not in PAGE_ROLES[name]:
            words = {"t_zh": translator("zh-CN"), **_signed_in(request, user)}
            return _render(request, "forbidden.html", status=403, page="forbidden", user=user, **words)
        data = {"page": name, "user": _user_data(user), "enums": ENUMS, "not_forwarded": NOT_FORWARDED, **PAGE_DATA.get(name, {})}
        return _render(request, f"{name}.html", page=name, user=user, page_data=Markup(script_json(data)), **_signed_in(request, user))

    page.__name__ = f"{name}_page"
    return page


# --- rendering ------------------------------------------------------------------------------


def _render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    language = choose_language(request.query.get("lang"), request.cookies.get(LANG_COOKIE))
    other = next(code for code in LANGUAGES if code != language)
    html = request.app[TEMPLATES].get_template(template).render(
        lang=language,
        t=translator(language),
        i18n=Markup(script_json(CATALOGUE[language])),
        other_lang=other,
        other_lang_url=_with_query(request, lang=other),
        **context,
    )
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=_page_headers(request))
    return _remember_language(request, response)


def _signed_in(request: web.Request, user: User) -> dict[str, Any]:
    """What the header of every logged-in page needs: the CSRF token (empty for a bearer
    request, which needs none) and the pages this user may open."""
    pages = [name for name, roles in PAGE_ROLES.items() if user.role in roles]
    return {
        "csrf": request.get(CSRF, ""),
        "nav": [(name, f"/{name}") for name in pages],
        "own_page": ROLE_PAGES[user.role],
        "own_page_name": ROLE_PAGES[user.role].strip("/"),
    }


def _user_data(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "role": user.role.value, "extension": user.extension, "department_id": user.department_id}


def _with_query(request: web.Request, **changes: str) -> str:
    query = {**request.query, **changes}
    return f"{request.path}?{urlencode(query)}"


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _remember_language(request: web.Request, response: web.Response) -> web.Response:
    """?lang=en (or zh-CN) is kept in the `lang` cookie, so every later page speaks it."""
    asked = language_of(request.query.get("lang"))
    if asked is not None and request.cookies.get(LANG_COOKIE) != asked:
        response.set_cookie(LANG_COOKIE, asked, max_age=LANG_COOKIE_SECONDS, path="/", samesite="Lax", httponly=True)
    return response


# --- headers ------------------------------------------------------------------------------------


def content_security_policy(request: web.Request) -> str:
    """Scripts, styles and connections from this site only; no inline script or style. The
    WebSocket's ws:/wss: origin is named as well: 'self' covers it in current Chromium only."""
    hosts = {request.host, *(h.strip() for h in request.headers.get("X-Forwarded-Host", "").split(",")[:1])}
    sockets = [f"{scheme}://{host}" for host in sorted(h for h in hosts if h and _HOST.match(h)) for scheme in ("ws", "wss")]
    connect = " ".join(["'self'", *sockets])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )


def _page_headers(request: web.Request) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(request),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        # A page holds the CSRF token and customers' names: never kept by a cache.
        "Cache-Control": "no-store",
    }


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Static files are revalidated on every load (a 304 when unchanged), so an upgrade of
    the service reaches every office browser at once."""
    if request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers["X-Content-Type-Options"] = "nosniff"

"""The console's pages over HTTP (docs/console.md): who is sent where, which role opens
which page, the language (Chinese first, English on request), the security headers, and
what a page embeds (escaped names, the session's CSRF token, the words for the JavaScript)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.calls.store import CallStore
from hotline.clock import FakeClock
from hotline.metrics import Metrics
from hotline.users.guard import LoginGuard
from hotline.users.passwords import Passwords
from hotline.users.sessions import SessionStore
from hotline.users.store import UserStore
from hotline.web.app import create_app
from hotline.web.auth import add_auth_routes
from hotline.web.i18n import CATALOGUE
from hotline.web.pages import ENUMS, add_page_routes
from hotline.web.users import add_user_routes
from tests.integration.console_app import COOKIE, QUICK_HASHING, START, Console, Session

PAGES = ["/agent", "/department", "/supervisor", "/admin"]
ROLES = ["agent", "department", "supervisor", "admin"]
# Who may open which page (docs/console.md, "Who may do what").
MAY_OPEN = {
    "agent": {"/agent"},
    "department": {"/department"},
    "supervisor": {"/supervisor"},
    "admin": {"/admin", "/supervisor"},
}
ZH, EN = CATALOGUE["zh-CN"], CATALOGUE["en"]
HOSTILE_NAME = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def console(engine: AsyncEngine, aiohttp_client: Any) -> Console:
    """The app as tests/integration/console_app.py builds it, with the pages added."""
    clock = FakeClock(START)
    users, sessions, guard = UserStore(engine, clock, Passwords(QUICK_HASHING)), SessionStore(engine, clock), LoginGuard(engine, clock)
    app = create_app(CallStore(engine), users, Metrics(), lambda: True)
    add_auth_routes(app, users, sessions, guard, secure_cookies=False)
    add_user_routes(app, users, sessions)
    add_page_routes(app)
    client = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    console = Console(client, engine, clock, users, sessions, guard)
    for role in ROLES:
        await console.add(role + "1", role, **({"extension": "8001"} if role == "agent" else {}))
    return console


async def _get(console: Console, path: str, session: Session | None = None, **headers: str) -> tuple[aiohttp.ClientResponse, str]:
    sent = {**(session.cookie if session else {}), **headers}
    response = await console.client.get(path, headers=sent, allow_redirects=False)
    return response, await response.text()


def _title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found, html
    return found.group(1).strip()


def _html_lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found, html[:200]
    return found.group(1)


def _nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="nav".*?</nav>', html, re.S)
    assert nav, html
    return re.findall(r'<a href="([^"]+)"', nav.group(0))


def _script_json(html: str, element_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert found, f"no #{element_id} in the page"
    return json.loads(found.group(1))


# --- who goes where -----------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
async def test_an_anonymous_visitor_is_sent_to_log_in_and_back(console: Console, path: str) -> None:
    response, _ = await _get(console, path)

    assert response.status == 303
    assert response.headers["Location"] == f"/login?next={path}"


async def test_the_way_back_keeps_the_query_in_one_parameter(console: Console) -> None:
    response, _ = await _get(console, "/supervisor?lang=en&x=1")

    assert response.status == 303
    location = response.headers["Location"]
    assert location == "/login?next=/supervisor%3Flang%3Den%26x%3D1"
    login, html = await _get(console, location)
    assert login.status == 200
    assert 'name="next" value="/supervisor?lang=en&amp;x=1"' in html


async def test_an_anonymous_visitor_of_the_root_is_sent_to_log_in(console: Console) -> None:
    response, _ = await _get(console, "/")

    assert (response.status, response.headers["Location"]) == (303, "/login")


@pytest.mark.parametrize("role", ROLES)
async def test_the_root_sends_each_role_to_its_page(console: Console, role: str) -> None:
    session = await console.log_in(role + "1")

    response, _ = await _get(console, "/", session)

    assert (response.status, response.headers["Location"]) == (303, f"/{role}")


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_opens_its_pages_and_is_refused_the_others(console: Console, role: str) -> None:
    session = await console.log_in(role + "1")

    for path in PAGES:
        response, html = await _get(console, path, session)
        if path in MAY_OPEN[role]:
            assert response.status == 200, (role, path)
            assert f'data-page="{path[1:]}"' in html
            assert _script_json(html, "page-data")["page"] == path[1:]
        else:
            assert response.status == 403, (role, path)
            assert 'id="forbidden"' in html
            assert "page-data" not in html  # no page's data for a user it is not for
            assert ZH["forbidden.title"] in html
            assert f'<a id="own-page" href="/{role}">' in html


async def test_the_refusal_is_in_chinese_by_default_and_in_both_languages_on_request(console: Console) -> None:
    session = await console.log_in("agent1")

    _, chinese = await _get(console, "/admin", session)
    response, both = await _get(console, "/admin?lang=en", session)

    assert _html_lang(chinese) == "zh-CN"
    assert ZH["forbidden.message"].format(role=ZH["role.agent"]) in chinese
    assert EN["forbidden.title"] not in chinese
    assert response.status == 403
    assert _html_lang(both) == "en"
    assert ZH["forbidden.message"].format(role=ZH["role.agent"]) in both
    assert EN["forbidden.message"].format(role=EN["role.agent"]) in both


async def test_a_page_shows_only_the_pages_the_user_may_open(console: Console) -> None:
    admin = await console.log_in("admin1")
    agent = await console.log_in("agent1")

    _, admin_page = await _get(console, "/admin", admin)
    _, agent_page = await _get(console, "/agent", agent)

    assert _nav_links(admin_page) == ["/supervisor", "/admin", "/wallboard", "/reports"]
    assert _nav_links(agent_page) == ["/agent"]


async def test_a_logged_in_user_on_the_log_in_page_goes_on(console: Console) -> None:
    session = await console.log_in("supervisor1")

    plain, _ = await _get(console, "/login", session)
    onward, _ = await _get(console, "/login?next=/supervisor%3Fx%3D1", session)

    assert (plain.status, plain.headers["Location"]) == (303, "/supervisor")
    assert (onward.status, onward.headers["Location"]) == (303, "/supervisor?x=1")


@pytest.mark.parametrize("next_path", ["//evil.example", "https://evil.example", "/\\evil.example", "//evil.example/agent", "http:/evil.example"])
async def test_the_log_in_page_refuses_to_send_anyone_to_another_site(console: Console, next_path: str) -> None:
    session = await console.log_in("agent1")

    anonymous, html = await _get(console, f"/login?next={quote(next_path, safe='')}")
    logged_in, _ = await _get(console, f"/login?next={quote(next_path, safe='')}", session)

    assert anonymous.status == 200
    assert 'name="next" value=""' in html
    assert re.search(r'<a class="lang" href="/login\?[^"]*"', html)  # the language link stays here too
    assert (logged_in.status, logged_in.headers["Location"]) == (303, "/agent")


async def test_the_log_in_form_carries_a_local_next_escaped(console: Console) -> None:
    response, html = await _get(console, '/login?next=/agent%22%3E%3Cscript%3Ealert(1)%3C/script%3E')

    assert response.status == 200
    assert "<script>alert(1)" not in html
    assert 'name="next" value="/agent&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


async def test_the_log_in_page_names_the_error(console: Console) -> None:
    _, bad = await _get(console, "/login?error=bad")
    _, locked = await _get(console, "/login?error=locked&lang=en")
    _, unknown = await _get(console, "/login?error=%3Cb%3E")

    assert ZH["login.error.bad"] in bad
    assert EN["login.error.locked"] in locked
    assert 'id="login-error"' not in unknown


# --- language --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_pages_speak_chinese_by_default(console: Console, role: str) -> None:
    session = await console.log_in(role + "1")

    response, html = await _get(console, f"/{role}", session)

    assert response.status == 200
    assert _html_lang(html) == "zh-CN"
    assert _title(html) == f"{ZH['page.' + role]} · {ZH['app.name']}"
    assert _script_json(html, "i18n") == ZH
    assert "lang" not in response.cookies


async def test_the_log_in_page_speaks_chinese_by_default(console: Console) -> None:
    _, html = await _get(console, "/login")

    assert _html_lang(html) == "zh-CN"
    assert _title(html) == f"{ZH['login.title']} · {ZH['app.name']}"
    assert 'href="/login?lang=en"' in html


async def test_english_on_request_is_remembered_in_the_lang_cookie(console: Console) -> None:
    session = await console.log_in("agent1")

    asked, html = await _get(console, "/agent?lang=en", session)
    cookie = asked.cookies["lang"]
    later, later_html = await _get(console, "/agent", session, Cookie=f"{COOKIE}={session.token}; lang={cookie.value}")

    assert _html_lang(html) == "en"
    assert _title(html) == f"{EN['page.agent']} · {EN['app.name']}"
    assert _script_json(html, "i18n") == EN
    assert cookie.value == "en"
    assert cookie["path"] == "/"
    assert int(cookie["max-age"]) >= 30 * 24 * 3600
    assert _html_lang(later_html) == "en"
    assert _title(later_html) == f"{EN['page.agent']} · {EN['app.name']}"
    assert "lang" not in later.cookies  # already remembered


async def test_the_query_outranks_the_cookie(console: Console) -> None:
    response, html = await _get(console, "/login?lang=zh-CN", Cookie="lang=en")

    assert _html_lang(html) == "zh-CN"
    assert response.cookies["lang"].value == "zh-CN"
    assert 'href="/login?lang=en"' in html


async def test_an_unknown_language_falls_back_to_chinese_and_is_not_remembered(console: Console) -> None:
    response, html = await _get(console, "/login?lang=fr")

    assert _html_lang(html) == "zh-CN"
    assert "lang" not in response.cookies


async def test_the_root_remembers_the_language_asked_for(console: Console) -> None:
    session = await console.log_in("department1")

    response, _ = await _get(console, "/?lang=en", session)

    assert response.status == 303
    assert response.cookies["lang"].value == "en"


@pytest.mark.parametrize("accept", ["en", "en-US,en;q=0.9", "fr-FR,fr;q=0.9"])
async def test_the_browsers_language_does_not_decide_chinese_comes_first(console: Console, accept: str) -> None:
    session = await console.log_in("supervisor1")

    response, html = await _get(console, "/supervisor", session, **{"Accept-Language": accept})

    assert _html_lang(html) == "zh-CN"
    assert "lang" not in response.cookies


async def test_the_cookie_chooses_english_whatever_the_browser_says(console: Console) -> None:
    _, html = await _get(console, "/login", **{"Accept-Language": "zh-CN,zh", "Cookie": "lang=en"})

    assert _html_lang(html) == "en"


# --- headers ---------------------------------------------------------------------------------


async def _every_page(console: Console) -> list[tuple[str, aiohttp.ClientResponse]]:
    admin, agent = await console.log_in("admin1"), await console.log_in("agent1")
    shown = [("/login", (await _get(console, "/login"))[0])]
    for path in ("/admin", "/supervisor"):
        shown.append((path, (await _get(console, path, admin))[0]))
    shown.append(("/agent", (await _get(console, "/agent", agent))[0]))
    shown.append(("/admin (403)", (await _get(console, "/admin", agent))[0]))
    return shown


async def test_pages_forbid_inline_script_framing_and_caching(console: Console) -> None:
    for path, response in await _every_page(console):
        policy = response.headers["Content-Security-Policy"]
        directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
        assert "'unsafe-inline'" not in policy, path
        assert "'unsafe-eval'" not in policy, path
        assert directives["script-src"] == ["'self'"], path
        assert directives["frame-ancestors"] == ["'none'"], path
        assert directives["object-src"] == ["'none'"], path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["Content-Type"] == "text/html; charset=utf-8", path


async def test_the_policy_lets_the_page_open_its_own_websocket_only(console: Console) -> None:
    response, _ = await _get(console, "/login", **{"X-Forwarded-Host": "hotline.example:8443, proxy.internal"})
    hostile, _ = await _get(console, "/login", **{"X-Forwarded-Host": "x; script-src *"})

    connect = next(part for part in response.headers["Content-Security-Policy"].split(";") if part.strip().startswith("connect-src"))
    own = f"{console.client.server.host}:{console.client.server.port}"
    assert f"ws://{own}" in connect and f"wss://{own}" in connect
    assert "wss://hotline.example:8443" in connect
    assert "proxy.internal" not in connect
    assert "script-src *" not in hostile.headers["Content-Security-Policy"]


async def test_pages_have_no_inline_script_or_handler(console: Console) -> None:
    admin = await console.log_in("admin1")

    for path in ("/login", "/admin", "/supervisor"):
        _, html = await _get(console, path, admin if path != "/login" else None)
        for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
            assert 'type="application/json"' in attrs or ("src=" in attrs and not body.strip()), (path, attrs)
        assert not re.search(r"\son[a-z]+=", html), path
        assert "style=" not in html, path


@pytest.mark.parametrize("name", ["console.js", "agent.js", "tickets.js", "console.css", "favicon.svg"])
async def test_static_files_are_served_with_nosniff_and_their_own_type(console: Console, name: str) -> None:
    response = await console.client.get(f"/static/{name}")

    assert response.status == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"
    expected = {"js": {"text/javascript", "application/javascript"}, "css": {"text/css"}, "svg": {"image/svg+xml"}}[name.rsplit(".", 1)[1]]
    assert response.content_type in expected  # with nosniff a wrong type would stop the page


async def test_static_serves_nothing_outside_its_folder(console: Console) -> None:
    for path in ("/static/../pages.py", "/static/%2e%2e/pages.py", "/static/", "/static/../templates/layout.html"):
        response = await console.client.get(path)
        assert response.status in (403, 404), path


# --- what a page embeds ---------------------------------------------------------------------


async def test_the_users_name_is_escaped_in_the_header_and_in_the_data(console: Console) -> None:
    await console.add(HOSTILE_NAME, "agent", extension="8002")
    await console.add("</script><script>alert(2)</script>", "agent", extension="8003")
    first = await console.log_in(HOSTILE_NAME)
    second = await console.log_in("</script><script>alert(2)</script>")

    _, html = await _get(console, "/agent", first)
    _, other = await _get(console, "/agent", second)
    _, forbidden = await _get(console, "/admin", first)

    assert "<img" not in html and "<img" not in forbidden
    assert ZH["header.user"].format(name="&lt;img src=x onerror=alert(1)&gt;", role=ZH["role.agent"]) in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in forbidden
    assert _script_json(html, "page-data")["user"]["name"] == HOSTILE_NAME
    assert "<script>alert(2)" not in other
    assert _script_json(other, "page-data")["user"]["name"] == "</script><script>alert(2)</script>"


async def test_a_page_carries_its_sessions_csrf_token(console: Console) -> None:
    session = await console.log_in("agent1")
    other = await console.log_in("admin1")

    _, html = await _get(console, "/agent", session)
    _, forbidden = await _get(console, "/admin", session)

    assert f'<meta name="csrf-token" content="{session.csrf}">' in html
    assert f'<input type="hidden" name="csrf" value="{session.csrf}">' in html  # the log-out form
    assert other.csrf not in html
    assert f'<meta name="csrf-token" content="{session.csrf}">' in forbidden


async def test_the_log_in_page_has_no_csrf_token(console: Console) -> None:
    _, html = await _get(console, "/login")

    assert "csrf" not in html


async def test_a_bearer_request_gets_the_page_without_a_csrf_token(console: Console) -> None:
    _, token = await console.add("agent2", "agent", extension="8004")

    response, html = await _get(console, "/agent", Authorization=f"Bearer {token}")

    assert response.status == 200
    assert '<meta name="csrf-token" content="">' in html
    assert _script_json(html, "page-data")["user"]["name"] == "agent2"


async def test_an_ended_session_is_sent_to_log_in_again(console: Console) -> None:
    session = await console.log_in("agent1")
    await console.client.post("/logout", data={"csrf": session.csrf}, headers=session.cookie, allow_redirects=False)

    response, _ = await _get(console, "/agent", session)

    assert (response.status, response.headers["Location"]) == (303, "/login?next=/agent")


async def test_a_page_gives_its_script_the_user_and_the_choices(console: Console) -> None:
    session = await console.log_in("agent1")

    _, html = await _get(console, "/agent", session)

    data = _script_json(html, "page-data")
    assert data["user"] == {"id": 1, "name": "agent1", "role": "agent", "extension": "8001", "department_id": None}
    assert data["enums"] == ENUMS
    assert '<script type="module" src="/static/agent.js"></script>' in html


async def test_a_head_request_gets_the_page_headers(console: Console) -> None:
    session = await console.log_in("agent1")

    response = await console.client.head("/agent", headers=session.cookie, allow_redirects=False)

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"


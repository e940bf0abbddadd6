"""HTTP for the floor's reports: GET /api/reports/floor (日报 / 周报 / 月报 as JSON or CSV),
GET /api/reports/floor/today (today's call figures) and the page GET /reports with its
charts and its A4 print. Supervisors and admins only; thin: the figures come from
FloorReports, every bad parameter is named at once."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import quote

from aiohttp import web
from markupsafe import Markup

from hotline.errors import BadRequest
from hotline.floor.reports import PERIODS, FloorReports, to_csv
from hotline.users.store import Role, User
from hotline.web.app import USER, require_role
from hotline.web.i18n import CATALOGUE, script_json, translator
from hotline.web.pages import ENUMS, NOT_FORWARDED, PAGE_ROLES, _render, _see_other, _signed_in, _user_data
from hotline.web.responses import json_response

REPORTS = web.AppKey("floor_reports", FloorReports)
WATCHERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
FORMATS = ("json", "csv")
PAGE = "reports"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def add_floor_report_routes(app: web.Application, reports: FloorReports) -> None:
    """The two API routes and the page (which renders with add_page_routes' templates)."""
    app[REPORTS] = reports
    app.router.add_get("/api/reports/floor", floor_report)
    app.router.add_get("/api/reports/floor/today", floor_today)
    if PAGE not in PAGE_ROLES:  # once pages.py lists the page, its own route serves it
        app.router.add_get(f"/{PAGE}", reports_page)


async def floor_report(request: web.Request) -> web.Response:
    require_role(request, WATCHERS)
    reports = request.app[REPORTS]
    period, day, form = _report_query(request.query, reports.clock.now().astimezone(reports.tz).date())
    report = await reports.report(period, day)
    if form == "csv":
        name = f"floor-{period}-{report['from']}-{report['to']}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        # A BOM, so the managers' Excel opens it as UTF-8.
        return web.Response(body=to_csv(report, _chinese_label).encode("utf-8-sig"), content_type="text/csv", charset="utf-8", headers=headers)
    return json_response(report)


async def floor_today(request: web.Request) -> web.Response:
    require_role(request, WATCHERS)
    return json_response(await request.app[REPORTS].today())


def _report_query(query: Any, today: date) -> tuple[str, date, str]:
    """period, date and format from the query; a BadRequest naming every problem."""
    problems: list[str] = []
    period = query.get("period")
    if period not in PERIODS:
        problems.append(f"period must be one of: {', '.join(PERIODS)} (given: {period!r})" if period is not None else "period is missing")
    day = None
    raw_day = query.get("date")
    if raw_day is None:
        problems.append("date is missing (YYYY-MM-DD)")
    else:
        try:
            day = date.fromisoformat(raw_day) if _DAY.fullmatch(raw_day) else None
        except ValueError:
            day = None
        if day is None:
            problems.append(f"date must be a day as YYYY-MM-DD (given: {raw_day!r})")
        elif day > today:
            problems.append(f"date {raw_day} is after today ({today.isoformat()}): there is nothing to report yet")
    form = query.get("format", "json")
    if form not in FORMATS:
        problems.append(f"format must be one of: {', '.join(FORMATS)} (given: {form!r})")
    if problems:
        raise BadRequest("; ".join(problems), problems=problems)
    assert period is not None and day is not None
    return period, day, form


def _chinese_label(group: str, value: str) -> str:
    """The console's Chinese word for a value (category.complaint -> 投诉), for the CSV."""
    return CATALOGUE["zh-CN"].get(f"{group}.{value}", value)


async def reports_page(request: web.Request) -> web.Response:
    """The reports page: like the role pages of pages.py (to /login without a user, 403
    with the refusal page for other roles), with the page itself in the navigation."""
    user: User | None = request.get(USER)
    if user is None:
        return _see_other(f"/login?next={quote(request.path_qs, safe='/')}")
    signed_in = _signed_in(request, user)
    if user.role not in WATCHERS:
        return _render(request, "forbidden.html", status=403, page="forbidden", user=user, t_zh=translator("zh-CN"), **signed_in)
    signed_in["nav"] = [*signed_in["nav"], (PAGE, f"/{PAGE}")]
    data = {"page": PAGE, "user": _user_data(user), "enums": ENUMS, "not_forwarded": NOT_FORWARDED, "periods": list(PERIODS)}
    return _render(request, f"{PAGE}.html", page=PAGE, user=user, page_data=Markup(script_json(data)), **signed_in)

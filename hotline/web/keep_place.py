"""HTTP for keep-your-place: GET /api/keep-place, the virtual callers (open kept places, best
place first per queue) that the supervisor's page shows beside the live ones. Read-only;
supervisors and admins only. Thin: the list comes from KeepPlaceDesk.waiting()."""

from __future__ import annotations

from aiohttp import web

from hotline.keepplace.desk import KeepPlaceDesk
from hotline.users.store import Role
from hotline.web.app import require_role
from hotline.web.responses import json_response

KEEP_PLACE = web.AppKey("keep_place", KeepPlaceDesk)
WATCHERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


def add_keep_place_routes(app: web.Application, desk: KeepPlaceDesk) -> None:
    app[KEEP_PLACE] = desk
    app.router.add_get("/api/keep-place", list_waiting)


async def list_waiting(request: web.Request) -> web.Response:
    require_role(request, WATCHERS)
    return json_response({"waiting": await request.app[KEEP_PLACE].waiting()})

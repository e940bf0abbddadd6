"""JSON answers for every route: UTF-8 text as it is (Chinese names), times in ISO 8601."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from aiohttp import web


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=dumps)


def dumps(data: Any) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)

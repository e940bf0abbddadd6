"""The wallboard's board: the kept places waiting (keep-your-place) ride along with the
figures and the ticket panel, and a board that did not change is not sent again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.floor.board import FloorBoard

NOW = datetime.fromisoformat("2026-11-25T02:00:00+00:00")


class Clock:
    def now(self) -> datetime:
        return NOW


class Hub:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any], **_: Any) -> int:
        self.sent.append(message)
        return 1


async def test_kept_places_ride_with_the_board_and_an_unchanged_board_is_not_resent(engine: AsyncEngine) -> None:
    hub = Hub()
    waiting = [{"id": "KP-1", "queue": "hotline", "tier": "vip", "priority": 10, "position": 2, "joined_at": NOW, "requested_at": NOW, "state": "waiting", "number": "13900000202"}]

    async def today() -> dict[str, Any]:
        return {"as_of": datetime.now().isoformat(), "total": {}}

    async def virtual() -> list[dict[str, Any]]:
        return waiting

    board = FloorBoard(hub, engine, Clock(), today, virtual=virtual)  # type: ignore[arg-type]
    assert await board.push() is True
    assert hub.sent[0]["virtual"] == [{k: v for k, v in waiting[0].items() if k != "number"}]
    assert await board.push() is False  # only as_of changed
    waiting.clear()
    assert await board.push() is True

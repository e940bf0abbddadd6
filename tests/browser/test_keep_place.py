"""The virtual callers in a real browser: a supervisor's live calls panel lists each kept
place (a caller who pressed 1) under the live callers, with its badge, number, tier, queue,
its place and state, 次日优先 when it was carried to the next day; one kept after the page
opened shows up by the page's poll, without a reload. The kept places are written as the
desk writes them when 1 is pressed (pressing 1 has tests of its own, tests/integration/keepplace)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import expect
from sqlalchemy import insert

from hotline.db.engine import create_engine
from hotline.keepplace.tables import keep_place_requests
from hotline.web.i18n import translator

from .conftest import PASSWORD, Console
from .test_callbacks import shown_time
from .test_console import _log_in

t = translator("zh-CN")
WAIT = 10_000  # ms, for what the page shows at once
POLLED = 15_000  # ms: the page asks again every 10 s


async def _kept(console: Console, number: str, **values: Any) -> int:
    now = datetime.now(UTC).replace(microsecond=0)
    row: dict[str, Any] = {
        "number": number, "caller_number": number, "call_id": f"call-{number}", "queue": "hotline", "priority": 0,
        "tier": "regular", "position": 2, "joined_at": now - timedelta(minutes=3), "requested_at": now - timedelta(minutes=1),
        "state": "waiting", "callback_id": None, "attempts": 0, "carried": False, "not_before": None, "open_key": number,
        "note": None, "ended_at": None, "created_at": now, "updated_at": now, "version": 0, **values,
    }  # fmt: skip
    engine = create_engine(console.env["HOTLINE_DATABASE_URL"])
    try:
        async with engine.begin() as conn:
            return int((await conn.execute(insert(keep_place_requests).values(row).returning(keep_place_requests.c.id))).scalar_one())
    finally:
        await engine.dispose()


async def test_a_supervisor_sees_the_virtual_callers_beside_the_live_ones(console: Console, browser: Any) -> None:
    await console.api("POST", "/api/users", {"name": "boss", "role": "supervisor", "password": PASSWORD}, expect=201)
    # Carried to the next day, its time far enough ahead that the service's rounds leave it so.
    not_before = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    carried = await _kept(console, "13900000001", tier="vip", priority=10, carried=True, not_before=not_before)
    page = await (await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 900})).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await _log_in(page, console, "boss")
    await expect(page).to_have_url(re.compile(r"/supervisor$"))

    row = page.locator(f"#kept-places tr[data-kept-id='KP-{carried}']")
    await expect(row).to_have_attribute("data-state", "waiting", timeout=WAIT)
    cells = row.locator("td")
    await expect(cells.nth(0)).to_have_text(f"{t('kept.badge')} {t('keep_place_state.waiting')}")
    await expect(cells.nth(1)).to_have_text("13900000001")
    await expect(cells.nth(2)).to_have_text(t("tier.vip"))
    await expect(cells.nth(3)).to_have_text("hotline")
    await expect(cells.nth(4)).to_contain_text(t("kept.position", position=2))
    await expect(cells.nth(6)).to_have_text(re.compile(r"\d"))  # the count-up since 1 was pressed
    await expect(cells.nth(7)).to_have_text(f"{t('kept.carried')} {t('kept.not_before', when=shown_time(not_before))}")
    await expect(page.locator("#kept-summary")).to_have_text(t("kept.summary", count=1))

    # Being called back already: the service's own rounds leave it as it is at any hour
    # (a waiting one is carried to the next day outside the calling window).
    later = await _kept(console, "13900000002", state="calling")
    later_cells = page.locator(f"#kept-places tr[data-kept-id='KP-{later}'] td")
    await expect(later_cells.nth(7)).to_have_text("—", timeout=POLLED)
    await expect(later_cells.nth(0)).to_have_text(f"{t('kept.badge')} {t('keep_place_state.calling')}")
    await expect(page.locator("#kept-places tbody tr")).to_have_count(2)
    await expect(page.locator("#kept-summary")).to_have_text(t("kept.summary", count=2))
    assert errors == []

"""The wallboard in a real browser: a supervisor opens it, a recorded call (moved to now)
is played in two parts; while the caller waits the queue's tile counts them, once the
call is answered and ends today's figures count it, and the agent who answered is in
after-call work, then paused from the phone, all by push. A reload (a reconnect)
shows the same. The screenshot docs/screenshots/wallboard.png is linked from the README."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from hotline.testing.pbx import PbxDouble
from hotline.web.i18n import translator

from .conftest import PASSWORD, SCREENSHOTS, Console
from .test_console import ZHANG_SAN, _call, _log_in, _split

t = translator("zh-CN")
WAIT = 10_000


async def test_the_wallboard_counts_a_waiting_caller_then_the_answered_call_by_push(console: Console, pbx: PbxDouble, browser: Any) -> None:
    await console.api("POST", "/api/users", {"name": "boss", "role": "supervisor", "password": PASSWORD}, expect=201)
    await console.api("POST", "/api/users", {"name": "agent8002", "role": "agent", "password": PASSWORD, "extension": "8002"}, expect=201)
    page = await (await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1600, "height": 1000})).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await _log_in(page, console, "boss")
    await expect(page).to_have_url(re.compile(r"/supervisor$"))
    await page.goto(f"{console.url}/wallboard")
    await expect(page.locator("#ws-state")).to_have_attribute("data-state", "connected", timeout=WAIT)
    await expect(page.get_by_test_id("board-requests").locator(".tile-value")).to_have_text("0", timeout=WAIT)

    waiting, rest = _split(_call(ZHANG_SAN), "AgentConnect")
    pbx.play(waiting)
    queue = page.get_by_test_id("queue-hotline")
    await expect(queue).to_have_attribute("data-waiting", "1", timeout=WAIT)
    await expect(queue.locator(".tile-note")).to_contain_text(t("board.longest"))

    pbx.play(rest)
    await expect(queue).to_have_attribute("data-waiting", "0", timeout=WAIT)
    await expect(page.get_by_test_id("board-requests").locator(".tile-value")).to_have_text("1", timeout=WAIT)
    await expect(page.get_by_test_id("board-answered").locator(".tile-value")).to_have_text("1")
    rate = page.get_by_test_id("board-answer-rate")
    await expect(rate.locator(".tile-value")).to_have_text("100.0%")
    await expect(rate).to_have_attribute("data-met", "true")
    await expect(rate.locator(".tile-note")).to_have_text(t("board.target_at_least", target="95%"))
    await expect(page.get_by_test_id("board-lost-rate").locator(".tile-value")).to_have_text("0.0%")
    await expect(page.get_by_test_id("limit-forward")).to_be_visible()

    # Agents by state, by push: 8002 answered the call, so the service put them in after-call
    # work (话后整理); then they pause on the phone (a QueueMemberPause nobody asked for).
    tile = page.locator("#board-agents .agent-tile[data-extension='8002']")
    await expect(tile).to_have_attribute("data-state", "wrapup", timeout=WAIT)
    await expect(page.get_by_test_id("agents-wrapup")).to_have_text(f"{t('agent_state.wrapup')} 1")
    pbx.pause_from_phone("Local/8002@agents/n", reason="就餐")
    await expect(tile).to_have_attribute("data-state", "paused", timeout=WAIT)
    await expect(tile.locator(".agent-state")).to_have_text(f"{t('agent_state.paused')}（就餐）")

    # A reload is a reconnect: hello brings the board back as it was.
    await page.reload()
    await expect(page.get_by_test_id("board-answered").locator(".tile-value")).to_have_text("1", timeout=WAIT)
    await expect(tile).to_have_attribute("data-state", "paused", timeout=WAIT)
    await page.screenshot(path=SCREENSHOTS / "wallboard.png", full_page=True)

    # The day's report shows 8002's time in each state so far (the replayed events run a few
    # seconds ahead of the wall clock, so which states have time yet is not fixed).
    await page.goto(f"{console.url}/reports")
    await expect(page.get_by_test_id("floor-report")).to_be_visible(timeout=WAIT)
    await expect(page.locator("#table-agent-time tr[data-extension='8002']")).to_have_count(1, timeout=WAIT)
    await expect(page.locator("#table-agent-time thead")).to_contain_text(t("reports.agent_time.logged_in"))
    assert errors == []

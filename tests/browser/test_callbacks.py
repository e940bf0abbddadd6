"""Callbacks in a real browser: an agent books one from their page for the time the customer
asked for and sees it waiting; a callback whose Originate the PBX double answers busy fails
after its one attempt; the supervisor sees it under 失败 with why, next to the one waiting and
one being placed, retries it, and sees it placed again. The dispatcher of `hotline run`
really places the due ones through the double (its Originates are checked in `pbx.actions`).
A screenshot of the supervisor's callbacks panel is saved under docs/screenshots/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Page, expect

from hotline.testing.pbx import PbxDouble
from hotline.testing.transcripts import recorded_answer
from hotline.web.i18n import translator

from .conftest import SCREENSHOTS, Console
from .test_console import _log_in

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the console shows Beijing time
t = translator("zh-CN")  # the page's own words
AGENT, EXTENSION, OTHER_EXTENSION = "agent8001", "8001", "8002"
BOOKED, BUSY, RINGING = "13912345678", "13800000001", "13800000002"  # as the service dials them
WAIT = 10_000  # ms, for expect(): the service answers in well under a second


def calling_window_env() -> dict[str, str]:
    """A calling window open now, whatever the hour: the window is local time
    (routing.timezone), so the zone is one where it is about midday (as tests/asterisk's
    routing_env). One attempt per callback: a busy line fails at once; the spacing of
    retries never comes into play, and is long so nothing is retried behind the test's back."""
    offset = 12 - datetime.now(UTC).hour  # -11 .. +12: every one is an Etc/GMT zone
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs: GMT-8 is UTC+8
    return {
        "HOTLINE_ROUTING_TIMEZONE": zone,
        "HOTLINE_CALLBACKS_WINDOW_START": "06:00",
        "HOTLINE_CALLBACKS_WINDOW_END": "18:00",
        "HOTLINE_CALLBACKS_MAX_ATTEMPTS": "1",
        "HOTLINE_CALLBACKS_RETRY_BUSY": "60min",
        "HOTLINE_CALLBACKS_RETRY_NO_ANSWER": "60min",
        "HOTLINE_CALLBACKS_RETRY_FAILED": "60min",
    }


@pytest.fixture
async def console(console: Console) -> AsyncIterator[Console]:
    """conftest's service, started again with the calling window above (conftest.py keeps
    the one definition of the service's environment)."""
    await console.close()
    console.env |= calling_window_env()
    await console.start()
    yield console


async def api_as(console: Console, token: str, method: str, path: str, body: Any = None, expect_status: int = 200) -> Any:
    """Console.api with another user's token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.request(method, f"{console.url}{path}", json=body, headers=headers) as response:
        assert response.status == expect_status, await response.text()
        return await response.json()


async def callback_in(console: Console, callback_id: int, state: str, timeout: float = 10) -> dict[str, Any]:
    """The callback once the service has it in `state` (the dispatcher works every second)."""
    async with asyncio.timeout(timeout):
        while (found := await console.api("GET", f"/api/callbacks/{callback_id}"))["state"] != state:
            await asyncio.sleep(0.05)
    return found  # type: ignore[no-any-return]


async def originated(pbx: PbxDouble, channel_id: str, timeout: float = 10) -> dict[str, str]:
    """The Originate the double received for one attempt (ChannelId cb-<callback>-<attempt>)."""
    async with asyncio.timeout(timeout):
        while not (sent := [a for a in pbx.actions if a.get("Action") == "Originate" and a.get("ChannelId") == channel_id]):
            await asyncio.sleep(0.05)
    assert len(sent) == 1, sent  # placed once
    return sent[0]


def shown_time(moment: datetime) -> str:
    """console.js when(): "10:02:03" today, "11-24 10:02" another day this year (Beijing)."""
    local, today = moment.astimezone(SHANGHAI), datetime.now(SHANGHAI)
    if local.date() == today.date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%m-%d %H:%M") if local.year == today.year else local.strftime("%Y-%m-%d %H:%M")


def cells(row: Any) -> dict[str, Any]:
    """A callback row's cells by column (callbacks.js row())."""
    names = ("kind", "customer", "ticket", "when", "attempts", "agent", "state", "note", "actions")
    return {name: row.locator("td").nth(i) for i, name in enumerate(names)}


async def test_an_agent_books_a_callback_and_the_supervisor_retries_a_failed_one(console: Console, pbx: PbxDouble, browser: Any) -> None:
    agent_token = await console.add_user(AGENT, "agent", "--extension", EXTENSION)
    other_token = await console.add_user("agent8002", "agent", "--extension", OTHER_EXTENSION)
    await console.add_user("boss", "supervisor")
    errors: list[str] = []

    # --- the agent books a callback from the page, ten minutes ahead (Beijing time) ---------
    agent = await (await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 900})).new_page()
    agent.on("pageerror", lambda error: errors.append(str(error)))
    await _log_in(agent, console, AGENT)
    await expect(agent).to_have_url(re.compile(r"/agent$"))
    await expect(agent.locator("#callbacks")).to_have_text(t("callbacks.empty"))

    asked = (datetime.now(SHANGHAI) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    form = agent.get_by_test_id("callback-book")
    await form.locator("#callback-number").fill(BOOKED)
    await form.locator("#callback-at").fill(asked.strftime("%Y-%m-%dT%H:%M"))
    await form.locator("#callback-note").fill("客户下班后方便接听")
    await form.locator("#callback-book-submit").click()
    await expect(agent.locator("#callback-book-message")).to_have_text(t("callbacks.book.done", when=shown_time(asked), number=BOOKED))

    [booked] = (await console.api("GET", "/api/callbacks"))["callbacks"]
    assert (booked["kind"], booked["state"], booked["number"], booked["agent_extension"]) == ("manual", "scheduled", BOOKED, EXTENSION)
    assert datetime.fromisoformat(booked["due_at"]) == asked  # the field's Beijing time, kept as such
    row = agent.locator(f"#callbacks tr[data-callback-id='{booked['id']}']")
    await expect(row).to_have_attribute("data-state", "scheduled")
    mine = cells(row)
    await expect(mine["kind"]).to_have_text(t("callback_kind.manual"))
    await expect(mine["customer"]).to_have_text(BOOKED)
    await expect(mine["when"]).to_have_text(shown_time(asked))
    await expect(mine["attempts"]).to_have_text("0/1")
    await expect(mine["agent"]).to_have_text(EXTENSION)
    await expect(mine["state"]).to_have_text(t("callback_state.scheduled"))
    await expect(mine["note"]).to_have_text(f"客户下班后方便接听（{AGENT}）")
    await expect(agent.get_by_test_id(f"callback-cancel-{booked['id']}")).to_have_text(t("callbacks.cancel"))

    # --- a callback due in a second: the agent answers, the customer's line is busy ----------
    # Asterisk's answer is the recorded agent-first callback with the customer's DialStatus
    # BUSY (as the real PBX reports a busy customer: tests/asterisk/test_callbacks.py).
    pbx.originate_events = False
    soon = (datetime.now(SHANGHAI) + timedelta(seconds=1)).isoformat()
    busy = await api_as(console, agent_token, "POST", "/api/callbacks", {"number": BUSY, "at": soon, "note": "客户说一会儿再打"}, expect_status=201)
    channel_id = f"cb-{busy['id']}-1"
    sent = await originated(pbx, channel_id)
    assert (sent["Channel"], sent["Context"], sent["Exten"], sent["CallerID"]) == (f"PJSIP/{EXTENSION}", "hotline-callback", BUSY, '"96655" <96655>')
    answer = recorded_answer("callback-agent-first", {"rec-25": channel_id, "1795533038.20": channel_id})
    pbx.play([m.replace(b"DialStatus: ANSWER", b"DialStatus: BUSY") if b"Context: hotline-callback" in m else m for m in answer])
    failed = await callback_in(console, busy["id"], "failed")
    assert (failed["outcome"], failed["attempts_made"], failed["max_attempts"]) == ("busy", 1, 1)

    # The agent sees it failed, with no retry: that is the supervisor's.
    await agent.click("#callbacks-refresh")
    agent_row = agent.locator(f"#callbacks tr[data-callback-id='{busy['id']}']")
    await expect(agent_row).to_have_attribute("data-state", "failed")
    await expect(cells(agent_row)["state"]).to_have_text(t("callback_state.failed"))
    await expect(agent.get_by_test_id(f"callback-retry-{busy['id']}")).to_have_count(0)

    # --- and one being placed (another agent's): Asterisk queued its Originate and has said
    # nothing since. One agent's phone never rings for two callbacks at once.
    soon = (datetime.now(SHANGHAI) + timedelta(seconds=1)).isoformat()
    ringing = await api_as(console, other_token, "POST", "/api/callbacks", {"number": RINGING, "at": soon}, expect_status=201)
    await originated(pbx, f"cb-{ringing['id']}-1")
    await callback_in(console, ringing["id"], "in_flight")

    # --- the supervisor: failed with why, waiting, being placed ------------------------------
    supervisor = await (await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 900})).new_page()
    supervisor.on("pageerror", lambda error: errors.append(str(error)))
    await _log_in(supervisor, console, "boss")
    await expect(supervisor).to_have_url(re.compile(r"/supervisor$"))
    panel = supervisor.locator("#callbacks-panel")
    await expect(panel.locator("h3")).to_have_text([t("callbacks.failed"), t("callbacks.due"), t("callbacks.in_flight")])
    await expect(supervisor.locator("#callbacks-summary")).to_have_text(t("callbacks.summary", due=1, busy=1, failed=1))

    lost = supervisor.locator(f"#callbacks-failed tr[data-callback-id='{busy['id']}']")
    why = cells(lost)
    await expect(why["kind"]).to_have_text(t("callback_kind.manual"))
    await expect(why["customer"]).to_have_text(BUSY)
    await expect(why["attempts"]).to_have_text(f"1/1 · {t('callbacks.last', outcome=t('callback_outcome.busy'))}")  # 1/1 · 上次：占线
    await expect(why["state"]).to_have_text(t("callback_state.failed"))
    await expect(why["note"]).to_contain_text("1 次均未接通，最后一次：占线")  # the dispatcher's reason, Chinese first
    retry = supervisor.get_by_test_id(f"callback-retry-{busy['id']}")
    await expect(retry).to_have_text(t("callbacks.retry"))

    waiting = cells(supervisor.locator(f"#callbacks-due tr[data-callback-id='{booked['id']}']"))
    await expect(waiting["when"]).to_have_text(shown_time(asked))
    await expect(waiting["state"]).to_have_text(t("callback_state.scheduled"))
    placing = cells(supervisor.locator(f"#callbacks-in-flight tr[data-callback-id='{ringing['id']}']"))
    await expect(placing["attempts"]).to_have_text("1/1")
    await expect(placing["state"]).to_have_text(t("callback_state.in_flight"))
    await expect(placing["agent"]).to_have_text(OTHER_EXTENSION)
    await panel.screenshot(path=SCREENSHOTS / "callbacks-supervisor.png")

    # --- the supervisor retries it: waiting, then placed again --------------------------------
    await retry.click()
    await expect(supervisor.locator("#notice")).to_have_text(t("callbacks.retried"))
    await expect(lost).to_have_count(0)
    await expect(supervisor.locator("#callbacks-failed")).to_have_text(t("callbacks.empty"))
    again = supervisor.locator(f"#callbacks-due tr[data-callback-id='{busy['id']}'], #callbacks-in-flight tr[data-callback-id='{busy['id']}']")
    await expect(again).to_have_count(1)
    shown_states = "|".join(re.escape(t(f"callback_state.{s}")) for s in ("scheduled", "placing", "in_flight"))
    await expect(cells(again)["state"]).to_have_text(re.compile(f"^({shown_states})$"))
    await expect(cells(again)["note"]).to_contain_text("重新安排 / retried; 上次 / before: 1 次均未接通，最后一次：占线")

    # The dispatcher places it again (a second attempt, its own ChannelId); the panel shows it
    # being placed once it is refreshed (the page polls every 10 s; the button does it now).
    sent = await originated(pbx, f"cb-{busy['id']}-2")
    assert (sent["Channel"], sent["Exten"]) == (f"PJSIP/{EXTENSION}", BUSY)
    await callback_in(console, busy["id"], "in_flight")
    await supervisor.click("#callbacks-refresh")
    placed = cells(supervisor.locator(f"#callbacks-in-flight tr[data-callback-id='{busy['id']}']"))
    await expect(placed["state"]).to_have_text(t("callback_state.in_flight"), timeout=WAIT)
    await expect(placed["attempts"]).to_have_text(f"2/2 · {t('callbacks.last', outcome=t('callback_outcome.busy'))}")
    await expect(supervisor.locator("#callbacks-summary")).to_have_text(t("callbacks.summary", due=1, busy=2, failed=0))

    # Nothing placed that was not due: the agent's booking waits for its time.
    originates = [a["ChannelId"] for a in pbx.actions if a.get("Action") == "Originate"]
    assert originates == [f"cb-{busy['id']}-1", f"cb-{ringing['id']}-1", f"cb-{busy['id']}-2"]
    assert errors == []

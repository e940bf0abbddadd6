"""The console in a real browser: an agent logs in, a replayed call pops up on their page
with the caller's Chinese name and VIP badge, the agent forwards the ticket, the
department acknowledges it, the supervisor sees the deadlines met. Screenshots of the pop
and of the supervisor's page are saved under docs/screenshots/ (the README links them)."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.async_api import Page, expect

from hotline.testing.pbx import PbxDouble
from hotline.testing.transcripts import headers, of_call, recorded_events, retimed

from .conftest import PASSWORD, SCREENSHOTS, Console

# chinese-names.ami: 张三 (13912345678) rings extension 8002 (Local/8002@agents); then
# 李四 (13800000001), a key account, rings his account manager on 8009.
ZHANG_SAN, LI_SI = "1795533174.102", "1795533175.106"


def _call(linkedid: str) -> list[bytes]:
    """One recorded call, moved to now, so its deadlines run from now."""
    return retimed(of_call(recorded_events("chinese-names"), linkedid), time.time())


def _split(events: list[bytes], *names: str) -> list[list[bytes]]:
    """The events cut before the first event of each name (AgentConnect, Hangup ...)."""
    parts, start = [], 0
    for name in names:
        cut = next(i for i, e in enumerate(events) if i >= start and headers(e).get("Event") == name)
        parts.append(events[start:cut])
        start = cut
    return [*parts, events[start:]]


async def _log_in(page: Page, console: Console, name: str) -> None:
    await page.goto(f"{console.url}/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")


async def _scene(console: Console) -> dict[str, Any]:
    """A repair department with its staff, an agent on 8002, a supervisor, and 张三 as a VIP
    customer with an account manager."""
    repair = await console.api("POST", "/api/departments", {"name": "维修部"}, expect=201)
    manager = await console.api("POST", "/api/users", {"name": "王经理", "role": "agent", "password": PASSWORD, "extension": "8009"}, expect=201)
    await console.api("POST", "/api/users", {"name": "agent8002", "role": "agent", "password": PASSWORD, "extension": "8002"}, expect=201)
    await console.api("POST", "/api/users", {"name": "repair1", "role": "department", "password": PASSWORD, "department_id": repair["id"]}, expect=201)
    await console.api("POST", "/api/users", {"name": "boss", "role": "supervisor", "password": PASSWORD}, expect=201)
    customer = {"name": "张三", "tier": "vip", "area": "suburban", "numbers": ["13912345678"], "account_manager_id": manager["id"], "notes": "光纤入户，常在外地"}
    await console.api("POST", "/api/customers", customer, expect=201)
    return repair


async def test_pop_forward_acknowledge_and_the_supervisor_sees_it_met(console: Console, pbx: PbxDouble, browser: Any) -> None:
    await _scene(console)
    ringing, talking, ended = _split(_call(ZHANG_SAN), "AgentConnect", "Hangup")
    errors: list[str] = []

    agent = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 768})
    page = await agent.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    await _log_in(page, console, "agent8002")
    await expect(page).to_have_url(re.compile(r"/agent$"))
    await expect(page.locator("#ws-state")).to_have_attribute("data-state", "connected")

    pbx.play(ringing)
    await expect(page.locator("#pop-name")).to_have_text("张三")
    await expect(page.locator("#pop-tier")).to_have_class(re.compile(r"\bvip\b"))
    await expect(page.locator("#pop")).to_contain_text("王经理")
    await page.screenshot(path=SCREENSHOTS / "pop-ringing.png")

    pbx.play(talking)
    await expect(page.locator("#pop-ticket")).to_contain_text("T-")
    await expect(page.locator("#pop-countdown")).to_have_text(re.compile(r"^(09|10):\d\d$"))
    number = (await page.locator("#pop-ticket").inner_text()).strip()
    await expect(page.locator("#my-tickets")).to_contain_text(number)  # the list follows the feed
    await page.screenshot(path=SCREENSHOTS / "pop-talking.png")

    await page.select_option("#forward-department", label="维修部")
    await page.click("#forward-submit")
    await expect(page.locator("#pop")).to_contain_text("已转办")
    pbx.play(ended)
    await expect(page.locator("#pop-ticket")).to_have_text(number)  # the pop settles into the ticket

    department = await (await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")).new_page()
    department.on("pageerror", lambda error: errors.append(str(error)))
    await _log_in(department, console, "repair1")
    await expect(department).to_have_url(re.compile(r"/department$"))
    ack = department.get_by_test_id(f"ack-{number}")
    await expect(ack).to_be_visible()
    await ack.click()
    await expect(department.get_by_test_id(f"ack-{number}")).to_have_count(0)

    li_si_waiting, _ = _split(_call(LI_SI), "AgentConnect")  # a second caller, still ringing
    pbx.play(li_si_waiting)
    supervisor = await (await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 900})).new_page()
    supervisor.on("pageerror", lambda error: errors.append(str(error)))
    await _log_in(supervisor, console, "boss")
    await expect(supervisor).to_have_url(re.compile(r"/supervisor$"))
    await expect(supervisor.locator("#live-calls")).to_contain_text("李四（巴中分公司）")
    await expect(supervisor.locator("#queue-summary")).to_contain_text("排队 1 人")  # ringing, not yet answered
    row = supervisor.locator("#sla-table tr", has_text="维修部")
    await expect(row).to_have_count(1)
    # Forward within 10 minutes and acknowledge within 5: two deadlines met, none breached.
    await expect(row.locator("[data-col=met]")).to_have_text("2")
    await expect(row.locator("[data-col=breached]")).to_have_text("0")
    await expect(supervisor.locator("#sla-chart svg")).to_have_count(1)
    await supervisor.screenshot(path=SCREENSHOTS / "supervisor.png", full_page=True)
    assert errors == []


async def test_a_caller_name_is_shown_as_text_and_a_reload_keeps_the_pop(console: Console, pbx: PbxDouble, browser: Any) -> None:
    await console.api("POST", "/api/users", {"name": "agent8009", "role": "agent", "password": PASSWORD, "extension": "8009"}, expect=201)
    hostile = "<img src=x onerror=alert(1)>"
    await console.api("POST", "/api/customers", {"name": hostile, "tier": "vip", "area": "urban", "numbers": ["13800000001"]}, expect=201)
    dialogs: list[str] = []

    page = await (await browser.new_context(locale="zh-CN")).new_page()
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await _log_in(page, console, "agent8009")
    await expect(page.locator("#ws-state")).to_have_attribute("data-state", "connected")
    ringing, _ = _split(_call(LI_SI), "AgentConnect")
    pbx.play(ringing)

    await expect(page.locator("#pop-name")).to_have_text(hostile)
    assert await page.locator("#pop img").count() == 0
    await page.reload()
    await expect(page.locator("#pop-name")).to_have_text(hostile)  # hello brings the pop back
    assert dialogs == []


async def test_an_admin_sets_up_a_department_an_agent_and_a_customer_from_the_page(console: Console, browser: Any) -> None:
    """The admin page drives the same API the scene above used: what it creates is there."""
    errors: list[str] = []
    page = await (await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")).new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    await _log_in(page, console, "admin1")
    await expect(page).to_have_url(re.compile(r"/admin$"))

    department = page.locator("#department-create")
    await department.locator("input[name=name]").fill("营业厅")
    await department.locator("button[type=submit]").click()
    await expect(page.locator("#departments")).to_contain_text("营业厅")

    user = page.locator("#user-create")
    await user.locator("input[name=name]").fill("坐席小王")
    await user.locator("select[name=role]").select_option("agent")
    await user.locator("input[name=password]").fill(PASSWORD)
    await user.locator("input[name=extension]").fill("8005")
    await user.locator("button[type=submit]").click()
    await expect(page.locator("#users")).to_contain_text("坐席小王")

    customer = page.locator("#customer-form")
    await customer.locator("input[name=name]").fill("巴中市政务中心")
    await customer.locator("select[name=tier]").select_option("key_account")
    await customer.locator("select[name=area]").select_option("urban")
    await customer.locator("textarea[name=numbers]").fill("0827-5261234")
    await customer.locator("button[type=submit]").click()
    await expect(page.locator("#customers")).to_contain_text("巴中市政务中心")

    users = {u["name"]: u for u in (await console.api("GET", "/api/users"))["users"]}
    assert users["坐席小王"]["role"] == "agent" and users["坐席小王"]["extension"] == "8005"
    assert "营业厅" in [d["name"] for d in (await console.api("GET", "/api/departments"))["departments"]]
    found = (await console.api("GET", "/api/customers?q=政务中心"))["customers"]
    assert [(c["tier"], [n["number"] for n in c["numbers"]]) for c in found] == [("key_account", ["+868275261234"])]
    assert errors == []

    agent = await (await browser.new_context(locale="zh-CN")).new_page()
    await _log_in(agent, console, "坐席小王")  # the password set on the page logs them in
    await expect(agent).to_have_url(re.compile(r"/agent$"))

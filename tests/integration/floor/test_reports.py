"""The floor's reports from stored calls and tickets, on SQLite and PostgreSQL, with the clock
injected; the API's refusals and the CSV; the page.

Calls (Bazhong time), stored through the call store as the capture stores them:

    c0  13800000003  Mon 11-24 16:00  queued, answered 16:00:05 (8002)    the day before: only a look-back
    c1  13800000001  Wed 11-25 09:00  hotline, answered 09:00:12 (8001) after 10 s
    c2  13800000002        09:30      hotline, hung up after 20 s                          lost
    c3  13800000001        10:00      vip, answered 10:00:30 (8002) after 30 s             repeat of c1
    c4  13800000003        10:10      hotline, left the queue 10:12 (timeout)              lost; repeat of c0
    c5  13800000009        23:59:50   hotline, answered 00:00:10 on the 26th (8001), 20 s  still the 25th's
    c6  13800000008  Thu 11-26 00:00:05  hung up during routing                            never queued

The 25th: 5 calls, 5 人工请求, 3 answered (c1 c3 c5), 1 within 15 s (c1), 2 lost (c2 c4):
接通率 0.6, 15秒接通率 0.2, SL 1/3, 呼损率 0.4, waits 10 30 20 (mean 20, longest 30),
重复来电 c3 c4: 0.4.

Tickets, all opened on the 25th: A a complaint resolved on the spot 10:03; B a fault
forwarded 10:06 to 维修部, acknowledged 10:08, fixed 11:00; C a complaint of 13800000003
forwarded 10:09 to 营业厅, never acknowledged (an extension asked: 人员外出) nor replied;
D an inquiry resolved on the spot 10:25 (a weekly-sample contact, drawn and reached).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.callbacks.tables import callbacks
from hotline.calls.store import CallStore
from hotline.clock import FakeClock
from hotline.config import FloorSettings
from hotline.events import CallAbandoned, CallAnswered, CallArrived, CallEnded, CallEvent, CallLeftQueue, CallQueued, EventBus, Outcome
from hotline.floor.reports import FloorReports, period_range
from hotline.metrics import Metrics
from hotline.routing.directory import CustomerDirectory
from hotline.tickets.departments import Departments
from hotline.tickets.opening import HandTicket
from hotline.tickets.service import TicketService
from hotline.tickets.standard import Category, FaultKind
from hotline.tickets.tables import deadlines, ticket_calls
from hotline.tickets.workdays import LOCAL_ZONE
from hotline.users.store import User, UserStore
from hotline.web.app import create_app
from hotline.web.floor_reports import add_floor_report_routes
from hotline.web.pages import add_page_routes
from tests.unit.tickets.moments import at

PEOPLE = [("值班长", "supervisor"), ("管理员", "admin"), ("小王", "agent"), ("维修员", "department"), ("营业员", "department")]


def utc(moment: str) -> datetime:
    """A Bazhong moment in UTC, as the capture stores event times (Asterisk's Timestamp)."""
    return at(moment).astimezone(UTC)


def arrived(call: str, moment: str, number: str) -> CallArrived:
    return CallArrived(call, utc(moment), number, None, f"PJSIP/trunk-{call}")


def answered(call: str, moment: str, queue: str, agent: str, hold: float) -> CallAnswered:
    return CallAnswered(call, utc(moment), queue, agent, f"PJSIP/{agent[-4:]}", hold)


def ended(call: str, moment: str, outcome: Outcome) -> CallEnded:
    return CallEnded(call, utc(moment), outcome, None)


MORNING: list[CallEvent] = [
    arrived("c0", "2026-11-24 16:00", "13800000003"), CallQueued("c0", utc("2026-11-24 16:00"), "hotline", 1),
    answered("c0", "2026-11-24 16:00:05", "hotline", "agent-8002", 5), ended("c0", "2026-11-24 16:03", Outcome.ANSWERED),
    arrived("c1", "2026-11-25 09:00", "13800000001"), CallQueued("c1", utc("2026-11-25 09:00:02"), "hotline", 1),
    answered("c1", "2026-11-25 09:00:12", "hotline", "agent-8001", 10), ended("c1", "2026-11-25 09:03", Outcome.ANSWERED),
    arrived("c2", "2026-11-25 09:30", "13800000002"), CallQueued("c2", utc("2026-11-25 09:30"), "hotline", 1),
    CallAbandoned("c2", utc("2026-11-25 09:30:20"), "hotline", 1, 20), ended("c2", "2026-11-25 09:30:20", Outcome.ABANDONED),
    arrived("c3", "2026-11-25 10:00", "13800000001"), CallQueued("c3", utc("2026-11-25 10:00"), "vip", 1),
    answered("c3", "2026-11-25 10:00:30", "vip", "agent-8002", 30), ended("c3", "2026-11-25 10:05", Outcome.ANSWERED),
    arrived("c4", "2026-11-25 10:10", "13800000003"), CallQueued("c4", utc("2026-11-25 10:10"), "hotline", 1),
    CallLeftQueue("c4", utc("2026-11-25 10:12"), "hotline", 1, None, None), ended("c4", "2026-11-25 10:12:05", Outcome.TIMEOUT),
]  # fmt: skip
MIDNIGHT: list[CallEvent] = [
    arrived("c5", "2026-11-25 23:59:50", "13800000009"), CallQueued("c5", utc("2026-11-25 23:59:50"), "hotline", 1),
    answered("c5", "2026-11-26 00:00:10", "hotline", "agent-8001", 20), ended("c5", "2026-11-26 00:01", Outcome.ANSWERED),
    arrived("c6", "2026-11-26 00:00:05", "13800000008"), ended("c6", "2026-11-26 00:00:08", Outcome.FAILED),
]  # fmt: skip


def rate(part: int, whole: int, value: float | None, target: float | None = None, met: bool | None = None) -> dict[str, Any]:
    return {"value": value, "part": part, "whole": whole, "target": target, "met": met}


@dataclass
class Floor:
    engine: AsyncEngine
    clock: FakeClock
    calls: CallStore
    service: TicketService
    reports: FloorReports
    people: dict[str, User]
    tokens: dict[str, str]
    tickets: dict[str, int]

    async def at(self, moment: str, step: Any) -> Any:
        self.clock.set(at(moment))
        return await step


@pytest.fixture
async def floor(engine: AsyncEngine) -> Floor:
    clock = FakeClock(at("2026-11-25 08:00"))
    store = UserStore(engine)
    people, tokens = {}, {}
    for name, role in PEOPLE:
        people[name], tokens[name] = await store.add(name, role)
    departments = Departments(engine, clock)
    for department, member in (("维修部", "维修员"), ("营业厅", "营业员")):
        await departments.add_member((await departments.create(department)).id, people[member].id)
    service = TicketService(engine, EventBus(), clock, directory=CustomerDirectory(engine, default_area_code="0827", now=clock.now))
    reports = FloorReports(engine, clock, FloorSettings(), LOCAL_ZONE)
    return Floor(engine, clock, CallStore(engine), service, reports, people, tokens, {})


@pytest.fixture
async def worked(floor: Floor) -> Floor:
    """The calls of the morning and midnight, the four tickets, the survey answers."""
    await floor.calls.record(MORNING)
    await floor.calls.record(MIDNIGHT)
    s, p, t = floor.service, floor.people, floor.tickets
    floor.clock.set(at("2026-11-25 10:00"))
    t["A"] = await s.open_by_hand(p["小王"], HandTicket("walk_in", Category.COMPLAINT, "信号差"))
    t["B"] = await s.open_by_hand(p["小王"], HandTicket("walk_in", Category.FAULT_REPORT, "无信号", fault_kind=FaultKind.GENERAL))
    t["C"] = await s.open_by_hand(p["小王"], HandTicket("walk_in", Category.COMPLAINT, "收费有误", caller_number="13800000003"))
    await floor.at("2026-11-25 10:03", s.resolve(p["小王"], t["A"], "已解释"))
    await floor.at("2026-11-25 10:06", s.forward(p["小王"], t["B"], "维修部"))
    await floor.at("2026-11-25 10:08", s.acknowledge(p["维修员"], t["B"]))
    await floor.at("2026-11-25 10:09", s.forward(p["小王"], t["C"], "营业厅"))
    await floor.at("2026-11-25 10:20", s.request_extension(p["营业员"], t["C"], "acknowledge", at("2026-11-25 12:00"), "人员外出"))
    t["D"] = await floor.at("2026-11-25 10:20", s.open_by_hand(p["小王"], HandTicket("walk_in", Category.INQUIRY, "资费咨询")))
    await floor.at("2026-11-25 10:25", s.resolve(p["小王"], t["D"], "已答复"))
    await floor.at("2026-11-25 11:00", s.resolve(p["维修员"], t["B"], "已修复"))
    async with floor.engine.begin() as conn:
        await conn.execute(insert(ticket_calls).values(ticket_id=t["C"], call_id="c4", linked_at=at("2026-11-25 10:12").astimezone(UTC)))
        for score, ticket in ((5, "B"), (4, "B"), (2, "C"), (None, "A")):
            await conn.execute(insert(callbacks).values(**_survey(score, t[ticket], at("2026-11-25 15:00"))))
        await conn.execute(insert(callbacks).values(**_survey(5, t["D"], at("2026-11-25 15:00"), source_key=f"sampled:inquiry:2026-W48:{t['D']}")))
    floor.clock.set(at("2026-11-26 09:00"))
    return floor


def _survey(score: int | None, ticket_id: int, when: datetime, source_key: str | None = None) -> dict[str, Any]:
    return {
        "kind": "sampled" if source_key else "follow_up", "mode": "survey", "number": "13800000001", "ticket_id": ticket_id, "tier": "regular",
        "priority": 5, "state": "done", "due_at": when.astimezone(UTC), "attempts": 1, "max_attempts": 3, "outcome": "answered", "score": score,
        "source_key": source_key, "created_at": when.astimezone(UTC), "updated_at": when.astimezone(UTC), "version": 2,
    }  # fmt: skip


# --- the figures -------------------------------------------------------------------------------


async def test_the_days_call_figures_worked_by_hand(worked: Floor) -> None:
    report = await worked.reports.report("day", date(2026, 11, 25))

    calls = report["calls"]
    total = calls["total"]
    assert (report["from"], report["to"], total["calls"], total["requests"], total["answered"], total["answered_within"], total["lost"]) == ("2026-11-25", "2026-11-25", 5, 5, 3, 1, 2)
    assert total["answer_rate"] == rate(3, 5, 0.6, 0.95, False)
    assert total["service_level"] == rate(1, 5, 0.2, 0.8, False)
    assert total["service_level_of_answered"] == rate(1, 3, 0.3333)
    assert total["lost_rate"] == rate(2, 5, 0.4, 0.05, False)
    assert (total["average_wait_seconds"], total["longest_wait_seconds"]) == (20.0, 30.0)
    assert total["repeat_rate"] == rate(2, 5, 0.4)  # c3 (c1's number), c4 (c0's, the day before)
    assert [(q["group"], q["calls"], q["answered"], q["lost"]) for q in calls["queues"]] == [("hotline", 4, 2, 2), ("vip", 1, 1, 0)]
    assert [(a["group"], a["answered"], a["answered_within"]) for a in calls["agents"]] == [("agent-8001", 2, 1), ("agent-8002", 1, 0)]
    assert [(h["group"], h["calls"]) for h in calls["hours"] if h["calls"]] == [("09", 2), ("10", 2), ("23", 1)]
    assert [(d["group"], d["calls"]) for d in calls["days"]] == [("2026-11-25", 5)]


async def test_the_days_ticket_figures_worked_by_hand(worked: Floor) -> None:
    tickets = (await worked.reports.report("day", date(2026, 11, 25)))["tickets"]

    total = tickets["total"]
    assert total["tickets"] == 4
    assert total["resolved_on_spot"] == rate(2, 4, 0.5)  # A, D
    assert total["on_time"] == {
        "forward": rate(2, 2, 1.0),  # B 10:06, C 10:09 (A's and D's cancelled when resolved)
        "acknowledge": rate(1, 2, 0.5),  # B; C never (due 10:14: the extension was not granted)
        "reply": rate(2, 3, 0.6667),  # A, D on the spot; C overdue
        "complete": rate(1, 1, 1.0),  # B's repair
    }
    assert total["overdue"] == rate(1, 4, 0.25)
    # A department is judged on its own deadlines: C's forward (met by the hotline) is not
    # 营业厅's, which met neither its acknowledge nor its reply.
    assert [(d["rank"], d["group"], d["on_time_rate"]["value"]) for d in tickets["departments"]] == [(1, "维修部", 1.0), (2, "营业厅", 0.0)]
    assert tickets["departments"][1]["late"] == {"by_kind": {"acknowledge": 1, "reply": 1}, "reasons": [{"reason": "人员外出", "count": 1}], "without_reason": 1}
    assert [(c["group"], c["tickets"]) for c in tickets["categories"]] == [("complaint", 2), ("fault_report", 1), ("inquiry", 1)]
    assert [(a["group"], a["tickets"]) for a in tickets["areas"]] == [("urban", 4)]


async def test_follow_ups_and_satisfaction(worked: Floor) -> None:
    report = await worked.reports.report("day", date(2026, 11, 25))

    samples = {s["group"]: s for s in report["follow_ups"]["samples"]}
    assert samples["inquiry"]["rate"] == rate(1, 1, 1.0, 0.1, True)  # D: the only inquiry contact, reached
    assert (samples["digital_tv"]["recorded"], samples["marketing"]["recorded"]) == (False, False)
    satisfaction = report["satisfaction"]
    assert satisfaction["total"]["satisfaction_rate"] == rate(3, 4, 0.75)  # 5 5 4 of 5 5 4 2; one keyed nothing
    assert satisfaction["total"]["no_answer"] == 1
    assert [(d["group"], d["answers"], d["satisfaction_rate"]["value"]) for d in satisfaction["departments"]] == [
        ("(未转办 not forwarded)", 1, 1.0),  # D's sample; A's survey had no valid key
        ("维修部", 2, 1.0),
        ("营业厅", 1, 0.0),
    ]


async def test_the_24_hour_follow_ups_are_counted_in_the_period_of_their_limit(worked: Floor) -> None:
    """A's (resolved 10:03) is due 10:03 on the 26th, B's 11:00. At 12:00 A's was met at
    09:30 (as a follow-up call's result meets it) and B's is overdue."""
    async with worked.engine.begin() as conn:
        await conn.execute(update(deadlines).where(deadlines.c.ticket_id == worked.tickets["A"], deadlines.c.kind == "follow_up").values(state="met", met_at=at("2026-11-26 09:30").astimezone(UTC)))
    worked.clock.set(at("2026-11-26 12:00"))

    day25 = await worked.reports.report("day", date(2026, 11, 25))
    day26 = await worked.reports.report("day", date(2026, 11, 26))

    assert day25["follow_ups"]["within_limit"] == rate(0, 0, None, 1.0, None)
    assert day26["follow_ups"]["within_limit"] == rate(1, 2, 0.5, 1.0, False)


async def test_a_week_runs_monday_to_sunday_and_a_month_is_the_calendar_month(worked: Floor) -> None:
    week = await worked.reports.report("week", date(2026, 11, 26))
    month = await worked.reports.report("month", date(2026, 11, 26))

    assert (week["from"], week["to"], week["calls"]["total"]["calls"]) == ("2026-11-23", "2026-11-29", 7)
    assert [d["group"] for d in week["calls"]["days"]] == [f"2026-11-{n}" for n in range(23, 30)]
    assert [(d["group"], d["calls"]) for d in week["calls"]["days"] if d["calls"]] == [("2026-11-24", 1), ("2026-11-25", 5), ("2026-11-26", 1)]
    assert (month["from"], month["to"], len(month["calls"]["days"])) == ("2026-11-01", "2026-11-30", 30)
    assert period_range("month", date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert period_range("week", date(2026, 11, 23)) == (date(2026, 11, 23), date(2026, 11, 29))


async def test_today_is_the_local_day_so_far(floor: Floor) -> None:
    """At noon on the 25th the morning's four calls; just after midnight the new day has
    only c6: c5, answered at 00:00:10, arrived on the 25th."""
    await floor.calls.record(MORNING)
    floor.clock.set(at("2026-11-25 12:00"))

    noon = await floor.reports.today()

    assert (noon["date"], noon["total"]["calls"], noon["total"]["requests"], noon["total"]["answered"], noon["total"]["lost"]) == ("2026-11-25", 4, 4, 2, 2)
    assert noon["total"]["repeat_calls"] == 2
    assert [q["group"] for q in noon["queues"]] == ["hotline", "vip"]
    assert len(noon["hours"]) == 24
    assert noon["rules"]["targets"] == {"answer_rate": 0.95, "service_level": 0.8, "lost_rate": 0.05}
    await floor.calls.record(MIDNIGHT)
    floor.clock.set(at("2026-11-26 00:00:30"))

    after = await floor.reports.today()

    assert (after["date"], after["total"]["calls"], after["total"]["requests"], after["total"]["answered"]) == ("2026-11-26", 1, 0, 0)
    assert after["as_of"] == "2026-11-25T16:00:30+00:00"


async def test_a_repeat_caller_is_tied_to_the_open_ticket(worked: Floor) -> None:
    """C (13800000003) was opened 10:00 on the 25th and had a call linked 10:12."""
    reports, c = worked.reports, worked.tickets["C"]

    assert await reports.repeat_of("13800000003", at("2026-11-26 09:00")) == c
    assert await reports.repeat_of("138 0000 0003", at("2026-11-28 10:12")) == c  # 3 days after the linked call
    assert await reports.repeat_of("13800000003", at("2026-11-28 10:13")) is None  # past the 3 days
    assert await reports.repeat_of("13800000001", at("2026-11-26 09:00")) is None  # no open ticket
    assert await reports.repeat_of("anonymous", at("2026-11-26 09:00")) is None
    assert await reports.repeat_of("13800000003", at("2026-11-25 09:59")) is None  # before it was opened


# --- the API and the page ----------------------------------------------------------------------


@pytest.fixture
async def client(worked: Floor, aiohttp_client: Any) -> TestClient[Any, Any]:
    app = create_app(CallStore(worked.engine), UserStore(worked.engine), Metrics(), lambda: True)
    add_page_routes(app)
    add_floor_report_routes(app, worked.reports)
    return await aiohttp_client(app)


def bearer(floor: Floor, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {floor.tokens[who]}"}


async def test_supervisors_and_admins_get_the_report(worked: Floor, client: TestClient[Any, Any]) -> None:
    for who in ("值班长", "管理员"):
        response = await client.get("/api/reports/floor?period=day&date=2026-11-25", headers=bearer(worked, who))
        assert response.status == 200
        assert (await response.json())["calls"]["total"]["answer_rate"]["value"] == 0.6
    today = await client.get("/api/reports/floor/today", headers=bearer(worked, "值班长"))
    assert (today.status, (await today.json())["date"]) == (200, "2026-11-26")


@pytest.mark.parametrize("path", ["/api/reports/floor?period=day&date=2026-11-25", "/api/reports/floor/today", "/api/reports/floor?period=year"])
@pytest.mark.parametrize("who", ["小王", "维修员"])
async def test_agents_and_departments_are_refused(worked: Floor, client: TestClient[Any, Any], path: str, who: str) -> None:
    response = await client.get(path, headers=bearer(worked, who))

    assert (response.status, (await response.json())["error_id"]) == (403, "forbidden")


async def test_without_a_log_in_the_api_is_401(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/api/reports/floor?period=day&date=2026-11-25")).status == 401


@pytest.mark.parametrize(
    "query, problems",
    [
        ("", ["period is missing", "date is missing (YYYY-MM-DD)"]),
        ("period=year&date=25/11/2026&format=xml", [
            "period must be one of: day, week, month (given: 'year')",
            "date must be a day as YYYY-MM-DD (given: '25/11/2026')",
            "format must be one of: json, csv (given: 'xml')",
        ]),
        ("period=week&date=2026-W48-1", ["date must be a day as YYYY-MM-DD (given: '2026-W48-1')"]),
        ("period=day&date=2026-02-30", ["date must be a day as YYYY-MM-DD (given: '2026-02-30')"]),
        ("period=day&date=2026-11-27", ["date 2026-11-27 is after today (2026-11-26): there is nothing to report yet"]),
    ],
)  # fmt: skip
async def test_a_bad_query_is_400_naming_every_problem(worked: Floor, client: TestClient[Any, Any], query: str, problems: list[str]) -> None:
    response = await client.get(f"/api/reports/floor?{query}", headers=bearer(worked, "值班长"))

    body = await response.json()
    assert (response.status, body["error_id"], body["details"]["problems"]) == (400, "bad_request", problems)


def _sections(text: str) -> dict[str, list[list[str]]]:
    """The CSV's sections by title: the header row and the rows under it."""
    sections: dict[str, list[list[str]]] = {}
    rows = list(csv.reader(io.StringIO(text)))
    for i, row in enumerate(rows):
        if row == [] and i + 1 < len(rows):
            title = rows[i + 1][0]
            body = []
            for line in rows[i + 2 :]:
                if line == []:
                    break
                body.append(line)
            sections[title] = body
    return sections


async def test_the_csv_has_a_titled_section_per_table(worked: Floor, client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/reports/floor?period=day&date=2026-11-25&format=csv", headers=bearer(worked, "管理员"))

    assert (response.status, response.content_type) == (200, "text/csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="floor-day-2026-11-25-2026-11-25.csv"'
    raw = await response.read()
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0] == "报表,日报,2026-11-25,2026-11-25,Asia/Shanghai"
    sections = _sections(text)
    assert list(sections) == ["通话·合计", "通话·按队列", "通话·按小时", "通话·按日", "坐席", "保留排位·按队列", "工单·按部门", "工单·未转办", "工单·按类别", "工单·按区域", "工单·合计", "回访", "满意度"]
    header, total = sections["通话·合计"]
    assert header[:6] == ["分组", "来电", "人工请求", "等待中", "接通", "15秒内接通"]
    assert total == ["all", "5", "5", "0", "3", "1", "1", "0", "1", "2", "60.0", "20.0", "33.3", "40.0", "20.0", "30.0", "2", "40.0", "0", "0", "60.0"]
    departments = sections["工单·按部门"]
    assert [row[:3] for row in departments[1:]] == [["维修部", "1", "1"], ["营业厅", "2", "1"]]
    assert departments[2][-1] == "人员外出×1; 未填写原因×1"
    assert [row[0] for row in sections["工单·按类别"][1:]] == ["投诉", "故障报修", "咨询"]  # the console's words
    assert sections["满意度"][-1][0] == "合计" and sections["满意度"][-1][-1] == "75.0"


async def test_the_page_is_for_supervisors_and_admins(worked: Floor, client: TestClient[Any, Any]) -> None:
    for who in ("值班长", "管理员"):
        response = await client.get("/reports", headers=bearer(worked, who), allow_redirects=False)
        html = await response.text()
        assert response.status == 200
        assert 'data-page="reports"' in html
        assert '<link rel="stylesheet" href="/static/reports.css">' in html
        assert '<script type="module" src="/static/reports.js"></script>' in html
        assert 'href="/reports" aria-current="page"' in html
    for who in ("小王", "维修员"):
        response = await client.get("/reports", headers=bearer(worked, who), allow_redirects=False)
        html = await response.text()
        assert response.status == 403
        assert 'id="forbidden"' in html and "page-data" not in html
    anonymous = await client.get("/reports?period=month", allow_redirects=False)
    assert (anonymous.status, anonymous.headers["Location"]) == (303, "/login?next=/reports%3Fperiod%3Dmonth")


async def test_the_page_and_its_files_print_on_a4(client: TestClient[Any, Any]) -> None:
    css = await client.get("/static/reports.css")
    script = await client.get("/static/reports.js")

    assert css.status == 200 and css.content_type == "text/css"
    text = await css.text()
    assert "@page" in text and "size: A4" in text and "@media print" in text
    assert script.status == 200 and "/api/reports/floor" in await script.text()

"""The SLA report as JSON and CSV, against numbers worked out by hand for one morning.

10:00 four tickets open: A complaint, B a VIP's general fault, C an inquiry, D a complaint.
10:03 C resolved on the spot. 10:06 A forwarded to 维修部, acknowledged 10:08, replied 10:20,
resolved 11:00. 10:09 D forwarded to 营业厅, never acknowledged nor replied. 10:15 B forwarded
to 维修部 (5 min late), acknowledged 10:25 (5 min late), resolved 13:00 (1 h past its 2 h).
The report is read at 14:00; both follow-ups (A, B) are still running.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from hotline.tickets.standard import Category, FaultKind, Tier

from .conftest import START, Api, Desk


@pytest.fixture
async def morning(desk: Desk) -> None:
    s, p = desk.service, desk.people
    a = await desk.open(category=Category.COMPLAINT)
    b = await desk.open(category=Category.FAULT_REPORT, fault_kind=FaultKind.GENERAL, tier=Tier.VIP)
    c = await desk.open(category=Category.INQUIRY)
    d = await desk.open(category=Category.COMPLAINT)
    steps = [
        (3, s.resolve(p["小王"], c, "已解答")),
        (6, s.forward(p["小王"], a, "维修部")),
        (8, s.acknowledge(p["维修员"], a)),
        (9, s.forward(p["小王"], d, "营业厅")),
        (15, s.forward(p["小王"], b, "维修部")),
        (20, s.reply(p["小王"], a, "明天上门")),
        (25, s.acknowledge(p["维修员"], b)),
        (60, s.resolve(p["维修员"], a, "已修复")),
        (180, s.resolve(p["维修员"], b, "已修复")),
    ]
    for minute, step in steps:
        desk.clock.set(START + timedelta(minutes=minute))
        await step
    desk.clock.set(START + timedelta(hours=4))


def row(group: str, tickets: int, deadlines: int, met: int, breached: int, open_: int, forward: float | None, acknowledge: float | None, resolve: float | None) -> dict[str, Any]:
    return {
        "group": group, "tickets": tickets, "deadlines": deadlines, "met": met, "breached": breached, "open": open_,
        "median_minutes_to_forward": forward, "median_minutes_to_acknowledge": acknowledge, "median_minutes_to_resolve": resolve,
    }


TOTAL = row("合计", 4, 12, 5, 5, 2, 9.0, 6.0, 60.0)
BY_GROUP = {
    "department": [
        row("(未转办 not forwarded)", 1, 1, 1, 0, 0, None, None, 3.0),  # C: its forward was cancelled
        row("维修部", 2, 8, 3, 3, 2, 10.5, 6.0, 120.0),
        row("营业厅", 1, 3, 1, 2, 0, 9.0, None, None),  # D: acknowledge and reply overdue
    ],
    "tier": [row("regular", 3, 8, 5, 2, 1, 7.5, 2.0, 31.5), row("vip", 1, 4, 0, 3, 1, 15.0, 10.0, 180.0)],
    "category": [
        row("complaint", 2, 7, 4, 2, 1, 7.5, 2.0, 60.0),
        row("fault_report", 1, 4, 0, 3, 1, 15.0, 10.0, 180.0),
        row("inquiry", 1, 1, 1, 0, 0, None, None, 3.0),
    ],
}


@pytest.mark.parametrize("group", BY_GROUP)
async def test_the_report_counts_met_and_breached_and_the_median_minutes(api: Api, morning: None, group: str) -> None:
    status, report = await api.call("GET", f"/api/reports/sla?from=2026-11-25&to=2026-11-25&group={group}", "值班长")

    assert status == 200
    assert report == {"from": "2026-11-25", "to": "2026-11-25", "group": group, "groups": BY_GROUP[group], "total": TOTAL}


async def test_the_csv_has_chinese_headers_and_opens_in_excel(api: Api, morning: None) -> None:
    response = await api.client.get("/api/reports/sla?from=2026-11-25&to=2026-11-25&format=csv", headers={"Authorization": f"Bearer {api.desk.tokens['管理员']}"})

    assert (response.status, response.content_type) == (200, "text/csv")
    raw = await response.read()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows == [
        ["分组", "工单数", "时限数", "按时完成", "超时", "未到期", "转办中位分钟", "响应中位分钟", "办结中位分钟"],
        ["(未转办 not forwarded)", "1", "1", "1", "0", "0", "", "", "3.0"],
        ["维修部", "2", "8", "3", "3", "2", "10.5", "6.0", "120.0"],
        ["营业厅", "1", "3", "1", "2", "0", "9.0", "", ""],
        ["合计", "4", "12", "5", "5", "2", "9.0", "6.0", "60.0"],
    ]


async def test_the_range_is_bazhong_days_inclusive(api: Api, desk: Desk, morning: None) -> None:
    desk.clock.set(START + timedelta(hours=14, minutes=30))  # 00:30 on the 26th in Bazhong
    await desk.open(category=Category.INQUIRY)

    for span, tickets in (("from=2026-11-25&to=2026-11-25", 4), ("from=2026-11-26&to=2026-11-26", 1), ("from=2026-11-24&to=2026-11-26", 5), ("from=2026-11-20&to=2026-11-24", 0)):
        status, report = await api.call("GET", f"/api/reports/sla?{span}", "值班长")
        assert (status, report["total"]["tickets"]) == (200, tickets), span


@pytest.mark.parametrize("query", ["from=2026-11-25", "from=2026-11-25&to=tomorrow", "from=2026-11-26&to=2026-11-25", "from=2026-11-25&to=2026-11-25&group=agent"])
async def test_a_bad_report_query_is_400(api: Api, query: str) -> None:
    status, refused = await api.call("GET", f"/api/reports/sla?{query}", "值班长")

    assert (status, refused["error_id"]) == (400, "bad_request")


async def test_agents_and_departments_are_refused_the_report(api: Api) -> None:
    for who in ("小王", "维修部主任"):
        status, refused = await api.call("GET", "/api/reports/sla?from=2026-11-25&to=2026-11-25", who)
        assert (status, refused["error_id"]) == (403, "forbidden")

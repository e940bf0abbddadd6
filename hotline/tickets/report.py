"""The SLA report: per department, category or tier, the tickets opened in a date range, how
many of their deadlines were met on time, breached or are still running, and the median
minutes to forward, acknowledge and resolve. Figures are pure; the query feeds them.

CSV columns (Chinese headers, for the managers' Excel; a BOM so it opens as UTF-8), in the
JSON keys' order: 分组 group, 工单数 tickets, 时限数 deadlines, 按时完成 met, 超时 breached,
未到期 open, 转办中位分钟 median_minutes_to_forward, 响应中位分钟 median_minutes_to_acknowledge,
办结中位分钟 median_minutes_to_resolve; the last row, 合计, is the total.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.tickets import repository as repo
from hotline.tickets.tables import deadlines, departments, tickets
from hotline.tickets.workdays import LOCAL_ZONE

GROUPS = ("department", "category", "tier")
NOT_FORWARDED = "(未转办 not forwarded)"
CSV_HEADERS = ("分组", "工单数", "时限数", "按时完成", "超时", "未到期", "转办中位分钟", "响应中位分钟", "办结中位分钟")
_KEYS = ("group", "tickets", "deadlines", "met", "breached", "open", "median_minutes_to_forward", "median_minutes_to_acknowledge", "median_minutes_to_resolve")


@dataclass(frozen=True, slots=True)
class DeadlineTimes:
    kind: str
    state: str
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    breached_at: datetime | None


@dataclass(frozen=True, slots=True)
class TicketTimes:
    group: str
    opened_at: datetime
    resolved_at: datetime | None
    deadlines: tuple[DeadlineTimes, ...] = field(default=())


def outcome(deadline: DeadlineTimes, now: datetime) -> str | None:
    """met (on time), breached (late, met late included), open (not yet due), None (cancelled)."""
    if deadline.state == "cancelled":
        return None
    if deadline.state == "met" and deadline.met_at is not None:
        return "met" if deadline.met_at <= deadline.due_at else "breached"
    return "breached" if deadline.breached_at is not None or deadline.due_at < now else "open"


def figures(group: str, items: Iterable[TicketTimes], now: datetime) -> dict[str, Any]:
    items = list(items)
    counted: dict[str, int] = defaultdict(int)
    to_forward, to_acknowledge = [], []
    for ticket in items:
        for d in ticket.deadlines:
            if (result := outcome(d, now)) is not None:
                counted[result] += 1
            if d.state == "met" and d.met_at is not None and d.kind == "forward":
                to_forward.append(d.met_at - ticket.opened_at)
            if d.state == "met" and d.met_at is not None and d.kind == "acknowledge":
                to_acknowledge.append(d.met_at - d.started_at)
    to_resolve = [t.resolved_at - t.opened_at for t in items if t.resolved_at is not None]
    return {
        "group": group,
        "tickets": len(items),
        "deadlines": sum(counted.values()),
        "met": counted["met"],
        "breached": counted["breached"],
        "open": counted["open"],
        "median_minutes_to_forward": _median_minutes(to_forward),
        "median_minutes_to_acknowledge": _median_minutes(to_acknowledge),
        "median_minutes_to_resolve": _median_minutes(to_resolve),
    }


def _median_minutes(spans: list[timedelta]) -> float | None:
    return round(statistics.median(s.total_seconds() for s in spans) / 60, 1) if spans else None


def grouped(items: Iterable[TicketTimes], now: datetime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each group's figures (by name), and the total."""
    items = list(items)
    by_group: dict[str, list[TicketTimes]] = defaultdict(list)
    for item in items:
        by_group[item.group].append(item)
    return [figures(name, by_group[name], now) for name in sorted(by_group)], figures("合计", items, now)


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """Bazhong days `first` to `last` inclusive, as [start, end) moments."""
    start = datetime.combine(first, time(0), tzinfo=LOCAL_ZONE)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=LOCAL_ZONE)
    return start.astimezone(UTC), end.astimezone(UTC)


async def sla_report(conn: AsyncConnection, *, first: date, last: date, group: str, now: datetime) -> dict[str, Any]:
    if group not in GROUPS:
        raise ValueError(group)
    start, end = day_bounds(first, last)
    in_range = (tickets.c.opened_at >= start, tickets.c.opened_at < end)
    query = (
        select(tickets.c.id, tickets.c.category, tickets.c.tier, departments.c.name.label("department"), tickets.c.opened_at, tickets.c.resolved_at)
        .outerjoin(departments, departments.c.id == tickets.c.department_id)
        .where(*in_range)
    )
    rows = (await conn.execute(query)).all()
    times: dict[int, list[DeadlineTimes]] = defaultdict(list)
    query_deadlines = select(deadlines).join(tickets, tickets.c.id == deadlines.c.ticket_id).where(*in_range)
    for d in (await conn.execute(query_deadlines)).mappings():
        times[d["ticket_id"]].append(DeadlineTimes(*(repo.utc(d[name]) for name in ("kind", "state", "started_at", "due_at", "met_at", "breached_at"))))
    items = [
        TicketTimes(getattr(row, group) or NOT_FORWARDED, repo.utc(row.opened_at), repo.utc(row.resolved_at), tuple(times[row.id]))
        for row in rows
    ]
    groups, total = grouped(items, now)
    return {"from": first.isoformat(), "to": last.isoformat(), "group": group, "groups": groups, "total": total}


def to_csv(report: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    for row in [*report["groups"], report["total"]]:
        writer.writerow(["" if row[key] is None else row[key] for key in _KEYS])
    return out.getvalue().encode("utf-8-sig")

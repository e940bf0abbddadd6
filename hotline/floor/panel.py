"""The wallboard's ticket panel (kpis.md, "What supervisors look at"): tickets close to or
past the 10 / 5 / 30-minute limits, overdue repairs by area and tier, follow-ups due in
the next 24 hours. A few small queries over open rows only; `panel` is the pure part."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.callbacks.tables import callbacks
from hotline.tickets.repository import utc
from hotline.tickets.tables import deadlines, tickets

# The standard's short limits, in the order the panel shows them.
SHORT_LIMITS = ("forward", "acknowledge", "reply")
REPAIRS = ("repair_respond", "repair_fix")
FOLLOW_UP_HORIZON = timedelta(hours=24)
CLOSE_LIST = 8  # the tickets shown by number under each limit, soonest first
_OPEN_CALLBACK = ("scheduled", "placing", "in_flight")


def panel(open_deadlines: Iterable[Mapping[str, Any]], follow_ups: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """`open_deadlines`: pending or breached rows with their ticket's number, area and tier;
    `follow_ups`: open follow-up callbacks with their deadline. Close = past its warning
    point (warn_at, 80 % of the limit), not yet due."""
    limits: dict[str, dict[str, Any]] = {kind: {"close": 0, "overdue": 0, "tickets": []} for kind in SHORT_LIMITS}
    repairs: Counter[tuple[str, str]] = Counter()
    for row in sorted(open_deadlines, key=lambda r: r["due_at"]):
        overdue = row["due_at"] <= now
        if row["kind"] in limits and (overdue or row["warn_at"] <= now):
            entry = limits[row["kind"]]
            entry["overdue" if overdue else "close"] += 1
            if len(entry["tickets"]) < CLOSE_LIST:
                entry["tickets"].append({"id": row["ticket_id"], "number": row["number"], "due_at": row["due_at"], "overdue": overdue})
        elif row["kind"] in REPAIRS and overdue:
            repairs[(row["area"], row["tier"])] += 1
    due_soon = [f for f in follow_ups if f["deadline_at"] is not None and f["deadline_at"] <= now + FOLLOW_UP_HORIZON]
    return {
        "limits": limits,
        "overdue_repairs": [{"area": area, "tier": tier, "count": count} for (area, tier), count in sorted(repairs.items())],
        "follow_ups_due": {"count": len(due_soon), "late": sum(1 for f in due_soon if f["deadline_at"] <= now)},
    }


async def load_panel(conn: AsyncConnection, now: datetime) -> dict[str, Any]:
    query = (
        select(deadlines.c.ticket_id, deadlines.c.kind, deadlines.c.warn_at, deadlines.c.due_at, tickets.c.number, tickets.c.area, tickets.c.tier)
        .select_from(deadlines.join(tickets, tickets.c.id == deadlines.c.ticket_id))
        .where(deadlines.c.state.in_(("pending", "breached")), deadlines.c.kind.in_((*SHORT_LIMITS, *REPAIRS)))
    )
    rows = [{k: utc(v) for k, v in row.items()} for row in (await conn.execute(query)).mappings()]
    follow = select(callbacks.c.deadline_at).where(callbacks.c.kind == "follow_up", callbacks.c.state.in_(_OPEN_CALLBACK))
    follow_ups = [{"deadline_at": utc(value)} for value in (await conn.execute(follow)).scalars()]
    return panel(rows, follow_ups, now)

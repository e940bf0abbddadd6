"""What a screen pop shows of a caller: the directory's profile, the caller's open tickets
and last calls. Gathered once per call when it arrives (the I/O edge: the directory and two
small queries), seconds before any agent's phone rings; `caller_view` is the pure part."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db.tables import calls
from hotline.routing.directory import CustomerDirectory
from hotline.routing.numbers import BadNumber, for_display, is_withheld, normalise
from hotline.routing.profile import CallerProfile
from hotline.routing.tables import customers
from hotline.tickets import repository as repo
from hotline.tickets.views import open_tickets_of_caller

LAST_CALLS = 5
_REGULAR = "regular"


@dataclass(frozen=True, slots=True)
class CallerContext:
    """The caller-dependent part of every pop of one call, ready to be sent as it is."""

    caller: dict[str, Any]
    open_tickets: list[dict[str, Any]] = field(default_factory=list)
    last_calls: list[dict[str, Any]] = field(default_factory=list)
    repeat: dict[str, Any] | None = None  # repeat_of: a repeat caller about an open ticket


def canonical(number: str | None, default_area_code: str) -> str | None:
    """The directory's form of a caller id, or None (withheld, or not a phone number)."""
    if is_withheld(number):
        return None
    assert number is not None
    try:
        return normalise(number, default_area_code=default_area_code)
    except BadNumber:
        return None


def caller_view(number: str | None, callerid_name: str | None, canonical_number: str | None, profile: CallerProfile | None, notes: str | None) -> dict[str, Any]:
    """The pop's `caller` object (pure). Text stays as given: the page escapes it."""
    withheld = is_withheld(number)
    display = for_display(canonical_number) if canonical_number else (None if withheld else number)
    manager = {"name": profile.account_manager, "extension": profile.account_manager_extension} if profile and profile.account_manager else None
    return {
        "number": None if withheld else number,
        "display": display,
        "callerid_name": callerid_name,
        "name": profile.name if profile else None,
        "customer_id": profile.customer_id if profile else None,
        "tier": profile.tier if profile else _REGULAR,
        "area": profile.area if profile else None,
        "account_manager": manager,
        "notes": (notes or None) if profile else None,
    }


def repeat_of(open_tickets: list[dict[str, Any]], last_calls: list[dict[str, Any]], at: datetime, days: int) -> dict[str, Any] | None:
    """重复来电 (pure): the caller rang before within `days` and has a ticket still open —
    this call is about it (the ticket service links it there). The newest open ticket."""
    if not open_tickets or not last_calls:
        return None
    previous = last_calls[0]["arrived_at"]
    if previous is None or previous < at - timedelta(days=days):
        return None
    ticket = open_tickets[0]
    return {"ticket_id": ticket["id"], "ticket": ticket["number"], "previous_call_at": previous, "days": days}


def unknown_caller(number: str | None, callerid_name: str | None, default_area_code: str) -> CallerContext:
    """What is known without the database (a withheld number; or the database failing)."""
    return CallerContext(caller_view(number, callerid_name, canonical(number, default_area_code), None, None))


async def load_caller(engine: AsyncEngine, directory: CustomerDirectory, call_id: str, number: str | None, callerid_name: str | None, *, at: datetime | None = None, repeat_days: int = 3) -> CallerContext:
    """The caller's context for the pops of call `call_id` (arriving `at`)."""
    wanted = canonical(number, directory.default_area_code)
    if wanted is None and is_withheld(number):
        return unknown_caller(number, callerid_name, directory.default_area_code)
    profile = await directory.lookup(wanted) if wanted else None
    async with engine.connect() as conn:
        notes = None
        if profile is not None:
            notes = (await conn.execute(select(customers.c.notes).where(customers.c.id == profile.customer_id))).scalar_one_or_none()
        tickets = await open_tickets_of_caller(conn, profile.customer_id if profile else None, wanted, opened_by_other_than=call_id)
        last = await _last_calls(conn, number, call_id) if number else []
    repeat = repeat_of(tickets, last, at, repeat_days) if at is not None else None
    return CallerContext(caller_view(number, callerid_name, wanted, profile, notes), tickets, last, repeat)


async def _last_calls(conn: Any, number: str, call_id: str) -> list[dict[str, Any]]:
    """The caller's latest calls before this one, by the number as the PBX gave it (the
    calls table keeps it so)."""
    query = (
        select(calls.c.id, calls.c.arrived_at, calls.c.outcome, calls.c.agent, calls.c.hold_seconds)
        .where(calls.c.caller_number == number, calls.c.id != call_id)
        .order_by(calls.c.arrived_at.desc(), calls.c.id.desc())
        .limit(LAST_CALLS)
    )
    return [{name: repo.utc(value) for name, value in row.items()} for row in (await conn.execute(query)).mappings()]

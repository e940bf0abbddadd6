"""The follow-up planner (回访, 四.4): writes the callbacks the standard owes, for the
dispatcher to place or a person to record. A resolved ticket's own follow-up (a call, or a
reply letter), each month's VIP call and key-account or private-network visit, and the
weekly and yearly samples. Every row goes through book.schedule under a source_key, so
planning again, on any instance, after any restart, writes each one once.

Planning for a day also catches up what a crash or an outage missed: the month's calls, the
last week's draw, this year's draw, a resolved ticket whose follow-up was never written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.clock import Clock
from hotline.db.engine import write_transaction
from hotline.events import EventBus
from hotline.routing.numbers import BadNumber, is_withheld
from hotline.routing.tables import customer_numbers, customers
from hotline.tickets.events import TicketChanged
from hotline.tickets.standard import DEFAULT_POLICY, Category, InstallKind, Policy, Tier
from hotline.tickets.tables import ticket_events, tickets

from .book import Owed, schedule
from .followups import MONTHLY, Contact, FollowUp, monthly_follow_up, sampled_follow_up, ticket_follow_up, ticket_sample_group
from .model import CallbackKind, Mode, is_called
from .owed import OPEN, dialled
from .policy import CallingWindow
from .sampling import SAMPLE_RULES, Cadence, SampleGroup, contacts_span, draw_day, period, ranking, sample_size, seed, weeks_drawn_on, yearly_draw_day
from .tables import callbacks

log = structlog.get_logger(__name__)

RESOLVED = "resolved"  # the ticket_events kind, and the status waiting for a follow-up
_OWN_FOLLOW_UPS = (CallbackKind.FOLLOW_UP.value, CallbackKind.REPLY_LETTER.value)
# Samples of groups whose candidates the schema does not hold: skipped, and said so.
NO_CANDIDATES: Mapping[SampleGroup, str] = {
    SampleGroup.MARKETING: "no marketing contacts are recorded: tickets have no marketing category",
    SampleGroup.DIGITAL_TV: "no list of digital-TV conversion customers is recorded",
}
# The yearly sample's customer types: the tiers with no monthly call or visit of their own.
OTHER_TYPES = tuple(tier.value for tier in Tier if tier not in MONTHLY)
# A missed Friday is drawn on the days after it, until the next one.
_CATCH_UP_DAYS = 6
# Just after midnight, not on it: a contact taken at 23:59:59 is committed by then.
AFTER_MIDNIGHT = timedelta(minutes=1)
RETRY_AFTER = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class _Ticket:
    id: int
    category: Category
    source: str
    install_kind: InstallKind | None
    tier: str
    customer_id: int | None
    caller_number: str | None


@dataclass(frozen=True, slots=True)
class _Candidate:
    id: int  # the ticket (weekly samples) or the customer (yearly)
    tier: str
    number: str | None  # as dialled; None: nobody to call
    customer_id: int | None
    ticket_id: int | None


@dataclass(frozen=True, slots=True)
class _Booked:
    id: int
    owed: Owed
    rule: str


class FollowUpPlanner:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        window: CallingWindow,
        is_working_day: Callable[[date], bool],
        tz: ZoneInfo,
        mode_of: Callable[[CallbackKind], Mode],
        max_attempts: int,
        default_area_code: str,
        policy: Policy = DEFAULT_POLICY,
    ) -> None:
        self.engine, self.clock, self.window, self.is_working_day, self.tz = engine, clock, window, is_working_day, tz
        self.mode_of, self.max_attempts, self.default_area_code, self.policy = mode_of, max_attempts, default_area_code, policy

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(TicketChanged, self.on_ticket_changed)

    async def on_ticket_changed(self, event: TicketChanged) -> None:
        if event.kind == RESOLVED:
            await self.follow_up(event.ticket_id, event.at)

    async def follow_up(self, ticket_id: int, resolved_at: datetime) -> int | None:
        """The ticket's own follow-up for its resolution at `resolved_at`: the new row's id,
        or None when it is only sampled, planned already, or has nobody to call."""
        async with write_transaction(self.engine) as conn:
            booked = await self._ticket_follow_up(conn, ticket_id, resolved_at)
        _log_booked([booked] if booked else [])
        return booked.id if booked else None

    async def plan(self, day: date) -> int:
        """The day's planned callbacks: the month's calls and visits, the samples drawn on
        `day` (or missed in the days before), the follow-ups of resolved tickets still owed.
        Idempotent; how many rows it wrote."""
        booked: list[_Booked] = []
        for part in (self._plan_monthly, self._plan_weekly, self._plan_yearly, self._catch_up):
            async with write_transaction(self.engine) as conn:
                booked += await part(conn, day)
        _log_booked(booked)
        log.info("follow_ups.planned", day=day.isoformat(), written=len(booked))
        return len(booked)

    async def run(self, stop: asyncio.Event) -> None:
        """plan(today) now, then just after each local midnight, until `stop`; a failed
        plan (the database away) is logged and tried again a few minutes later."""
        log.info("follow_ups.started")
        while not stop.is_set():
            today = self.clock.now().astimezone(self.tz).date()
            wake = datetime.combine(today + timedelta(days=1), time(0), tzinfo=self.tz) + AFTER_MIDNIGHT
            try:
                await self.plan(today)
            except Exception:  # a database fault: the next try comes sooner than midnight
                log.exception("follow_ups.plan_failed", day=today.isoformat())
                wake = min(wake, self.clock.now() + RETRY_AFTER)
            await self._nap(wake, stop)
        log.info("follow_ups.stopped")

    async def _nap(self, until: datetime, stop: asyncio.Event) -> None:
        waits = {
            asyncio.create_task(self.clock.sleep_until(until), name="follow_ups.nap"),
            asyncio.create_task(stop.wait(), name="follow_ups.stop"),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    # A ticket's own follow-up (四.4(2)).

    async def _ticket_follow_up(self, conn: AsyncConnection, ticket_id: int, resolved_at: datetime) -> _Booked | None:
        ticket = await _load_ticket(conn, ticket_id)
        if ticket is None:
            log.warning("follow_up.no_ticket", ticket=ticket_id)
            return None
        wanted = ticket_follow_up(
            category=ticket.category, source=ticket.source, install_kind=ticket.install_kind, resolved_at=resolved_at,
            window=self.window, is_working_day=self.is_working_day, tz=self.tz, policy=self.policy,
        )  # fmt: skip
        if wanted is None:
            return None  # only sampled: a weekly draw may pick it
        resolution = await _resolutions(conn, ticket_id, resolved_at)
        key = f"ticket:{ticket_id}:follow_up" + (f":{resolution}" if resolution > 1 else "")
        if resolution > 1 and await _open_follow_up(conn, ticket_id, key):
            # Resolved again before the first follow-up was made: that one asks about both.
            log.info("follow_up.still_open", ticket=ticket_id, resolution=resolution)
            return None
        number = "" if wanted.contact is Contact.LETTER else await self._ticket_number(conn, ticket)
        if number is None:
            log.warning("follow_up.no_number", ticket=ticket_id, number=ticket.caller_number, reason="no number to call")
            return None
        owed = self._owed(wanted, number, ticket.tier, key, customer_id=ticket.customer_id, ticket_id=ticket_id)
        return await self._book(conn, owed, wanted.rule)

    async def _ticket_number(self, conn: AsyncConnection, ticket: _Ticket) -> str | None:
        """The caller's number, else the customer's first number in the directory."""
        numbers: Mapping[int, str] = {}
        if ticket.customer_id is not None and self._dialled(ticket.caller_number) is None:
            numbers = await self._first_numbers(conn, customers.c.id == ticket.customer_id)
        return self._number_of(ticket, numbers)

    async def _catch_up(self, conn: AsyncConnection, _day: date) -> list[_Booked]:
        """Resolved tickets still waiting for a follow-up whose row was never written (the
        service stopped between the resolution's commit and its event)."""
        query = select(tickets.c.id, tickets.c.resolved_at).where(tickets.c.status == RESOLVED, tickets.c.follow_up_needed.is_(True), tickets.c.resolved_at.is_not(None))
        waiting = (await conn.execute(query)).all()
        booked = [await self._ticket_follow_up(conn, row.id, _utc(row.resolved_at)) for row in waiting]
        return [b for b in booked if b is not None]

    # Monthly calls and visits (四.4(3)).

    async def _plan_monthly(self, conn: AsyncConnection, day: date) -> list[_Booked]:
        month = f"{day:%Y-%m}"
        taken = await _taken(conn, f"monthly:%:{month}")
        whose = customers.c.tier.in_(list(MONTHLY))
        numbers = await self._first_numbers(conn, whose)
        booked = []
        for row in (await conn.execute(select(customers.c.id, customers.c.tier).where(whose).order_by(customers.c.id))).all():
            key = f"monthly:{row.tier}:{row.id}:{month}"
            if key not in taken:
                booked.append(await self._monthly(conn, row.id, row.tier, numbers.get(row.id), day, key))
        return [b for b in booked if b is not None]

    async def _monthly(self, conn: AsyncConnection, customer_id: int, tier: str, number: str | None, day: date, key: str) -> _Booked | None:
        wanted = monthly_follow_up(tier, day.year, day.month, window=self.window, is_working_day=self.is_working_day, tz=self.tz)
        if wanted is None:
            return None
        if number is None and wanted.contact is Contact.PHONE:
            log.warning("follow_up.no_number", customer=customer_id, kind=wanted.kind.value, reason="no number in the directory")
            return None
        owed = self._owed(wanted, number or "", tier, key, customer_id=customer_id)
        return await self._book(conn, owed, wanted.rule)

    # Samples (四.4(1), (4), (5)).

    async def _plan_weekly(self, conn: AsyncConnection, day: date) -> list[_Booked]:
        booked: list[_Booked] = []
        for week in self._weeks_to_draw(day):
            first, end = contacts_span(week, self.is_working_day)
            contacts = await self._contacts(conn, self._midnight(first), self._midnight(end))
            for group in (g for g, rule in SAMPLE_RULES.items() if rule.cadence is Cadence.WEEKLY):
                if group in NO_CANDIDATES:
                    if day == draw_day(week, self.is_working_day):  # said once a week, not daily
                        log.warning("sample.skipped", group=group.value, period=week, reason=NO_CANDIDATES[group])
                    continue
                candidates = [c for ticket, c in contacts if self._sample_group(ticket) is group]
                booked += await self._draw(conn, group, week, candidates)
        return booked

    def _weeks_to_draw(self, day: date) -> list[str]:
        days = (day - timedelta(days=n) for n in range(_CATCH_UP_DAYS, -1, -1))
        return [week for earlier in days for week in weeks_drawn_on(earlier, self.is_working_day)]

    def _sample_group(self, ticket: _Ticket) -> SampleGroup | None:
        return ticket_sample_group(ticket.category, source=ticket.source, install_kind=ticket.install_kind, policy=self.policy)

    async def _contacts(self, conn: AsyncConnection, start: datetime, end: datetime) -> list[tuple[_Ticket, _Candidate]]:
        """The tickets resolved in [start, end), from their timelines: an append-only record,
        so the same week always has the same candidates (a ticket resolved twice in two
        weeks was two contacts, and is a candidate in each)."""
        resolved = select(ticket_events.c.ticket_id).where(ticket_events.c.kind == RESOLVED, ticket_events.c.at >= start, ticket_events.c.at < end)
        found = [_ticket(row) for row in (await conn.execute(_TICKET.where(tickets.c.id.in_(resolved)))).all()]
        unreachable = sorted({t.customer_id for t in found if t.customer_id is not None and self._dialled(t.caller_number) is None})
        numbers = await self._first_numbers(conn, customers.c.id.in_(unreachable)) if unreachable else {}
        return [(t, _Candidate(t.id, t.tier, self._number_of(t, numbers), t.customer_id, t.id)) for t in found]

    def _number_of(self, ticket: _Ticket, directory: Mapping[int, str]) -> str | None:
        caller = self._dialled(ticket.caller_number)
        return caller if caller is not None or ticket.customer_id is None else directory.get(ticket.customer_id)

    async def _plan_yearly(self, conn: AsyncConnection, day: date) -> list[_Booked]:
        """Each customer type's yearly sample, from its draw day to the year's end: of the
        customers in the directory before the draw day, so every later day draws the same."""
        drawn_on = yearly_draw_day(day.year, self.is_working_day)
        if day < drawn_on:
            return []
        booked: list[_Booked] = []
        for customer_type in OTHER_TYPES:
            whose = (customers.c.tier == customer_type) & (customers.c.created_at < self._midnight(drawn_on))
            numbers = await self._first_numbers(conn, whose)
            ids = (await conn.execute(select(customers.c.id).where(whose))).scalars().all()
            candidates = [_Candidate(i, customer_type, numbers.get(i), i, None) for i in ids]
            booked += await self._draw(conn, SampleGroup.OTHER, period(day, Cadence.YEARLY), candidates, customer_type=customer_type)
        return booked

    async def _draw(self, conn: AsyncConnection, group: SampleGroup, label: str, candidates: Sequence[_Candidate], *, customer_type: str | None = None) -> list[_Booked]:
        """At least the standard's share of the candidates, in the seed's order; one who has
        no number (or a number drawn already) gives way to the next in that order."""
        wanted = sample_size(len(candidates), SAMPLE_RULES[group].fraction)
        drawn = _pick(ranking([c.id for c in candidates], seed=seed(group, label, customer_type=customer_type)), {c.id: c for c in candidates}, wanted)
        prefix = f"sampled:{group}:{label}:"
        taken = await _taken(conn, prefix + "%")
        if len(drawn) < wanted and not taken:  # said at the first draw, not at each look again
            log.warning("sample.short", group=group.value, period=label, customer_type=customer_type, wanted=wanted, drawn=len(drawn), reason="too few with a number to call")
        wanted_call = sampled_follow_up(group, label, window=self.window, is_working_day=self.is_working_day, tz=self.tz)
        booked = []
        for candidate in (c for c in drawn if prefix + str(c.id) not in taken):
            assert candidate.number is not None  # _pick takes only candidates with one
            owed = self._owed(wanted_call, candidate.number, candidate.tier, prefix + str(candidate.id), customer_id=candidate.customer_id, ticket_id=candidate.ticket_id)
            booked.append(await self._book(conn, owed, wanted_call.rule))
        return [b for b in booked if b is not None]

    # Writing.

    def _owed(self, wanted: FollowUp, number: str, tier: str, key: str, *, customer_id: int | None, ticket_id: int | None = None) -> Owed:
        # Not called (a visit, a reply letter): the mode is never used; the column wants one.
        mode = self.mode_of(wanted.kind) if is_called(wanted.kind) else Mode.AGENT_FIRST
        deadline = None if wanted.due_at is None else _utc(wanted.due_at)
        return Owed(
            kind=wanted.kind, mode=mode, number=number, tier=tier, due_at=_utc(wanted.scheduled_at), deadline_at=deadline,
            max_attempts=self.max_attempts, customer_id=customer_id, ticket_id=ticket_id, source_key=key,
        )  # fmt: skip

    async def _book(self, conn: AsyncConnection, owed: Owed, rule: str) -> _Booked | None:
        created = await schedule(conn, owed, self.clock.now())
        return None if created is None else _Booked(created, owed, rule)

    def _dialled(self, raw: str | None) -> str | None:
        if raw is None or is_withheld(raw):
            return None
        try:
            return dialled(raw, self.default_area_code)
        except BadNumber:
            return None

    async def _first_numbers(self, conn: AsyncConnection, whose: ColumnElement[bool]) -> dict[int, str]:
        """Each customer's first number that can be dialled, in the directory's order."""
        query = select(customer_numbers.c.customer_id, customer_numbers.c.number).join(customers).where(whose).order_by(customer_numbers.c.id)
        first: dict[int, str] = {}
        for row in (await conn.execute(query)).all():
            if row.customer_id not in first and (number := self._dialled(row.number)) is not None:
                first[row.customer_id] = number
        return first

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)


_TICKET = select(tickets.c.id, tickets.c.category, tickets.c.source, tickets.c.install_kind, tickets.c.tier, tickets.c.customer_id, tickets.c.caller_number)


def _ticket(row: Any) -> _Ticket:
    install = InstallKind(row.install_kind) if row.install_kind else None
    return _Ticket(row.id, Category(row.category), row.source, install, row.tier, row.customer_id, row.caller_number)


async def _load_ticket(conn: AsyncConnection, ticket_id: int) -> _Ticket | None:
    row = (await conn.execute(_TICKET.where(tickets.c.id == ticket_id))).one_or_none()
    return None if row is None else _ticket(row)


async def _resolutions(conn: AsyncConnection, ticket_id: int, resolved_at: datetime) -> int:
    """Which resolution of the ticket this is (1 the first): counted on its timeline up to
    `resolved_at`, so the same event gives the same answer however late it is handled."""
    query = select(func.count()).select_from(ticket_events).where(ticket_events.c.ticket_id == ticket_id, ticket_events.c.kind == RESOLVED, ticket_events.c.at <= _utc(resolved_at))
    return max(1, int((await conn.execute(query)).scalar_one()))


async def _open_follow_up(conn: AsyncConnection, ticket_id: int, key: str) -> bool:
    query = select(callbacks.c.id).where(callbacks.c.ticket_id == ticket_id, callbacks.c.kind.in_(_OWN_FOLLOW_UPS), callbacks.c.state.in_(OPEN), callbacks.c.source_key != key)
    return (await conn.execute(query.limit(1))).first() is not None


async def _taken(conn: AsyncConnection, pattern: str) -> set[str]:
    """Source keys already written that match a LIKE pattern: skipped without an insert.
    `_` in a pattern matches any character too, which only makes this set larger; the
    caller looks its exact keys up in it."""
    rows = await conn.execute(select(callbacks.c.source_key).where(callbacks.c.source_key.like(pattern)))
    return {key for key in rows.scalars() if key is not None}


def _pick(ranked: Iterable[int], candidates: Mapping[int, _Candidate], wanted: int) -> list[_Candidate]:
    picked: list[_Candidate] = []
    numbers: set[str] = set()
    for candidate in (candidates[i] for i in ranked):
        if len(picked) == wanted:
            break
        if candidate.number is not None and candidate.number not in numbers:
            picked.append(candidate)
            numbers.add(candidate.number)
    return picked


def _utc(moment: datetime) -> datetime:
    """Stored in UTC (SQLite keeps no offset); a naive value read back from SQLite is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _log_booked(booked: Iterable[_Booked]) -> None:
    for b in booked:
        o = b.owed
        late = o.deadline_at is not None and o.due_at > o.deadline_at  # the window left no room
        (log.warning if late else log.info)(
            "follow_up.scheduled", callback=b.id, kind=o.kind.value, rule=b.rule, ticket=o.ticket_id, customer=o.customer_id, number=o.number or None,
            due_at=o.due_at.isoformat(), deadline_at=o.deadline_at.isoformat() if o.deadline_at else None, late=late, source=o.source_key,
        )  # fmt: skip

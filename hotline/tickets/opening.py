"""Opening tickets: one per answered hotline call, owned by the agent who answered (首问负责),
the caller's tier and area from the directory, a repeat caller's call linked to their open
ticket instead; and tickets opened by hand (walk-in, letter, government referral)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.ami.presence import extension_of
from hotline.clock import Clock
from hotline.db.tables import calls
from hotline.errors import BadRequest
from hotline.events import CallAnswered, EventBus
from hotline.routing.directory import CustomerDirectory
from hotline.routing.numbers import BadNumber, is_withheld, normalise
from hotline.routing.profile import CallerProfile
from hotline.tickets import repository as repo
from hotline.tickets.deadline_sync import DeadlineBook
from hotline.tickets.events import CallLinkedToTicket, TicketOpened
from hotline.tickets.plan import DeadlineKind, Planned, TicketFacts, needs_follow_up, plan
from hotline.tickets.standard import DEFAULT_POLICY, Area, Category, FaultKind, InstallKind, Policy, Tier
from hotline.tickets.workdays import WorkCalendar
from hotline.users.store import User
from hotline.db.engine import write_transaction

log = structlog.get_logger(__name__)

HAND_SOURCES = ("walk_in", "letter", "government_referral", "other")
_ATTEMPTS = 5
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HandTicket:
    """A ticket opened by hand; what is not given comes from the directory, else regular/urban."""

    source: str
    category: Category
    summary: str
    caller_number: str | None = None
    caller_name: str | None = None
    tier: Tier | None = None
    area: Area | None = None
    fault_kind: FaultKind | None = None
    install_kind: InstallKind | None = None


def facts_of(values: Mapping[str, Any], *, first_forwarded_at: datetime | None = None, forwarded_at: datetime | None = None) -> TicketFacts:
    """A ticket's columns as the plan reads them."""
    return TicketFacts(
        category=Category(values["category"]),
        tier=Tier(values["tier"]),
        area=Area(values["area"]),
        taken_at=values["opened_at"],
        source=values["source"],
        fault_kind=FaultKind(values["fault_kind"]) if values.get("fault_kind") else None,
        install_kind=InstallKind(values["install_kind"]) if values.get("install_kind") else None,
        first_forwarded_at=first_forwarded_at,
        forwarded_at=forwarded_at,
        resolved_at=values.get("resolved_at"),
    )


class TicketOpening:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: EventBus,
        clock: Clock,
        *,
        policy: Policy = DEFAULT_POLICY,
        calendar: WorkCalendar | None = None,
        escalate_every: timedelta = timedelta(minutes=10),
        directory: CustomerDirectory | None = None,
    ) -> None:
        self.engine, self.bus, self.clock = engine, bus, clock
        self.policy = policy
        self.calendar = calendar or WorkCalendar()
        self.escalate_every = escalate_every
        self.directory = directory

    def plan(self, facts: TicketFacts) -> dict[DeadlineKind, Planned]:
        return plan(facts, policy=self.policy, calendar=self.calendar)

    async def on_call_answered(self, event: CallAnswered) -> None:
        """The bus subscriber: every answered hotline call has a ticket."""
        await self.open_for_call(event.call_id, answered_at=event.at, agent=event.agent, interface=event.interface)

    async def open_for_answered_calls(self, since: datetime) -> int:
        """At start: tickets for calls answered since `since` while no subscriber ran (a
        crash between storing the call and opening its ticket). Returns how many."""
        async with self.engine.connect() as conn:
            missing = await repo.answered_calls_without_ticket(conn, since)
        for call in missing:
            await self.open_for_call(call["id"], answered_at=repo.utc(call["answered_at"]), agent=call["agent"], interface=call["agent_interface"])
        return len(missing)

    async def open_for_call(self, call_id: str, *, answered_at: datetime, agent: str | None, interface: str | None) -> int | None:
        """The ticket the call opened or was linked to; None if it already had one."""
        async with self.engine.connect() as conn:
            call = (await conn.execute(select(calls.c.caller_number, calls.c.caller_name).where(calls.c.id == call_id))).first()
        if call is None:
            log.warning("ticket.call_unknown", call=call_id)
            return None
        number, profile = await self._caller(call.caller_number)
        extension = extension_of(interface) if interface else None

        async def work(conn: AsyncConnection) -> TicketOpened | CallLinkedToTicket | None:
            await repo.lock_call(conn, call_id)
            if await repo.ticket_of_call(conn, call_id) is not None:
                return None  # delivered twice, or opened by the start-up catch-up
            owner = await repo.user_of_agent(conn, extension, agent)
            if owner is None:
                log.warning("ticket.owner_unknown", call=call_id, agent=agent, interface=interface)
            customer_id = profile.customer_id if profile else None
            existing = await repo.open_ticket_of_caller(conn, customer_id, number)
            if existing is not None:
                return await self._link(conn, existing, call_id, answered_at, owner, agent)
            values = self._values("call", Category.INQUIRY, "", number, profile, call.caller_name, owner)
            ticket_id, ticket_number = await self._create(conn, {**values, "call_id": call_id}, owner, answered_at, {"call_id": call_id, "agent": agent})
            await repo.link_call(conn, ticket_id, call_id, answered_at)
            return TicketOpened(ticket_id, ticket_number, answered_at, owner, call_id)

        event = await self._in_transaction(work)
        if event is None:
            return None
        await self.bus.publish(event)
        return event.ticket_id

    async def open_by_hand(self, actor: User, draft: HandTicket) -> int:
        """Walk-in, letter, government referral: the person who takes it owns it."""
        if draft.source not in HAND_SOURCES:
            raise BadRequest(f"source must be one of: {', '.join(HAND_SOURCES)}", source=draft.source)
        number, profile = await self._caller(draft.caller_number)
        at = self.clock.now()
        values = self._values(draft.source, draft.category, draft.summary, number, profile, draft.caller_name, actor.id)
        given = {"tier": draft.tier, "area": draft.area, "fault_kind": draft.fault_kind, "install_kind": draft.install_kind}
        values.update({name: value.value for name, value in given.items() if value is not None})

        async def work(conn: AsyncConnection) -> TicketOpened:
            ticket_id, ticket_number = await self._create(conn, values, actor.id, at, {})
            return TicketOpened(ticket_id, ticket_number, at, actor.id, None)

        event = await self._in_transaction(work)
        await self.bus.publish(event)
        return event.ticket_id

    async def _caller(self, raw: str | None) -> tuple[str | None, CallerProfile | None]:
        """The caller's number (canonical when it is one) and directory profile."""
        if is_withheld(raw):
            return None, None
        assert raw is not None
        try:
            number = normalise(raw, default_area_code=self.directory.default_area_code if self.directory else "0827")
        except BadNumber:
            return raw.strip()[:40], None
        return number, await self.directory.lookup(number) if self.directory else None

    @staticmethod
    def _values(source: str, category: Category, summary: str, number: str | None, profile: CallerProfile | None, name: str | None, owner: int | None) -> dict[str, Any]:
        return {
            "source": source,
            "category": category.value,
            "tier": profile.tier if profile else Tier.REGULAR.value,
            "area": profile.area if profile else Area.URBAN.value,
            "customer_id": profile.customer_id if profile else None,
            "caller_number": number,
            "caller_name": (profile.name if profile else name) or None,
            "owner_user_id": owner,
            "summary": summary,
        }

    async def _create(self, conn: AsyncConnection, values: dict[str, Any], actor: int | None, at: datetime, data: dict[str, Any]) -> tuple[int, str]:
        facts = facts_of({**values, "opened_at": at})
        number = await repo.next_number(conn, at)
        row = {**values, "number": number, "status": "open", "opened_at": at, "updated_at": at, "follow_up_needed": needs_follow_up(facts, policy=self.policy)}
        ticket_id = await repo.insert_ticket(conn, row)
        book = DeadlineBook(conn, ticket_id, self.policy, self.escalate_every, rows={})
        await book.follow(self.plan(facts), at)
        await repo.record(conn, ticket_id, "opened", at, actor, None, {"source": values["source"], **data, "deadlines": book.changes})
        return ticket_id, number

    async def _link(self, conn: AsyncConnection, ticket: repo.Ticket, call_id: str, at: datetime, owner: int | None, agent: str | None) -> CallLinkedToTicket:
        await repo.link_call(conn, ticket.id, call_id, at)
        await repo.change_ticket(conn, ticket.id, {"updated_at": max(at, ticket.updated_at)})
        await repo.record(conn, ticket.id, "call_linked", at, owner, None, {"call_id": call_id, "agent": agent})
        return CallLinkedToTicket(ticket.id, ticket.number, at, call_id)

    async def _in_transaction(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`work` in one transaction, again when a concurrent open took the same ticket
        number (the unique index refused ours) or linked the same call."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with write_transaction(self.engine) as conn:
                    return await work(conn)
            except IntegrityError:
                if attempt == _ATTEMPTS:
                    raise
                log.info("ticket.open_retried", attempt=attempt)
        raise AssertionError("unreachable")

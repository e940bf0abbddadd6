"""Ticket domain events, published on the bus after the change is stored. The console
(screen pops, inboxes, supervisors' escalation feed) and the logs consume them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TicketEvent:
    ticket_id: int
    number: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TicketOpened(TicketEvent):
    owner_user_id: int | None
    call_id: str | None


@dataclass(frozen=True, slots=True)
class TicketChanged(TicketEvent):
    """Any transition or edit: kind is the ticket_events kind (forwarded, acknowledged ...)."""

    kind: str
    actor_user_id: int | None
    status: str


@dataclass(frozen=True, slots=True)
class CallLinkedToTicket(TicketEvent):
    """A caller rang again while their ticket was open: linked, not a second ticket."""

    call_id: str


@dataclass(frozen=True, slots=True)
class DeadlineWarned(TicketEvent):
    deadline: str  # forward, acknowledge, reply, repair_fix ...
    due_at: datetime
    notify_user_ids: tuple[int, ...]
    late_seconds: float  # > 0 when it fired late (the service was down)


@dataclass(frozen=True, slots=True)
class DeadlineBreached(TicketEvent):
    deadline: str
    due_at: datetime
    level: int  # 1 owner, 2 department head, 3 supervisors
    notify_user_ids: tuple[int, ...]
    late_seconds: float

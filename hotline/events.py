"""The hotline's own domain events (what happened to a call), and the in-process bus.

Other parts of the product subscribe to these; nothing outside `hotline.ami` reads raw AMI.
Bus policy (cosmicpython's messagebus): a subscriber's error is logged and the next one
still runs, so a failed screen pop never undoes a stored call.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class CallState(enum.StrEnum):
    ARRIVING = "arriving"
    QUEUED = "queued"
    RINGING = "ringing"
    TALKING = "talking"
    ENDED = "ended"


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # hung up while waiting in a queue
    TIMEOUT = "timeout"  # left the queue unanswered (queue timeout, exit key, empty queue)
    FAILED = "failed"  # ended before reaching a queue or an agent


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Base: every call event names its call (the caller's Linkedid) and when it happened."""

    call_id: str
    at: datetime

    @property
    def kind(self) -> str:
        return _KINDS[type(self)]

    def data(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("call_id", "at")
        }


@dataclass(frozen=True, slots=True)
class CallArrived(CallEvent):
    caller_number: str | None
    caller_name: str | None
    channel: str
    reconciled: bool = False  # first seen in a resync snapshot, not live


@dataclass(frozen=True, slots=True)
class CallerIdentified(CallEvent):
    caller_number: str | None
    caller_name: str | None


@dataclass(frozen=True, slots=True)
class RouteDecided(CallEvent):
    """What the routing service told the dialplan (channel variables HOTLINE_*)."""

    queue: str | None = None
    priority: int | None = None
    tier: str | None = None
    customer: str | None = None
    route_id: str | None = None
    first_try: str | None = None  # the extension rung before the queue


@dataclass(frozen=True, slots=True)
class CallQueued(CallEvent):
    queue: str
    position: int | None


@dataclass(frozen=True, slots=True)
class AgentRinging(CallEvent):
    queue: str | None
    agent: str
    interface: str | None


@dataclass(frozen=True, slots=True)
class AgentNoAnswer(CallEvent):
    queue: str | None
    agent: str
    interface: str | None
    ring_seconds: float | None


@dataclass(frozen=True, slots=True)
class CallAnswered(CallEvent):
    queue: str | None
    agent: str
    interface: str | None
    hold_seconds: float | None
    reconciled: bool = False


@dataclass(frozen=True, slots=True)
class CallTransferred(CallEvent):
    kind_of_transfer: str  # "blind" | "attended"
    from_agent: str | None
    to: str | None  # extension@context (blind) or the new party's channel (attended)
    to_agent: str | None = None  # the new party's device (attended)


@dataclass(frozen=True, slots=True)
class CallAbandoned(CallEvent):
    queue: str
    position: int | None
    hold_seconds: float | None


@dataclass(frozen=True, slots=True)
class CallLeftQueue(CallEvent):
    """Left the queue without an agent and without hanging up (timeout, exit key)."""

    queue: str
    position: int | None
    exit_context: str | None
    exit_exten: str | None


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    outcome: Outcome
    cause: str | None
    reconciled: bool = False  # ended while we were not connected; found by resync


_KINDS: dict[type, str] = {
    CallArrived: "arrived",
    CallerIdentified: "caller_identified",
    RouteDecided: "route_decided",
    CallQueued: "queued",
    AgentRinging: "agent_ringing",
    AgentNoAnswer: "agent_no_answer",
    CallAnswered: "answered",
    CallTransferred: "transferred",
    CallAbandoned: "abandoned",
    CallLeftQueue: "left_queue",
    CallEnded: "ended",
}


Handler = Callable[[Any], Awaitable[None]]


@dataclass
class EventBus:
    """Publishes stored domain events (calls, tickets, ...) to subscribers, in order,
    isolating their failures."""

    handlers: dict[type, list[Handler]] = field(default_factory=dict)

    def subscribe(self, event_type: type, handler: Handler) -> None:
        self.handlers.setdefault(event_type, []).append(handler)

    async def publish(self, event: object) -> None:
        for event_type in type(event).__mro__:
            for handler in self.handlers.get(event_type, ()):
                try:
                    await handler(event)
                except Exception:
                    log.exception("bus.subscriber_failed", handler=getattr(handler, "__qualname__", repr(handler)), kind=type(event).__name__)

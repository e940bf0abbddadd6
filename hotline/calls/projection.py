"""Call events -> the call's row. Pure: folds each event into the record it changes."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from hotline.events import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallerIdentified,
    CallEvent,
    CallLeftQueue,
    CallQueued,
    CallState,
    CallTransferred,
    RouteDecided,
)


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: str
    linkedid: str
    arrived_at: datetime
    state: str = CallState.ARRIVING.value
    caller_number: str | None = None
    caller_name: str | None = None
    outcome: str | None = None
    queue: str | None = None
    agent: str | None = None
    agent_interface: str | None = None
    route_queue: str | None = None
    route_priority: int | None = None
    tier: str | None = None
    customer: str | None = None
    route_id: str | None = None
    route_first_try: str | None = None
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    abandoned_at: datetime | None = None
    left_queue_at: datetime | None = None
    ended_at: datetime | None = None
    hold_seconds: float | None = None
    reconciled: bool = False

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(CallRecord))


def apply(record: CallRecord | None, event: CallEvent) -> CallRecord:
    """The record after `event`. A CallArrived starts one; anything else needs one."""
    if isinstance(event, CallArrived):
        if record is not None:
            return record
        return CallRecord(event.call_id, event.call_id, event.at, caller_number=event.caller_number, caller_name=event.caller_name, reconciled=event.reconciled)
    if record is None:
        raise LookupError(f"no call {event.call_id} for {event.kind}")
    if record.state == CallState.ENDED.value:
        return record  # an ended call never changes again
    return _FOLDS[type(event)](record, event)


def _identified(r: CallRecord, e: CallerIdentified) -> CallRecord:
    return replace(r, caller_number=e.caller_number, caller_name=e.caller_name)


def _route(r: CallRecord, e: RouteDecided) -> CallRecord:
    return replace(r, route_queue=e.queue, route_priority=e.priority, tier=e.tier, customer=e.customer, route_id=e.route_id, route_first_try=e.first_try)


def _queued(r: CallRecord, e: CallQueued) -> CallRecord:
    state = r.state if r.answered_at else CallState.QUEUED.value
    return replace(r, queue=e.queue, queued_at=r.queued_at or e.at, state=state)


def _ringing(r: CallRecord, e: AgentRinging) -> CallRecord:
    return r if r.answered_at else replace(r, state=CallState.RINGING.value)


def _no_answer(r: CallRecord, e: AgentNoAnswer) -> CallRecord:
    return r if r.answered_at else replace(r, state=CallState.QUEUED.value)


def _answered(r: CallRecord, e: CallAnswered) -> CallRecord:
    hold = e.hold_seconds
    if hold is None and r.queued_at is not None:
        hold = max(0.0, (e.at - r.queued_at).total_seconds())
    return replace(r, state=CallState.TALKING.value, answered_at=r.answered_at or e.at, agent=e.agent or r.agent, agent_interface=e.interface or r.agent_interface, queue=e.queue or r.queue, hold_seconds=hold, reconciled=r.reconciled or e.reconciled)


def _transferred(r: CallRecord, e: CallTransferred) -> CallRecord:
    return r  # the call keeps its first responder; the timeline shows where it went


def _abandoned(r: CallRecord, e: CallAbandoned) -> CallRecord:
    return replace(r, abandoned_at=e.at, hold_seconds=e.hold_seconds if e.hold_seconds is not None else r.hold_seconds)


def _left(r: CallRecord, e: CallLeftQueue) -> CallRecord:
    return replace(r, left_queue_at=e.at, state=CallState.ARRIVING.value)


def _ended(r: CallRecord, e: CallEnded) -> CallRecord:
    return replace(r, state=CallState.ENDED.value, outcome=e.outcome.value, ended_at=e.at, reconciled=r.reconciled or e.reconciled)


_FOLDS: dict[type, Any] = {
    CallerIdentified: _identified,
    RouteDecided: _route,
    CallQueued: _queued,
    AgentRinging: _ringing,
    AgentNoAnswer: _no_answer,
    CallAnswered: _answered,
    CallTransferred: _transferred,
    CallAbandoned: _abandoned,
    CallLeftQueue: _left,
    CallEnded: _ended,
}

"""Caller + directory profile + rules -> route: the pure core of the routing answer.

No I/O and no clock reads: the time and the agents' availability are passed in."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from hotline.routing.profile import CallerProfile
from hotline.routing.rules import REGULAR, RoutingRules


@dataclass(frozen=True)
class Caller:
    number: str | None  # canonical, or None when withheld or unknown
    name: str | None = None
    channel: str | None = None
    uniqueid: str | None = None


@dataclass(frozen=True)
class Route:
    queue: str
    priority: int
    tier: str
    customer: str | None  # the customer id, as the dialplan and the AMI side see it
    first_try: str | None  # an extension to ring before the queue
    call_ref: str  # HOTLINE_CALL: ties this decision to the call the AMI side records
    reason: str
    fallback: bool  # True when the service could not decide (error, timeout, bad input)


def new_call_ref() -> str:
    # 64 random bits is plenty to tell one day's calls apart, and short in a log line.
    return uuid.uuid4().hex[:16]


def default_route(
    rules: RoutingRules, *, reason: str, fallback: bool = False, call_ref: str | None = None
) -> Route:
    """Where a caller goes when nothing is known about them, or nothing could be decided."""
    default = rules.default
    return Route(
        queue=default.queue,
        priority=default.priority,
        tier=REGULAR,
        customer=None,
        first_try=None,
        call_ref=call_ref or new_call_ref(),
        reason=reason,
        fallback=fallback,
    )


def decide(
    caller: Caller,
    profile: CallerProfile | None,
    rules: RoutingRules,
    *,
    now: datetime,
    agent_available: Callable[[str], bool],
    call_ref: str | None = None,
) -> Route:
    """The route for `caller`, whose directory entry is `profile` (None: not a customer)."""
    if caller.number is None:
        return default_route(rules, reason="number withheld or unknown", call_ref=call_ref)
    if profile is None:
        return default_route(rules, reason="not in the directory", call_ref=call_ref)
    tier = profile.tier if profile.tier in rules.tiers else REGULAR
    reasons = [f"tier {tier}" if tier == profile.tier else f"unknown tier {profile.tier!r}"]
    target = rules.tiers[tier]
    queue, first_try = target.queue, None
    # Nobody is tried first outside working hours: a phone can look available at night
    # (registered, idle) while its owner is off duty.
    if in_working_hours(rules, now):
        first_try = _first_try(profile, rules, agent_available, reasons)
    elif tier in rules.after_hours_tiers:
        queue = rules.after_hours_queue
        reasons.append("after hours")
    return Route(
        queue=queue,
        priority=target.priority,
        tier=tier,
        customer=str(profile.customer_id),
        first_try=first_try,
        call_ref=call_ref or new_call_ref(),
        reason=", ".join(reasons),
        fallback=False,
    )


def in_working_hours(rules: RoutingRules, now: datetime) -> bool:
    # A naive time is taken as already local; an aware one is read on the hotline's zone.
    local = now.astimezone(rules.timezone) if now.tzinfo is not None else now
    if not rules.working_day(local.date()):
        return False
    return rules.work_start <= local.time() < rules.work_end


def _first_try(
    profile: CallerProfile,
    rules: RoutingRules,
    agent_available: Callable[[str], bool],
    reasons: list[str],
) -> str | None:
    """The first person in the rules' order who is set for this caller and available now."""
    candidates = {
        "ticket_owner": profile.open_ticket_owner_extension,
        "account_manager": profile.account_manager_extension,
    }
    for source in rules.first_try:
        extension = candidates.get(source)
        if not extension:
            continue
        if agent_available(extension):
            reasons.append(f"first try {source.replace('_', ' ')}")
            return extension
        reasons.append(f"{source.replace('_', ' ')} not available")
    return None

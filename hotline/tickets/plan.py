"""Which deadlines a ticket has, from what is known about it so far (pure): its category,
fault and install kind, tier, area, source and the moments it was taken, forwarded, resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hotline.tickets import standard
from hotline.tickets.standard import Area, Category, FaultKind, InstallKind, Policy, Tier
from hotline.tickets.workdays import WorkCalendar


class DeadlineKind(StrEnum):
    FORWARD = "forward"
    ACKNOWLEDGE = "acknowledge"
    REPLY = "reply"
    REPAIR_RESPOND = "repair_respond"
    REPAIR_FIX = "repair_fix"
    RESTORATION = "restoration"
    INSTALLATION = "installation"
    FOLLOW_UP = "follow_up"


K = DeadlineKind

# 二.2: inquiries, fault reports and complaints not solved on the spot are forwarded within
# 10 min; "other" is held to the same so nothing unclassified escapes a clock.
FORWARD_WITHIN_MINUTES = frozenset({Category.INQUIRY, Category.FAULT_REPORT, Category.COMPLAINT, Category.OTHER})
# 二.9 答复用户咨询、投诉时限为半小时: inquiries and complaints (and "other", as above). A fault
# report's answer is its repair, which has its own limits.
REPLY_WITHIN = frozenset({Category.INQUIRY, Category.COMPLAINT, Category.OTHER})
# Sources whose follow-up is every one, by reply letter (回函), whatever the category.
FOLLOWED_UP_SOURCES = frozenset({"letter", "government_referral"})


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What a ticket's deadlines depend on; moments are aware datetimes."""

    category: Category
    tier: Tier
    area: Area
    taken_at: datetime  # the call taken (or the walk-in, letter ... accepted)
    source: str = "call"
    fault_kind: FaultKind | None = None
    install_kind: InstallKind | None = None
    first_forwarded_at: datetime | None = None  # the install order's dispatch
    forwarded_at: datetime | None = None  # the latest forward: the acknowledge clock
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Planned:
    kind: DeadlineKind
    rule: str  # the line of the standard, e.g. "urban.general"
    started_at: datetime
    due_at: datetime
    warn_at: datetime


def needs_follow_up(facts: TicketFacts, *, policy: Policy = standard.DEFAULT_POLICY) -> bool:
    """Every one is called back (or written to) within the follow-up limit."""
    install = facts.install_kind if facts.category is Category.BUSINESS else None
    return facts.source in FOLLOWED_UP_SOURCES or standard.needs_follow_up(facts.category, install_kind=install, policy=policy)


def plan(facts: TicketFacts, *, policy: Policy = standard.DEFAULT_POLICY, calendar: WorkCalendar) -> dict[DeadlineKind, Planned]:
    """Every deadline the ticket has by now. The work's deadlines (forward, reply, repair,
    restoration, installation) stop being planned once it is resolved: resolving settles them."""
    found: list[tuple[DeadlineKind, str, datetime, datetime]] = []
    if facts.resolved_at is None:
        found += _work(facts, policy, calendar)
        if facts.forwarded_at is not None:
            found.append((K.ACKNOWLEDGE, "acknowledge", facts.forwarded_at, standard.acknowledge_due(facts.forwarded_at, policy=policy)))
    elif needs_follow_up(facts, policy=policy):
        rule = f"follow_up.{facts.source}" if facts.source in FOLLOWED_UP_SOURCES else f"follow_up.{facts.category}"
        found.append((K.FOLLOW_UP, rule, facts.resolved_at, standard.follow_up_due(facts.resolved_at, policy=policy)))
    return {kind: Planned(kind, rule, start, due, standard.warn_at(start, due, policy=policy)) for kind, rule, start, due in found}


def _work(facts: TicketFacts, policy: Policy, calendar: WorkCalendar) -> list[tuple[DeadlineKind, str, datetime, datetime]]:
    taken, category = facts.taken_at, facts.category
    found = []
    if category in FORWARD_WITHIN_MINUTES:
        found.append((K.FORWARD, "forward", taken, standard.forward_due(taken, policy=policy)))
    if category in REPLY_WITHIN:
        found.append((K.REPLY, "reply", taken, standard.reply_due(taken, policy=policy)))
    if category is Category.FAULT_REPORT:
        found += _repair(facts, policy)
    if category is Category.RESTORATION:
        start = standard.restoration_start(taken, area=facts.area, calendar=calendar, policy=policy)
        due = standard.restoration_due(taken, area=facts.area, calendar=calendar, policy=policy)
        rule = f"restoration.{facts.area}" + (".next_working_day" if start != taken else "")
        found.append((K.RESTORATION, rule, start, due))
    if category is Category.BUSINESS and facts.install_kind is not None:
        found += _installation(facts, facts.install_kind, calendar, policy)
    return found


def _repair(facts: TicketFacts, policy: Policy) -> list[tuple[DeadlineKind, str, datetime, datetime]]:
    # Counted from the fault report itself (含领导电话交办的: from the call that gave it).
    kind = facts.fault_kind or FaultKind.GENERAL
    repair = standard.repair_deadlines(facts.taken_at, tier=facts.tier, area=facts.area, fault_kind=kind, policy=policy)
    found = [(K.REPAIR_FIX, repair.rule, facts.taken_at, repair.fix_by)]
    if repair.respond_by is not None:
        found.insert(0, (K.REPAIR_RESPOND, repair.respond_rule or repair.rule, facts.taken_at, repair.respond_by))
    return found


def _installation(facts: TicketFacts, kind: InstallKind, calendar: WorkCalendar, policy: Policy) -> list[tuple[DeadlineKind, str, datetime, datetime]]:
    # The hall dispatches install orders by close of business; that dispatch is the forward,
    # and the installer's days run from it.
    dispatch_due = standard.hall_dispatch_due(facts.taken_at, calendar=calendar)
    found = [(K.FORWARD, "hall_dispatch", facts.taken_at, dispatch_due)]
    if facts.first_forwarded_at is not None:
        due = standard.installation_due(facts.first_forwarded_at, kind=kind, policy=policy)
        found.append((K.INSTALLATION, f"installation.{kind}", facts.first_forwarded_at, due))
    return found

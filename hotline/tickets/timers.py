"""What a deadline's timer does next (pure): when it fires, and which steps a claimed row
fires now (warning, breach, escalations) and to whom. The scheduler stores and publishes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

# Deadlines the forwarded-to department answers for, not the ticket's owner: the
# 5-minute acknowledgement is the department's to meet, so its members are warned.
DEPARTMENT_DEADLINES = frozenset({"acknowledge"})

TOP_LEVEL = 3  # 1 owner, 2 department head, 3 supervisors

WARNED, BREACHED, ESCALATED = "deadline_warned", "deadline_breached", "deadline_escalated"


def next_fire_at(
    *,
    state: str,
    warn_at: datetime,
    due_at: datetime,
    warned_at: datetime | None,
    breached_at: datetime | None,
    escalation_level: int,
    escalate_every: timedelta,
) -> datetime | None:
    """The next moment the scheduler must act on a deadline; None when nothing is left."""
    if state in ("met", "cancelled"):
        return None
    if warned_at is None and breached_at is None:
        return warn_at if warn_at < due_at else due_at
    if breached_at is None:
        return due_at
    if escalation_level >= TOP_LEVEL:
        return None
    return due_at + escalate_every * escalation_level


@dataclass(frozen=True, slots=True)
class TimerState:
    """The columns of a deadline row that decide its timer."""

    state: str  # pending, met, breached, cancelled
    warn_at: datetime
    due_at: datetime
    warned_at: datetime | None
    breached_at: datetime | None
    escalation_level: int

    def next_fire_at(self, escalate_every: timedelta) -> datetime | None:
        return next_fire_at(
            state=self.state,
            warn_at=self.warn_at,
            due_at=self.due_at,
            warned_at=self.warned_at,
            breached_at=self.breached_at,
            escalation_level=self.escalation_level,
            escalate_every=escalate_every,
        )


@dataclass(frozen=True, slots=True)
class Fire:
    """One step that fires: a warning (level 0), the breach (1) or an escalation (2, 3)."""

    kind: str  # WARNED, BREACHED or ESCALATED: the ticket_events kind
    level: int
    scheduled_for: datetime
    late_seconds: float  # how late the firing itself is: > 0 after down-time


@dataclass(frozen=True, slots=True)
class Firing:
    """What to do with a claimed row: fire these steps, in order, then store `after`."""

    fires: tuple[Fire, ...]
    after: TimerState
    next_fire_at: datetime | None


def step(row: TimerState, now: datetime, *, escalate_every: timedelta) -> Firing:
    """Fire every step due by `now`, each once and in order; a warning whose deadline has
    already passed is not sent (the breach says more), the breach and escalations are."""
    fires: list[Fire] = []
    while (moment := row.next_fire_at(escalate_every)) is not None and moment <= now:
        fire, row = _advance(row, moment, now)
        if fire is not None:
            fires.append(fire)
    return Firing(tuple(fires), row, moment)


def _advance(row: TimerState, moment: datetime, now: datetime) -> tuple[Fire | None, TimerState]:
    # Each branch sets warned_at, breached_at or a higher level, so step's loop ends.
    if row.breached_at is None and now < row.due_at:
        return _fire(WARNED, 0, moment, now), replace(row, warned_at=now)
    if row.breached_at is None:
        # breached_at is when it became overdue; how late we noticed is the firing's.
        breached = replace(row, state="breached", breached_at=row.due_at, escalation_level=1)
        return _fire(BREACHED, 1, row.due_at, now), breached
    level = row.escalation_level + 1
    return _fire(ESCALATED, level, moment, now), replace(row, escalation_level=level)


def _fire(kind: str, level: int, scheduled_for: datetime, now: datetime) -> Fire:
    return Fire(kind, level, scheduled_for, max(0.0, (now - scheduled_for).total_seconds()))


@dataclass(frozen=True, slots=True)
class People:
    """Who can be told about one ticket's deadline."""

    owner: int | None
    department_members: tuple[int, ...]
    head: int | None
    supervisors: tuple[int, ...]


def recipients(deadline_kind: str, level: int, people: People) -> tuple[int, ...]:
    """Level 0-1: the responsible person(s); 2: the department head; 3: every supervisor.
    Nobody to name falls to the supervisors: a firing must never reach no one."""
    if level <= 1:
        chosen = people.department_members if deadline_kind in DEPARTMENT_DEADLINES else _one(people.owner)
    elif level == 2:
        chosen = _one(people.head)
    else:
        chosen = people.supervisors
    return chosen or people.supervisors


def _one(user_id: int | None) -> tuple[int, ...]:
    return (user_id,) if user_id is not None else ()

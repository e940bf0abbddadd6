"""Keep-your-place, the pure part: a queue's line of live and virtual (kept-place) callers,
which kept places are due to be called back now, a rough wait to tell the caller, and the
carrying of a request the calling window closes on to its next opening.

Values in, values out: the scheduler (scheduler.py) feeds it the stored requests, the
live calls and the floor's agents, and writes what it decides."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hotline.callbacks.owed import dialled
from hotline.callbacks.policy import CallingWindow, next_open
from hotline.calls.projection import CallRecord
from hotline.events import CallState
from hotline.routing.numbers import BadNumber, is_withheld

# With no recent answered call to learn from, a call is taken to last this long.
DEFAULT_HANDLE = timedelta(minutes=3)


@dataclass(frozen=True, slots=True)
class KeepPlaceRules:
    """The settings both the desk and the scheduler follow ([callbacks] and [routing])."""

    window: CallingWindow
    tz: ZoneInfo
    is_working_day: Callable[[date], bool]
    max_attempts: int
    default_area_code: str
    default_agent_extension: str | None = None  # rung for an agent-first callback with none of its own


@dataclass(frozen=True, slots=True)
class LiveCaller:
    """A caller waiting in a queue now (queued, or being offered to an agent)."""

    call_id: str
    number: str | None  # as dialled (digits), when the caller's number is one
    priority: int
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class KeptPlace:
    """A waiting request as the line sees it."""

    request_id: int
    number: str  # as dialled
    priority: int
    joined_at: datetime
    carried: bool = False  # the window closed on it: it goes before the next day's callers
    not_before: datetime | None = None  # carried, or a retry's wait: not in the line before


@dataclass(frozen=True, slots=True)
class Place:
    """One caller in a queue's line: live or virtual."""

    key: str  # the call id (live) or "KP-<id>" (virtual)
    priority: int
    joined_at: datetime
    virtual: bool
    carried: bool = False
    request_id: int | None = None


def place_order(place: Place) -> tuple[bool, int, datetime, str]:
    """Carried requests first, then Asterisk's own order: higher priority first, then the
    earlier join (a kept place keeps the join time of the call that pressed 1)."""
    return (not place.carried, -place.priority, place.joined_at.astimezone(UTC), place.key)


def as_utc(moment: datetime | None) -> datetime | None:
    """Stored in UTC; SQLite gives it back without its zone."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def request_key(request_id: int) -> str:
    return f"KP-{request_id}"


def line(live: Iterable[LiveCaller], kept: Iterable[KeptPlace], now: datetime) -> list[Place]:
    """The queue's line, best place first. A kept place is left out while it waits for its
    time (`not_before`) and while its number is itself waiting live (that call will be
    served, which ends the request; calling the number back meanwhile finds it busy)."""
    live = list(live)
    waiting_numbers = {caller.number for caller in live if caller.number}
    places = [Place(caller.call_id, caller.priority, caller.joined_at, virtual=False) for caller in live]
    for request in kept:
        if request.number in waiting_numbers or (request.not_before is not None and request.not_before > now):
            continue
        places.append(Place(request_key(request.request_id), request.priority, request.joined_at, True, request.carried, request.request_id))
    return sorted(places, key=place_order)


def due(queue_line: Sequence[Place], free_agents: Sequence[str]) -> list[tuple[Place, str]]:
    """The kept places to call back now, each with the free agent to ring first.

    Only the virtual callers at the head of the line, one per free agent: the first live
    caller stops it (Asterisk gives the next free agent to that caller, and a callback
    must never go before a caller still waiting live with an earlier place), and so does
    running out of free agents (never more callbacks in flight than agents free for them).
    `free_agents` are in the order they should be used (the longest free first)."""
    chosen: list[tuple[Place, str]] = []
    for place, agent in zip(queue_line, free_agents):
        if not place.virtual:
            break
        chosen.append((place, agent))
    return chosen


def ahead_of(queue_line: Sequence[Place], place: Place) -> int:
    """How many callers (live or virtual) are before `place` in the line."""
    return sum(1 for other in queue_line if place_order(other) < place_order(place))


def handle_time(durations: Sequence[timedelta], default: timedelta = DEFAULT_HANDLE) -> timedelta:
    """A call's typical length from recent answered calls (the median: one long complaint
    call should not double everyone's estimate)."""
    ordered = sorted(d for d in durations if d > timedelta(0))
    if not ordered:
        return default
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def rough_wait(ahead: int, handle: timedelta, agents: int, free: int = 0) -> timedelta:
    """The wait of a caller with `ahead` callers before them: the `free` agents take the
    first callers now; then the agents serving the queue take one call each per `handle`
    (Asterisk's own position x average hold estimate)."""
    left = max(ahead, 0) - max(free, 0)
    if left < 0:
        return timedelta(0)
    return handle * (left + 1) / max(agents, 1)


def minutes(span: timedelta) -> int:
    """A wait told to a caller: whole minutes, at least one."""
    return max(1, math.ceil(span.total_seconds() / 60))


@dataclass(frozen=True, slots=True)
class Promise:
    """What the caller is told when they press 1."""

    expected_at: datetime  # roughly when they are called
    next_day: bool  # the window closes first: carried to its next opening
    carried_to: datetime | None  # that opening, when carried


def _closes(moment: datetime, window: CallingWindow, tz: ZoneInfo) -> datetime:
    local = moment.astimezone(tz)
    return datetime.combine(local.date(), window.end, tzinfo=tz)


def promise(now: datetime, wait: timedelta, rules: KeepPlaceRules) -> Promise:
    """When a caller pressing 1 now, with `wait` ahead of them, will be called: in today's
    window if it leaves room, else at the window's next opening on a later day, where they
    go before that day's callers."""
    starts = next_open(now, rules.window, rules.is_working_day, rules.tz)
    expected = starts + wait
    if starts.astimezone(rules.tz).date() == now.astimezone(rules.tz).date() and expected < _closes(starts, rules.window, rules.tz):
        return Promise(expected, next_day=False, carried_to=None)
    if starts.astimezone(rules.tz).date() != now.astimezone(rules.tz).date():
        return Promise(starts, next_day=True, carried_to=starts)  # the window is shut for today already
    opening = next_open(_closes(starts, rules.window, rules.tz), rules.window, rules.is_working_day, rules.tz)
    return Promise(opening, next_day=True, carried_to=opening)


def carried_to(requested_at: datetime, now: datetime, rules: KeepPlaceRules) -> datetime | None:
    """The opening a waiting request is carried to when it is still waiting on a later day
    than the one it was made on: the window's next opening (`now` while it is open, e.g.
    after the service was down over the night); None while it can still be served on the
    day it was made (including a request made early, before the window opened)."""
    opens = next_open(now, rules.window, rules.is_working_day, rules.tz)
    if opens.astimezone(rules.tz).date() == requested_at.astimezone(rules.tz).date():
        return None
    return opens


def number_of(raw: str | None, default_area_code: str) -> str | None:
    """A caller ID as dialled ("+8613912345678" -> "13912345678"); None when withheld or
    not a number to call back."""
    if is_withheld(raw):
        return None
    assert raw is not None
    try:
        return dialled(raw, default_area_code)
    except BadNumber:
        return None


_WAITING_LIVE = frozenset({CallState.QUEUED.value, CallState.RINGING.value})


def live_callers(records: Iterable[CallRecord], queue: str, default_area_code: str) -> list[LiveCaller]:
    """The calls waiting in `queue` now (queued, or ringing an agent but not yet answered),
    from the call store's live records."""
    return [
        LiveCaller(record.id, number_of(record.caller_number, default_area_code), record.route_priority or 0, record.queued_at)
        for record in records
        if record.queue == queue and record.state in _WAITING_LIVE and record.answered_at is None and record.queued_at is not None
    ]

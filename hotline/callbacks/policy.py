"""When a callback may be placed and in which order (pure): calling windows on the Bazhong
wall clock, retries after busy or no answer, and the priority of due callbacks.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from hotline.callbacks.model import CallbackKind, Outcome
from hotline.tickets.standard import Tier

# A calendar with no open day in this many days is a configuration error, not a wait.
_SEARCH_DAYS = 400


@dataclass(frozen=True)
class CallingWindow:
    """Calls start at or after `start` and before `end`, local time, on the days it allows.

    A window never spans midnight: the point of it is that nobody is called at night.
    """

    start: time
    end: time
    working_days_only: bool

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(
                f"a calling window opens at {self.start:%H:%M}, which is not before "
                f"it closes at {self.end:%H:%M}; windows never span the night"
            )


# 09:00-20:00 every day: the hotline answers at weekends, and a follow-up due within 24 h
# of a Friday-evening repair must not wait for Monday. Configuration may narrow it.
DEFAULT_WINDOW = CallingWindow(time(9), time(20), working_days_only=False)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; the hotline only uses aware datetimes")
    return moment


def _open_day(day: date, window: CallingWindow, is_working_day: Callable[[date], bool]) -> bool:
    return not window.working_days_only or is_working_day(day)


def is_open(
    at: datetime, window: CallingWindow, is_working_day: Callable[[date], bool], tz: ZoneInfo
) -> bool:
    local = _aware(at).astimezone(tz)
    return _open_day(local.date(), window, is_working_day) and (
        window.start <= local.time() < window.end
    )


def next_open(
    at: datetime, window: CallingWindow, is_working_day: Callable[[date], bool], tz: ZoneInfo
) -> datetime:
    """`at` itself when the window is open then; else the window's next opening, in `tz`.

    `is_working_day` has WorkCalendar.is_working_day's shape (China's calendar with the
    administrator's overrides); it is asked only when the window keeps to working days.
    """
    local = _aware(at).astimezone(tz)
    day = local.date()
    for _ in range(_SEARCH_DAYS):
        if _open_day(day, window, is_working_day):
            opens = datetime.combine(day, window.start, tzinfo=tz)
            if local < opens:
                return opens
            if local < datetime.combine(day, window.end, tzinfo=tz):
                return at
        day += timedelta(days=1)
    raise ValueError(f"the calling window has no open day in the {_SEARCH_DAYS} days after {at}")


@dataclass(frozen=True)
class RetryPolicy:
    """At most `max_attempts` calls in all; after an outcome in `spacing`, wait that long.
    An outcome missing from `spacing` is final: the callback fails at once."""

    max_attempts: int
    spacing: Mapping[Outcome, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if Outcome.ANSWERED in self.spacing:
            raise ValueError("an answered callback is done; it has no retry spacing")
        for outcome, wait in self.spacing.items():
            if wait <= timedelta(0):
                raise ValueError(f"the spacing after {outcome} must be positive, not {wait}")
        # A private read-only copy: a caller's dict changing later must not move retries.
        object.__setattr__(self, "spacing", MappingProxyType(dict(self.spacing)))


# Busy: the customer is on the phone, try again soon. No answer or a declined call: give
# them time. Congestion and a failed channel are usually ours or the network's, and pass.
DEFAULT_RETRY = RetryPolicy(
    max_attempts=3,
    spacing={
        Outcome.BUSY: timedelta(minutes=10),
        Outcome.NO_ANSWER: timedelta(minutes=30),
        Outcome.REJECTED: timedelta(minutes=60),
        Outcome.CONGESTION: timedelta(minutes=5),
        Outcome.FAILED: timedelta(minutes=15),
    },
)


def next_attempt(
    policy: RetryPolicy, attempts_made: int, outcome: Outcome, at: datetime
) -> datetime | None:
    """When to try again after the `attempts_made`-th attempt ended with `outcome` at `at`;
    None when there is nothing more to do (answered) or no more to try (the callback fails)."""
    wait = policy.spacing.get(outcome)
    if outcome is Outcome.ANSWERED or wait is None or attempts_made >= policy.max_attempts:
        return None
    # Elapsed time, not wall-clock arithmetic: right in any zone.
    return (_aware(at).astimezone(UTC) + wait).astimezone(at.tzinfo)


def retry_at(
    policy: RetryPolicy,
    attempts_made: int,
    outcome: Outcome,
    at: datetime,
    *,
    window: CallingWindow,
    is_working_day: Callable[[date], bool],
    tz: ZoneInfo,
) -> datetime | None:
    """next_attempt, moved into the calling window: a retry never rings at night."""
    after = next_attempt(policy, attempts_made, outcome, at)
    return None if after is None else next_open(after, window, is_working_day, tz)


# Priority is band, then tier, then kind within the band (bigger first):
# - band 3, a customer waiting on us: a time the customer asked for (manual), a lost call;
#   band 2, the standard's 24 h follow-ups; band 1, routine monthly calls and samples.
# - VIPs, key accounts and private networks get "priority in every business", so they go
#   first within a band, but a routine VIP call never overtakes a lost caller.
_BAND: Mapping[CallbackKind, int] = MappingProxyType(
    {
        CallbackKind.KEEP_PLACE: 3,
        CallbackKind.MANUAL: 3,
        CallbackKind.ABANDONED: 3,
        CallbackKind.AFTER_HOURS: 3,
        CallbackKind.FOLLOW_UP: 2,
        CallbackKind.VIP_MONTHLY: 1,
        CallbackKind.SAMPLED: 1,
        CallbackKind.VISIT: 0,
        CallbackKind.REPLY_LETTER: 0,
    }
)
_WITHIN_BAND: Mapping[CallbackKind, int] = MappingProxyType(
    {
        # Its turn came and an agent is set aside for it, doing nothing until it is placed.
        CallbackKind.KEEP_PLACE: 3,
        CallbackKind.MANUAL: 2,  # a promise of a time: kept before other waiting callers
        CallbackKind.ABANDONED: 1,
        CallbackKind.AFTER_HOURS: 1,
        CallbackKind.VIP_MONTHLY: 1,
    }
)
_TIER: Mapping[str, int] = MappingProxyType(
    {Tier.VIP: 1, Tier.KEY_ACCOUNT: 1, Tier.PRIVATE_NETWORK: 1, Tier.REGULAR: 0}
)


def priority(kind: CallbackKind, tier: str) -> int:
    """Bigger is placed first. `tier` is a Tier value ("vip", "regular" ...)."""
    if tier not in _TIER:
        raise ValueError(f"unknown customer tier {tier!r}; expected one of {', '.join(_TIER)}")
    return _BAND[kind] * 100 + _TIER[tier] * 10 + _WITHIN_BAND.get(kind, 0)


def order_key(
    kind: CallbackKind, tier: str, due_at: datetime, callback_id: int
) -> tuple[int, datetime, int]:
    """Sort due callbacks by this: highest priority, then the longest due, then the oldest id.
    `due_at` is when the callback became due to be placed (its scheduled moment)."""
    return (-priority(kind, tier), _aware(due_at).astimezone(UTC), callback_id)

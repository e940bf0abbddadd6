"""The routing rules as data: which queue and priority each tier gets, who is tried first,
and when the working hours are. Built from `settings.routing`; read by `decide`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time
from types import MappingProxyType
from zoneinfo import ZoneInfo

from hotline.config import WEEKDAYS, RoutingSettings

REGULAR = "regular"


@dataclass(frozen=True)
class TierRoute:
    queue: str
    priority: int


def _weekdays(days: tuple[str, ...]) -> Callable[[date], bool]:
    numbers = frozenset(WEEKDAYS.index(day) for day in days)
    return lambda day: day.weekday() in numbers


@dataclass(frozen=True)
class RoutingRules:
    """No defaults here: they live once, in RoutingSettings (see DEFAULT_RULES)."""

    tiers: Mapping[str, TierRoute]
    default_queue: str
    first_try: tuple[str, ...]
    timezone: ZoneInfo
    work_start: time
    work_end: time
    # A callable, so China's official calendar (holidays, swapped working weekends) can
    # replace the plain weekday list without the decision knowing where days come from.
    working_day: Callable[[date], bool]
    after_hours_queue: str
    after_hours_tiers: frozenset[str]

    @property
    def default(self) -> TierRoute:
        return TierRoute(self.default_queue, self.tiers[REGULAR].priority)


def rules_from_settings(
    routing: RoutingSettings, *, working_day: Callable[[date], bool] | None = None
) -> RoutingRules:
    """The rules in `routing`; `working_day` replaces its plain list of weekdays."""
    tiers = {
        "vip": TierRoute(routing.vip_queue, routing.vip_priority),
        "key_account": TierRoute(routing.key_account_queue, routing.key_account_priority),
        "private_network": TierRoute(
            routing.private_network_queue, routing.private_network_priority
        ),
        REGULAR: TierRoute(routing.regular_queue, routing.regular_priority),
    }
    return RoutingRules(
        tiers=MappingProxyType(tiers),
        default_queue=routing.default_queue,
        first_try=routing.first_try,
        timezone=ZoneInfo(routing.timezone),
        work_start=time.fromisoformat(routing.work_start),
        work_end=time.fromisoformat(routing.work_end),
        working_day=working_day or _weekdays(routing.work_days),
        after_hours_queue=routing.after_hours_queue,
        after_hours_tiers=frozenset(routing.after_hours_tiers),
    )


DEFAULT_RULES = rules_from_settings(RoutingSettings())

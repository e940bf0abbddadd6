"""The service standard's time limits as data (a Policy with the digest's defaults), and the
pure functions that turn a ticket's moments into deadlines. Results are Bazhong-local.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from hotline.tickets.workdays import LOCAL_ZONE, WorkCalendar, to_local


class Tier(StrEnum):
    VIP = "vip"
    KEY_ACCOUNT = "key_account"
    PRIVATE_NETWORK = "private_network"
    REGULAR = "regular"


class Area(StrEnum):
    URBAN = "urban"  # 城网
    SUBURBAN = "suburban"  # 城郊
    RURAL = "rural"  # 农网


class FaultKind(StrEnum):
    GENERAL = "general"  # 一般故障; duct and major are the "non-general" (非一般) faults
    DUCT = "duct"  # 管道故障
    MAJOR = "major"  # 重大故障


class Category(StrEnum):
    INQUIRY = "inquiry"
    FAULT_REPORT = "fault_report"
    COMPLAINT = "complaint"
    BUSINESS = "business"
    RESTORATION = "restoration"
    OTHER = "other"


class InstallKind(StrEnum):
    INDIVIDUAL = "individual"  # 个人用户, broadband included
    RURAL = "rural"  # 农村用户
    BUILDING_TRUNK = "building_trunk"  # 楼栋主线, when conditions are ready


class RepairGroup(StrEnum):
    """The rows of the standard's repair table, in precedence order."""

    PRIVATE_NETWORK = "private_network"
    KEY_ACCOUNT_VIP = "key_account_vip"
    URBAN = "urban"
    SUBURBAN = "suburban"
    RURAL = "rural"


@dataclass(frozen=True)
class RepairLimit:
    fix: timedelta
    respond: timedelta | None = None


def _minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def _hours(n: int) -> timedelta:
    return timedelta(hours=n)


def _repair_row(
    general: int, duct: int, major: int, respond: dict[FaultKind, int]
) -> dict[FaultKind, RepairLimit]:
    fix = {FaultKind.GENERAL: general, FaultKind.DUCT: duct, FaultKind.MAJOR: major}
    return {
        kind: RepairLimit(_hours(fix[kind]), _minutes(respond[kind]) if kind in respond else None)
        for kind in FaultKind
    }


_EVERY_KIND_10_MIN = dict.fromkeys(FaultKind, 10)
# Hours to fix (general, duct, major) and minutes to respond, as the standard's 7 维修时限.
_REPAIR = {
    RepairGroup.URBAN: _repair_row(4, 12, 24, respond={FaultKind.MAJOR: 10}),
    RepairGroup.SUBURBAN: _repair_row(8, 24, 24, respond={}),
    RepairGroup.RURAL: _repair_row(12, 24, 24, respond={}),
    RepairGroup.KEY_ACCOUNT_VIP: _repair_row(2, 12, 12, respond={}),
    RepairGroup.PRIVATE_NETWORK: _repair_row(1, 6, 6, respond=_EVERY_KIND_10_MIN),
}


_RESTORATION = {Area.URBAN: _hours(4), Area.SUBURBAN: _hours(8), Area.RURAL: _hours(12)}
_RESTORATION_CUTOFF = {Area.URBAN: time(17), Area.SUBURBAN: time(17), Area.RURAL: time(16)}
_INSTALLATION_DAYS = {
    InstallKind.INDIVIDUAL: 3,
    InstallKind.RURAL: 4,
    InstallKind.BUILDING_TRUNK: 5,
}


def _frozen(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, kw_only=True)
class Policy:
    """Every limit of the standard; the defaults are the digest's table."""

    forward: timedelta = timedelta(minutes=10)
    acknowledge: timedelta = timedelta(minutes=5)
    reply: timedelta = timedelta(minutes=30)
    repair: Mapping[tuple[RepairGroup, FaultKind], RepairLimit] = field(
        default_factory=lambda: {
            (g, k): cell for g, row in _REPAIR.items() for k, cell in row.items()
        }
    )
    restoration: Mapping[Area, timedelta] = field(default_factory=lambda: _RESTORATION)
    # Accepted strictly after this wall-clock time: the clock starts next working day.
    restoration_cutoff: Mapping[Area, time] = field(default_factory=lambda: _RESTORATION_CUTOFF)
    installation_days: Mapping[InstallKind, int] = field(default_factory=lambda: _INSTALLATION_DAYS)
    follow_up: timedelta = timedelta(hours=24)
    # Called back one by one (回访, 四.4(2)); installations always are. Others are sampled.
    follow_up_every: frozenset[Category] = frozenset({Category.FAULT_REPORT, Category.COMPLAINT})
    warn_fraction: float = 0.8

    def __post_init__(self) -> None:
        for name in ("repair", "restoration", "restoration_cutoff", "installation_days"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @classmethod
    def from_mapping(cls, given: Mapping[str, Any], *, where: str = "standard") -> "Policy":
        """The defaults with `given` (a TOML table) on top; one ConfigError line per bad key."""
        # Imported here because the reader is built on this module's enums and Policy.
        from hotline.tickets.standard_config import read_policy

        return read_policy(cls(), given, where=where)


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class RepairDeadlines:
    respond_by: datetime | None
    fix_by: datetime
    rule: str  # the repair row that set fix_by, e.g. "key_account_vip.general"
    respond_rule: str | None = None  # the row that set respond_by


def _later(start: datetime, limit: timedelta) -> datetime:
    # Elapsed time, not wall-clock arithmetic: right even in a zone with DST.
    return (to_local(start).astimezone(UTC) + limit).astimezone(LOCAL_ZONE)


def forward_due(taken_at: datetime, *, policy: Policy = DEFAULT_POLICY) -> datetime:
    return _later(taken_at, policy.forward)


def acknowledge_due(forwarded_at: datetime, *, policy: Policy = DEFAULT_POLICY) -> datetime:
    return _later(forwarded_at, policy.acknowledge)


def reply_due(taken_at: datetime, *, policy: Policy = DEFAULT_POLICY) -> datetime:
    return _later(taken_at, policy.reply)


def follow_up_due(completed_at: datetime, *, policy: Policy = DEFAULT_POLICY) -> datetime:
    return _later(completed_at, policy.follow_up)


def repair_groups(tier: Tier, area: Area) -> tuple[RepairGroup, ...]:
    """The rows that apply, the one that sets the fix limit first."""
    by_area = RepairGroup(area.value)
    if tier is Tier.PRIVATE_NETWORK:
        return (RepairGroup.PRIVATE_NETWORK, by_area)
    if tier in (Tier.VIP, Tier.KEY_ACCOUNT):
        return (RepairGroup.KEY_ACCOUNT_VIP, by_area)
    return (by_area,)


def repair_deadlines(
    received_at: datetime,
    *,
    tier: Tier,
    area: Area,
    fault_kind: FaultKind,
    policy: Policy = DEFAULT_POLICY,
) -> RepairDeadlines:
    """Fix by the first row that applies; respond by the strictest response among them, so a
    VIP's urban major fault keeps the urban 10-minute response the VIP row does not mention."""
    groups = repair_groups(tier, area)
    fix = policy.repair[groups[0], fault_kind].fix
    responses = [
        (limit, group)
        for group in groups
        if (limit := policy.repair[group, fault_kind].respond) is not None
    ]
    respond, respond_group = min(responses, default=(None, None), key=lambda r: r[0])
    return RepairDeadlines(
        respond_by=None if respond is None else _later(received_at, respond),
        fix_by=_later(received_at, fix),
        rule=f"{groups[0]}.{fault_kind}",
        respond_rule=None if respond_group is None else f"{respond_group}.{fault_kind}",
    )


def restoration_start(
    accepted_at: datetime, *, area: Area, calendar: WorkCalendar, policy: Policy = DEFAULT_POLICY
) -> datetime:
    """When restoration's clock starts: at acceptance, or next working day's start if
    accepted after the area's cutoff. Pass it to warn_at, not the acceptance."""
    if calendar.is_after(accepted_at, policy.restoration_cutoff[area]):
        return calendar.next_working_day_start(accepted_at)
    return to_local(accepted_at)


def restoration_due(
    accepted_at: datetime, *, area: Area, calendar: WorkCalendar, policy: Policy = DEFAULT_POLICY
) -> datetime:
    start = restoration_start(accepted_at, area=area, calendar=calendar, policy=policy)
    return _later(start, policy.restoration[area])


def installation_due(
    dispatched_at: datetime, *, kind: InstallKind, policy: Policy = DEFAULT_POLICY
) -> datetime:
    """24:00 of the last day, counting the dispatch day as day 1, in calendar days (天)."""
    first_day = to_local(dispatched_at).date()
    after_last = first_day + timedelta(days=policy.installation_days[kind])
    return datetime.combine(after_last, time(0), tzinfo=LOCAL_ZONE)


def hall_dispatch_due(accepted_at: datetime, *, calendar: WorkCalendar) -> datetime:
    """Install orders leave the business hall by close of business on the day of acceptance;
    accepted after it, or on a day off, by the next working day's close of business."""
    day = to_local(accepted_at).date()
    if not calendar.is_working_day(day) or calendar.is_after(
        accepted_at, calendar.close_of_business
    ):
        day = calendar.next_working_day(day)
    return calendar.close_of_business_on(day)


def engineering_dispatch_due(hall_dispatched_at: datetime, *, calendar: WorkCalendar) -> datetime:
    """工程技术部 dispatches installers by the start of the next working day (第二日上班时)."""
    return calendar.next_working_day_start(hall_dispatched_at)


def private_network_handover_due(accepted_at: datetime, *, calendar: WorkCalendar) -> datetime:
    """市场营销部 passes a private-network order on by the start of the next working day."""
    return calendar.next_working_day_start(accepted_at)


def warn_at(started: datetime, due: datetime, *, policy: Policy = DEFAULT_POLICY) -> datetime:
    """When `warn_fraction` of the time from `started` (the clock's start) to `due` is used."""
    start, end = to_local(started), to_local(due)
    if end <= start:
        return end
    return _later(start, (end - start) * policy.warn_fraction)


def needs_follow_up(
    category: Category, *, install_kind: InstallKind | None = None, policy: Policy = DEFAULT_POLICY
) -> bool:
    """Whether this ticket gets its own follow-up call within the follow-up limit."""
    return install_kind is not None or category in policy.follow_up_every

"""Which follow-ups (回访) the standard asks for, and by when (pure): a ticket's own one when
it is resolved, the sample it joins otherwise, and the monthly calls and visits by tier.

A follow-up has two moments: `scheduled_at`, the first moment it may be placed (inside the
calling window: nobody is called at night), and `due_at`, the standard's limit. When the
window leaves no room before the limit, the follow-up is still scheduled at the window's
opening and keeps the limit, so it shows as late instead of ringing at night.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from hotline.callbacks.model import CallbackKind
from hotline.callbacks.policy import CallingWindow, next_open
from hotline.callbacks.sampling import (
    SAMPLE_RULES,
    Cadence,
    SampleGroup,
    draw_day,
    yearly_draw_day,
)
from hotline.tickets import standard
from hotline.tickets.plan import FOLLOWED_UP_SOURCES
from hotline.tickets.standard import DEFAULT_POLICY, Category, InstallKind, Policy, Tier
from hotline.tickets.workdays import LOCAL_ZONE


class Contact(StrEnum):
    PHONE = "phone"
    LETTER = "letter"  # 回函
    VISIT = "visit"  # 上门


@dataclass(frozen=True)
class FollowUp:
    kind: CallbackKind
    contact: Contact
    rule: str  # the line of the standard, e.g. "follow_up.complaint", "monthly.vip"
    scheduled_at: datetime
    due_at: datetime | None  # None: the standard sets a share, not a time (samples)

    @property
    def late(self) -> bool:
        """Scheduled after its limit already: a supervisor should see it at once."""
        return self.due_at is not None and self.scheduled_at > self.due_at


def needs_follow_up(
    category: Category,
    *,
    source: str,
    install_kind: InstallKind | None,
    policy: Policy = DEFAULT_POLICY,
) -> bool:
    """Every one is followed up within the limit (四.4(2)): the same rule as the ticket's
    follow-up deadline (tickets.plan.needs_follow_up); an install kind counts on business."""
    install = install_kind if category is Category.BUSINESS else None
    return source in FOLLOWED_UP_SOURCES or standard.needs_follow_up(
        category, install_kind=install, policy=policy
    )


def ticket_follow_up(
    *,
    category: Category,
    source: str,
    install_kind: InstallKind | None,
    resolved_at: datetime,
    window: CallingWindow,
    is_working_day: Callable[[date], bool],
    tz: ZoneInfo = LOCAL_ZONE,
    policy: Policy = DEFAULT_POLICY,
) -> FollowUp | None:
    """The follow-up a resolved ticket gets, or None when it is only sampled.

    Petitions referred by the Party committee or government and letter complaints are
    answered by reply letter (四.2: 回函回复), due the same 24 h but never called; repairs,
    complaints and installations are phoned.
    """
    if not needs_follow_up(category, source=source, install_kind=install_kind, policy=policy):
        return None
    due = standard.follow_up_due(resolved_at, policy=policy)
    if source in FOLLOWED_UP_SOURCES:
        # Same rule name as the ticket's follow-up deadline, so the two can be joined.
        return FollowUp(
            CallbackKind.REPLY_LETTER, Contact.LETTER, f"follow_up.{source}", resolved_at, due
        )
    scheduled = next_open(resolved_at, window, is_working_day, tz)
    return FollowUp(CallbackKind.FOLLOW_UP, Contact.PHONE, f"follow_up.{category}", scheduled, due)


# Tickets without a follow-up of their own join a weekly sample by category. Restoration
# (复通) is business handling; "other" tickets are not sampled as tickets: their customers
# are in the yearly per-type sample. Marketing and digital-TV conversion customers come
# from their own lists, not from tickets.
_TICKET_SAMPLE: Mapping[Category, SampleGroup] = MappingProxyType(
    {
        Category.INQUIRY: SampleGroup.INQUIRY,
        Category.BUSINESS: SampleGroup.BUSINESS,
        Category.RESTORATION: SampleGroup.BUSINESS,
    }
)


def ticket_sample_group(
    category: Category,
    *,
    source: str,
    install_kind: InstallKind | None,
    policy: Policy = DEFAULT_POLICY,
) -> SampleGroup | None:
    """The weekly sample a closed ticket is a candidate for, if any."""
    if needs_follow_up(category, source=source, install_kind=install_kind, policy=policy):
        return None
    return _TICKET_SAMPLE.get(category)


def sampled_follow_up(
    group: SampleGroup,
    period_label: str,
    *,
    window: CallingWindow,
    is_working_day: Callable[[date], bool],
    tz: ZoneInfo = LOCAL_ZONE,
) -> FollowUp:
    """A drawn candidate's call: from the draw day's opening (the week's draw day, or the
    year's first working day); the standard asks for a share, so there is no due time."""
    if SAMPLE_RULES[group].cadence is Cadence.WEEKLY:
        day = draw_day(period_label, is_working_day)
    else:
        day = yearly_draw_day(int(period_label), is_working_day)
    start = datetime.combine(day, time(0), tzinfo=tz)
    scheduled = next_open(start, window, is_working_day, tz)
    return FollowUp(CallbackKind.SAMPLED, Contact.PHONE, f"sampled.{group}", scheduled, None)


# 四.4(3): VIPs are phoned monthly; key accounts and private networks visited monthly.
MONTHLY: Mapping[str, tuple[CallbackKind, Contact]] = MappingProxyType(
    {
        Tier.VIP: (CallbackKind.VIP_MONTHLY, Contact.PHONE),
        Tier.KEY_ACCOUNT: (CallbackKind.VISIT, Contact.VISIT),
        Tier.PRIVATE_NETWORK: (CallbackKind.VISIT, Contact.VISIT),
    }
)


def monthly_follow_up(
    tier: str,
    year: int,
    month: int,
    *,
    window: CallingWindow,
    is_working_day: Callable[[date], bool],
    tz: ZoneInfo = LOCAL_ZONE,
) -> FollowUp | None:
    """A customer's monthly call or visit for that month, due by the month's end; None for
    a regular customer. Visits are scheduled on working days only, calls by the window."""
    if tier not in set(Tier):
        raise ValueError(f"unknown customer tier {tier!r}")
    if tier not in MONTHLY:
        return None
    kind, contact = MONTHLY[tier]
    if contact is Contact.VISIT:
        window = replace(window, working_days_only=True)
    first = datetime(year, month, 1, tzinfo=tz)
    due = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    scheduled = next_open(first, window, is_working_day, tz)
    return FollowUp(kind, contact, f"monthly.{tier}", scheduled, due)

"""Which follow-ups a ticket or a customer gets, and the 24 h limit inside the calling window."""

from datetime import datetime, time, timedelta
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.callbacks.followups import (
    Contact,
    FollowUp,
    monthly_follow_up,
    needs_follow_up,
    sampled_follow_up,
    ticket_follow_up,
    ticket_sample_group,
)
from hotline.callbacks.model import CallbackKind
from hotline.callbacks.policy import CallingWindow, is_open
from hotline.callbacks.sampling import SampleGroup
from hotline.tickets import plan
from hotline.tickets.standard import Area, Category, InstallKind, Tier
from hotline.tickets.workdays import LOCAL_ZONE, WorkCalendar

from .moments import FakeCalendar, at

EVERY_DAY = CallingWindow(time(9), time(20), working_days_only=False)
WORKING_DAYS = CallingWindow(time(9), time(20), working_days_only=True)
CHINA = WorkCalendar()
SOURCES = ["call", "walk_in", "letter", "government_referral", "other"]
INSTALLS = [None, *InstallKind]


def _resolved(
    category: Category,
    at_: datetime,
    *,
    source: str = "call",
    install_kind: InstallKind | None = None,
    window: CallingWindow = EVERY_DAY,
    calendar: WorkCalendar | FakeCalendar = CHINA,
) -> FollowUp | None:
    return ticket_follow_up(
        category=category,
        source=source,
        install_kind=install_kind,
        resolved_at=at_,
        window=window,
        is_working_day=calendar.is_working_day,
    )


# (category, source, install kind) -> (kind, contact, rule) or None: the standard's 四.4(2).
WHO = [
    pytest.param(Category.FAULT_REPORT, "call", None, (CallbackKind.FOLLOW_UP, Contact.PHONE, "follow_up.fault_report"), id="repair: phoned"),
    pytest.param(Category.COMPLAINT, "call", None, (CallbackKind.FOLLOW_UP, Contact.PHONE, "follow_up.complaint"), id="complaint: phoned"),
    pytest.param(Category.COMPLAINT, "walk_in", None, (CallbackKind.FOLLOW_UP, Contact.PHONE, "follow_up.complaint"), id="walk-in complaint: phoned"),
    pytest.param(Category.BUSINESS, "call", InstallKind.INDIVIDUAL, (CallbackKind.FOLLOW_UP, Contact.PHONE, "follow_up.business"), id="installation: phoned"),
    pytest.param(Category.BUSINESS, "walk_in", InstallKind.BUILDING_TRUNK, (CallbackKind.FOLLOW_UP, Contact.PHONE, "follow_up.business"), id="trunk installation: phoned"),
    pytest.param(Category.COMPLAINT, "government_referral", None, (CallbackKind.REPLY_LETTER, Contact.LETTER, "follow_up.government_referral"), id="petition: reply letter"),
    pytest.param(Category.INQUIRY, "government_referral", None, (CallbackKind.REPLY_LETTER, Contact.LETTER, "follow_up.government_referral"), id="any petition: reply letter"),
    pytest.param(Category.COMPLAINT, "letter", None, (CallbackKind.REPLY_LETTER, Contact.LETTER, "follow_up.letter"), id="letter complaint: reply letter"),
    pytest.param(Category.INQUIRY, "call", None, None, id="inquiry: sampled only"),
    pytest.param(Category.BUSINESS, "call", None, None, id="business handling: sampled only"),
    pytest.param(Category.RESTORATION, "call", None, None, id="restoration: sampled only"),
    pytest.param(Category.OTHER, "call", None, None, id="other: sampled only"),
    pytest.param(Category.INQUIRY, "call", InstallKind.RURAL, None, id="an install kind counts only on business"),
]


@pytest.mark.parametrize("category, source, install_kind, expected", WHO)
def test_which_tickets_get_a_follow_up_and_how(category: Category, source: str, install_kind: InstallKind | None, expected: tuple[CallbackKind, Contact, str] | None) -> None:
    got = _resolved(category, at("2026-03-04 10:00"), source=source, install_kind=install_kind)
    assert (None if got is None else (got.kind, got.contact, got.rule)) == expected


@pytest.mark.parametrize("category, source, install_kind", list(product(Category, SOURCES, INSTALLS)))
def test_the_follow_up_agrees_with_the_tickets_own_deadline(category: Category, source: str, install_kind: InstallKind | None) -> None:
    resolved = at("2026-03-04 10:00")
    facts = plan.TicketFacts(category=category, tier=Tier.REGULAR, area=Area.URBAN, taken_at=at("2026-03-04 08:00"), source=source, install_kind=install_kind, resolved_at=resolved)
    deadline = plan.plan(facts, calendar=CHINA).get(plan.DeadlineKind.FOLLOW_UP)
    ours = _resolved(category, resolved, source=source, install_kind=install_kind)
    assert needs_follow_up(category, source=source, install_kind=install_kind) is plan.needs_follow_up(facts)
    assert (ours is None) is (deadline is None)
    if ours is not None and deadline is not None:
        assert (ours.rule, ours.due_at) == (deadline.rule, deadline.due_at)


LIMITS = [
    # resolved, window, scheduled, due, late; 2026-03-06 is a Friday
    pytest.param("2026-03-04 10:00", EVERY_DAY, "2026-03-04 10:00", "2026-03-05 10:00", False, id="by day: called at once"),
    pytest.param("2026-03-04 19:59", EVERY_DAY, "2026-03-04 19:59", "2026-03-05 19:59", False, id="the last minute of the window"),
    pytest.param("2026-03-04 22:00", EVERY_DAY, "2026-03-05 09:00", "2026-03-05 22:00", False, id="at night: next morning"),
    pytest.param("2026-03-06 20:30", EVERY_DAY, "2026-03-07 09:00", "2026-03-07 20:30", False, id="Friday evening: Saturday morning"),
    pytest.param("2026-03-06 20:30", WORKING_DAYS, "2026-03-09 09:00", "2026-03-07 20:30", True, id="working-days window: Monday, late, limit kept"),
]


@pytest.mark.parametrize("resolved, window, scheduled, due, late", LIMITS)
def test_the_24_hour_limit_inside_the_calling_window(resolved: str, window: CallingWindow, scheduled: str, due: str, late: bool) -> None:
    follow_up = _resolved(Category.COMPLAINT, at(resolved), window=window, calendar=FakeCalendar())
    assert follow_up is not None
    assert follow_up.scheduled_at == at(scheduled)
    assert follow_up.due_at == at(due)
    assert follow_up.late is late


def test_a_reply_letter_is_not_held_to_the_calling_window() -> None:
    letter = _resolved(Category.COMPLAINT, at("2026-03-04 22:00"), source="government_referral")
    assert letter is not None
    assert letter.scheduled_at == at("2026-03-04 22:00")
    assert letter.due_at == at("2026-03-05 22:00")


@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31)))
def test_a_phoned_follow_up_is_never_at_night_and_an_every_day_window_is_never_late(naive: datetime) -> None:
    resolved = naive.replace(tzinfo=LOCAL_ZONE)
    follow_up = _resolved(Category.FAULT_REPORT, resolved)
    assert follow_up is not None and follow_up.due_at is not None
    assert follow_up.due_at - resolved == timedelta(hours=24)
    assert follow_up.scheduled_at >= resolved
    assert is_open(follow_up.scheduled_at, EVERY_DAY, CHINA.is_working_day, LOCAL_ZONE)
    assert not follow_up.late  # the longest night, 20:00 to 09:00, is 13 h


SAMPLED = [
    pytest.param(Category.INQUIRY, "call", None, SampleGroup.INQUIRY, id="inquiry"),
    pytest.param(Category.BUSINESS, "walk_in", None, SampleGroup.BUSINESS, id="business handling"),
    pytest.param(Category.RESTORATION, "call", None, SampleGroup.BUSINESS, id="restoration is business handling"),
    pytest.param(Category.BUSINESS, "call", InstallKind.INDIVIDUAL, None, id="installation has its own"),
    pytest.param(Category.COMPLAINT, "call", None, None, id="complaint has its own"),
    pytest.param(Category.INQUIRY, "government_referral", None, None, id="petition has its own"),
    pytest.param(Category.OTHER, "call", None, None, id="other: the yearly customer sample"),
]


@pytest.mark.parametrize("category, source, install_kind, group", SAMPLED)
def test_which_weekly_sample_a_closed_ticket_joins(category: Category, source: str, install_kind: InstallKind | None, group: SampleGroup | None) -> None:
    assert ticket_sample_group(category, source=source, install_kind=install_kind) == group


def test_no_ticket_is_both_followed_up_and_sampled() -> None:
    for category, source, install in product(Category, SOURCES, INSTALLS):
        own = needs_follow_up(category, source=source, install_kind=install)
        assert not (own and ticket_sample_group(category, source=source, install_kind=install))


MONTHLY = [
    # tier, window, year, month -> kind, contact, scheduled, due
    pytest.param(Tier.VIP, EVERY_DAY, 2026, 10, CallbackKind.VIP_MONTHLY, Contact.PHONE, "2026-10-01 09:00", "2026-11-01 00:00", id="VIP: phoned from the 1st"),
    pytest.param(Tier.VIP, WORKING_DAYS, 2026, 10, CallbackKind.VIP_MONTHLY, Contact.PHONE, "2026-10-08 09:00", "2026-11-01 00:00", id="VIP, working-days window: after National Day"),
    pytest.param(Tier.KEY_ACCOUNT, EVERY_DAY, 2026, 10, CallbackKind.VISIT, Contact.VISIT, "2026-10-08 09:00", "2026-11-01 00:00", id="key account: visited on a working day"),
    pytest.param(Tier.PRIVATE_NETWORK, EVERY_DAY, 2026, 12, CallbackKind.VISIT, Contact.VISIT, "2026-12-01 09:00", "2027-01-01 00:00", id="private network: December is due by New Year"),
]


@pytest.mark.parametrize("tier, window, year, month, kind, contact, scheduled, due", MONTHLY)
def test_monthly_calls_and_visits_by_tier(tier: Tier, window: CallingWindow, year: int, month: int, kind: CallbackKind, contact: Contact, scheduled: str, due: str) -> None:
    got = monthly_follow_up(tier, year, month, window=window, is_working_day=CHINA.is_working_day)
    assert got == FollowUp(kind, contact, f"monthly.{tier}", at(scheduled), at(due))


def test_regular_customers_get_no_monthly_call_and_unknown_tiers_are_refused() -> None:
    assert monthly_follow_up("regular", 2026, 3, window=EVERY_DAY, is_working_day=CHINA.is_working_day) is None
    with pytest.raises(ValueError, match="unknown customer tier"):
        monthly_follow_up("gold", 2026, 3, window=EVERY_DAY, is_working_day=CHINA.is_working_day)


def test_a_sampled_follow_up_starts_on_the_draw_day_and_has_no_deadline() -> None:
    weekly = sampled_follow_up(SampleGroup.INQUIRY, "2026-W40", window=EVERY_DAY, is_working_day=CHINA.is_working_day)
    assert weekly == FollowUp(CallbackKind.SAMPLED, Contact.PHONE, "sampled.inquiry", at("2026-09-30 09:00"), None)
    assert not weekly.late
    yearly = sampled_follow_up(SampleGroup.OTHER, "2026", window=EVERY_DAY, is_working_day=CHINA.is_working_day)
    assert yearly.scheduled_at == at("2026-01-04 09:00")

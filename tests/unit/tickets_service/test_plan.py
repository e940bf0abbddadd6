"""Which deadlines a ticket gets: one row per path through category, fault kind, tier, area,
install kind and source, each limit read from the policy, at fixed Bazhong moments."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from hotline.clock import FakeClock
from hotline.tickets.plan import DeadlineKind, TicketFacts, needs_follow_up, plan
from hotline.tickets.standard import DEFAULT_POLICY as P
from hotline.tickets.standard import Area, Category, FaultKind, InstallKind, Policy, RepairGroup, Tier
from hotline.tickets.workdays import WorkCalendar
from tests.unit.tickets.moments import at, hours, minutes

CALENDAR = WorkCalendar()
TAKEN = at("2026-03-02 10:00")  # a Monday morning
K = DeadlineKind
REGULAR, VIP, KEY_ACCOUNT, PRIVATE = Tier.REGULAR, Tier.VIP, Tier.KEY_ACCOUNT, Tier.PRIVATE_NETWORK
URBAN, SUBURBAN, RURAL = Area.URBAN, Area.SUBURBAN, Area.RURAL
GENERAL, DUCT, MAJOR = FaultKind.GENERAL, FaultKind.DUCT, FaultKind.MAJOR


def facts(category: Category, tier: Tier = REGULAR, area: Area = URBAN, **more) -> TicketFacts:
    return TicketFacts(category=category, tier=tier, area=area, taken_at=FakeClock(TAKEN).now(), **more)


def limits(planned) -> dict[DeadlineKind, timedelta]:
    """Each deadline as its limit from its own start."""
    return {kind: p.due_at - p.started_at for kind, p in planned.items()}


def fix(group: RepairGroup, kind: FaultKind) -> timedelta:
    return P.repair[group, kind].fix


def respond(group: RepairGroup, kind: FaultKind) -> timedelta:
    respond_within = P.repair[group, kind].respond
    assert respond_within is not None
    return respond_within


G = RepairGroup
# category, tier, area, fault kind -> the deadlines and their limits, when just opened
ON_OPEN = [
    pytest.param(Category.INQUIRY, REGULAR, URBAN, None, {K.FORWARD: P.forward, K.REPLY: P.reply}, id="inquiry: forward 10 min, reply 30 min"),
    pytest.param(Category.COMPLAINT, VIP, RURAL, None, {K.FORWARD: P.forward, K.REPLY: P.reply}, id="complaint: forward, reply"),
    pytest.param(Category.OTHER, REGULAR, SUBURBAN, None, {K.FORWARD: P.forward, K.REPLY: P.reply}, id="other: held like an inquiry"),
    pytest.param(Category.FAULT_REPORT, REGULAR, URBAN, GENERAL, {K.FORWARD: P.forward, K.REPAIR_FIX: fix(G.URBAN, GENERAL)}, id="fault urban general: 4 h"),
    pytest.param(Category.FAULT_REPORT, REGULAR, URBAN, DUCT, {K.FORWARD: P.forward, K.REPAIR_FIX: fix(G.URBAN, DUCT)}, id="fault urban duct: 12 h"),
    pytest.param(
        Category.FAULT_REPORT, REGULAR, URBAN, MAJOR,
        {K.FORWARD: P.forward, K.REPAIR_RESPOND: respond(G.URBAN, MAJOR), K.REPAIR_FIX: fix(G.URBAN, MAJOR)},
        id="fault urban major: respond 10 min, fix 24 h",
    ),
    pytest.param(Category.FAULT_REPORT, REGULAR, SUBURBAN, GENERAL, {K.FORWARD: P.forward, K.REPAIR_FIX: fix(G.SUBURBAN, GENERAL)}, id="fault suburban general: 8 h"),
    pytest.param(Category.FAULT_REPORT, REGULAR, SUBURBAN, MAJOR, {K.FORWARD: P.forward, K.REPAIR_FIX: fix(G.SUBURBAN, MAJOR)}, id="fault suburban other: 24 h"),
    pytest.param(Category.FAULT_REPORT, REGULAR, RURAL, GENERAL, {K.FORWARD: P.forward, K.REPAIR_FIX: fix(G.RURAL, GENERAL)}, id="fault rural general: 12 h"),
    pytest.param(Category.FAULT_REPORT, REGULAR, RURAL, DUCT, {K.FORWARD: P.forward, K.REPAIR_FIX: fix(G.RURAL, DUCT)}, id="fault rural other: 24 h"),
    pytest.param(Category.FAULT_REPORT, VIP, RURAL, GENERAL, {K.FORWARD: P.forward, K.REPAIR_FIX: fix(G.KEY_ACCOUNT_VIP, GENERAL)}, id="fault VIP general: 2 h"),
    pytest.param(Category.FAULT_REPORT, KEY_ACCOUNT, SUBURBAN, DUCT, {K.FORWARD: P.forward, K.REPAIR_FIX: fix(G.KEY_ACCOUNT_VIP, DUCT)}, id="fault key account other: 12 h"),
    pytest.param(
        Category.FAULT_REPORT, VIP, URBAN, MAJOR,
        {K.FORWARD: P.forward, K.REPAIR_RESPOND: respond(G.URBAN, MAJOR), K.REPAIR_FIX: fix(G.KEY_ACCOUNT_VIP, MAJOR)},
        id="fault VIP urban major: keeps urban's 10 min response, fixes in 12 h",
    ),
    pytest.param(
        Category.FAULT_REPORT, PRIVATE, RURAL, GENERAL,
        {K.FORWARD: P.forward, K.REPAIR_RESPOND: respond(G.PRIVATE_NETWORK, GENERAL), K.REPAIR_FIX: fix(G.PRIVATE_NETWORK, GENERAL)},
        id="fault private network general: respond 10 min, fix 1 h",
    ),
    pytest.param(
        Category.FAULT_REPORT, PRIVATE, URBAN, DUCT,
        {K.FORWARD: P.forward, K.REPAIR_RESPOND: respond(G.PRIVATE_NETWORK, DUCT), K.REPAIR_FIX: fix(G.PRIVATE_NETWORK, DUCT)},
        id="fault private network other: respond 10 min, fix 6 h",
    ),
    pytest.param(Category.FAULT_REPORT, REGULAR, URBAN, None, {K.FORWARD: P.forward, K.REPAIR_FIX: fix(G.URBAN, GENERAL)}, id="fault of no kind yet: general"),
    pytest.param(Category.RESTORATION, REGULAR, URBAN, None, {K.RESTORATION: P.restoration[URBAN]}, id="restoration urban: 4 h"),
    pytest.param(Category.RESTORATION, VIP, SUBURBAN, None, {K.RESTORATION: P.restoration[SUBURBAN]}, id="restoration suburban: 8 h"),
    pytest.param(Category.RESTORATION, REGULAR, RURAL, None, {K.RESTORATION: P.restoration[RURAL]}, id="restoration rural: 12 h"),
    pytest.param(Category.BUSINESS, REGULAR, URBAN, None, {}, id="business without an install: no clock"),
]


@pytest.mark.parametrize("category, tier, area, kind, expected", ON_OPEN)
def test_an_opened_ticket_gets_the_standards_deadlines(category, tier, area, kind, expected) -> None:
    planned = plan(facts(category, tier, area, fault_kind=kind), calendar=CALENDAR)

    assert limits(planned) == expected
    assert all(p.started_at == TAKEN for p in planned.values())


def test_the_rule_names_the_line_of_the_standard() -> None:
    planned = plan(facts(Category.FAULT_REPORT, VIP, URBAN, fault_kind=MAJOR), calendar=CALENDAR)

    assert {k: p.rule for k, p in planned.items()} == {
        K.FORWARD: "forward",
        K.REPAIR_RESPOND: "urban.major",
        K.REPAIR_FIX: "key_account_vip.major",
    }


def test_restoration_accepted_after_hours_starts_next_working_day() -> None:
    friday_evening = at("2026-03-06 18:00")
    planned = plan(replace(facts(Category.RESTORATION), taken_at=friday_evening), calendar=CALENDAR)[K.RESTORATION]

    assert (planned.started_at, planned.due_at) == (at("2026-03-09 08:30"), at("2026-03-09 12:30"))
    assert planned.rule == "restoration.urban.next_working_day"
    assert planned.warn_at == at("2026-03-09 11:42")  # 80 % of 4 h from its start, not from Friday


def test_an_install_order_is_dispatched_by_close_of_business_and_installed_in_days_from_dispatch() -> None:
    order = facts(Category.BUSINESS, install_kind=InstallKind.RURAL)
    before = plan(order, calendar=CALENDAR)
    dispatched = plan(replace(order, first_forwarded_at=at("2026-03-02 15:00"), forwarded_at=at("2026-03-02 15:00")), calendar=CALENDAR)

    assert set(before) == {K.FORWARD}
    assert (before[K.FORWARD].rule, before[K.FORWARD].due_at) == ("hall_dispatch", at("2026-03-02 17:30"))
    assert dispatched[K.INSTALLATION].due_at == at("2026-03-06 00:00")  # 4 days, the dispatch day is day 1
    assert dispatched[K.ACKNOWLEDGE].due_at == at("2026-03-02 15:05")


def test_the_acknowledge_clock_runs_from_the_latest_forward() -> None:
    forwarded = facts(Category.COMPLAINT, first_forwarded_at=at("2026-03-02 10:05"), forwarded_at=at("2026-03-02 10:40"))

    acknowledge = plan(forwarded, calendar=CALENDAR)[K.ACKNOWLEDGE]

    assert (acknowledge.started_at, acknowledge.due_at) == (at("2026-03-02 10:40"), at("2026-03-02 10:40") + P.acknowledge)


# category, install kind, source -> followed up one by one (24 h after resolution)
FOLLOW_UP = [
    pytest.param(Category.FAULT_REPORT, None, "call", True, id="repair: every one"),
    pytest.param(Category.COMPLAINT, None, "call", True, id="complaint: every one"),
    pytest.param(Category.BUSINESS, InstallKind.INDIVIDUAL, "call", True, id="new install: every one"),
    pytest.param(Category.BUSINESS, None, "call", False, id="business: sampled"),
    pytest.param(Category.INQUIRY, None, "call", False, id="inquiry: sampled"),
    pytest.param(Category.INQUIRY, None, "letter", True, id="letter: reply letter, every one"),
    pytest.param(Category.OTHER, None, "government_referral", True, id="government referral: every one"),
    pytest.param(Category.INQUIRY, InstallKind.RURAL, "call", False, id="an install kind on a non-business ticket counts for nothing"),
]


@pytest.mark.parametrize("category, install_kind, source, followed_up", FOLLOW_UP)
def test_resolving_leaves_only_the_follow_up_where_the_standard_wants_one(category, install_kind, source, followed_up) -> None:
    resolved = facts(category, install_kind=install_kind, source=source, resolved_at=at("2026-03-02 11:00"))

    planned = plan(resolved, calendar=CALENDAR)

    assert needs_follow_up(resolved) is followed_up
    assert limits(planned) == ({K.FOLLOW_UP: P.follow_up} if followed_up else {})
    if followed_up:
        assert planned[K.FOLLOW_UP].started_at == at("2026-03-02 11:00")


def test_limits_come_from_the_policy_in_force() -> None:
    policy = Policy.from_mapping({"forward": "15min", "reply": "1h", "repair": {"urban": {"general": "6h"}}, "warn_fraction": 0.5})

    planned = plan(facts(Category.FAULT_REPORT, fault_kind=GENERAL), policy=policy, calendar=CALENDAR)

    assert limits(planned) == {K.FORWARD: minutes(15), K.REPAIR_FIX: hours(6)}
    assert planned[K.REPAIR_FIX].warn_at == TAKEN + hours(3)


def test_each_deadline_warns_at_eighty_percent_of_its_time() -> None:
    planned = plan(facts(Category.INQUIRY), calendar=CALENDAR)

    assert planned[K.FORWARD].warn_at == TAKEN + minutes(8)
    assert planned[K.REPLY].warn_at == TAKEN + minutes(24)

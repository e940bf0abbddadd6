"""The routing decision, read as tables: who the caller is, when, who is free -> where they go."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from hotline.routing.decide import Caller, Route, decide, default_route, in_working_hours
from hotline.routing.profile import CallerProfile
from hotline.routing.rules import DEFAULT_RULES

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
MONDAY_20 = datetime(2026, 3, 2, 20, 0, tzinfo=SHANGHAI)
SATURDAY_10 = datetime(2026, 3, 7, 10, 0, tzinfo=SHANGHAI)

CALLER = Caller("+8613800000001", "李四", "Local/96655@hotline-in-00000011;2", "1795544602.35")


def profile(tier: str, *, manager: str | None = None, ticket_owner: str | None = None) -> CallerProfile:
    return CallerProfile(42, "客户", tier, "urban", "经理" if manager else None, manager, ticket_owner)


def route_for(who: CallerProfile | None, *, now: datetime = MONDAY_10, free: set[str] = frozenset(), rules=DEFAULT_RULES, caller: Caller = CALLER) -> Route:
    return decide(caller, who, rules, now=now, agent_available=free.__contains__, call_ref="R1")


# tier, when, who is free -> queue, priority, first try
ROUTING_TABLE = [
    ("vip", MONDAY_10, set(), "vip", 10, None),
    ("key_account", MONDAY_10, set(), "key-account", 10, None),
    ("private_network", MONDAY_10, set(), "private-network", 5, None),
    ("regular", MONDAY_10, set(), "hotline", 0, None),
    # After hours everyone but private network shares the night queue, priority kept.
    ("vip", MONDAY_20, set(), "hotline", 10, None),
    ("key_account", SATURDAY_10, set(), "hotline", 10, None),
    ("private_network", MONDAY_20, set(), "private-network", 5, None),
    ("regular", MONDAY_20, set(), "hotline", 0, None),
]


@pytest.mark.parametrize("tier, now, free, queue, priority, first_try", ROUTING_TABLE)
def test_each_tier_goes_to_its_queue_with_its_priority(tier, now, free, queue, priority, first_try) -> None:
    route = route_for(profile(tier), now=now, free=free)

    assert (route.queue, route.priority, route.tier, route.first_try) == (queue, priority, tier, first_try)
    assert (route.customer, route.call_ref, route.fallback) == ("42", "R1", False)


def test_vips_and_key_accounts_are_ahead_of_everyone() -> None:
    priorities = {tier: route.priority for tier, route in DEFAULT_RULES.tiers.items()}

    assert priorities["vip"] == priorities["key_account"] > max(priorities["private_network"], priorities["regular"])


# manager, ticket owner, who is free, when -> who rings first
FIRST_TRY_TABLE = [
    ("8005", None, {"8005"}, MONDAY_10, "8005"),
    ("8005", None, set(), MONDAY_10, None),
    ("8005", None, {"8001"}, MONDAY_10, None),
    (None, "8002", {"8002"}, MONDAY_10, "8002"),
    (None, "8002", set(), MONDAY_10, None),
    # The open ticket's owner comes first: the call is most likely about that ticket.
    ("8005", "8002", {"8005", "8002"}, MONDAY_10, "8002"),
    ("8005", "8002", {"8005"}, MONDAY_10, "8005"),
    # Off duty at night, however available their phone looks.
    ("8005", "8002", {"8005", "8002"}, MONDAY_20, None),
]


@pytest.mark.parametrize("manager, ticket_owner, free, now, first_try", FIRST_TRY_TABLE)
def test_the_first_try_is_the_ticket_owner_or_the_account_manager_when_free(manager, ticket_owner, free, now, first_try) -> None:
    route = route_for(profile("key_account", manager=manager, ticket_owner=ticket_owner), now=now, free=free)

    assert route.first_try == first_try
    assert route.queue == ("key-account" if now == MONDAY_10 else "hotline")


def test_the_order_of_first_tries_is_configurable() -> None:
    manager_first = dataclasses.replace(DEFAULT_RULES, first_try=("account_manager", "ticket_owner"))
    nobody = dataclasses.replace(DEFAULT_RULES, first_try=())
    key_account = profile("key_account", manager="8005", ticket_owner="8002")

    assert route_for(key_account, free={"8005", "8002"}, rules=manager_first).first_try == "8005"
    assert route_for(key_account, free={"8005", "8002"}, rules=nobody).first_try is None


def test_the_reason_says_why() -> None:
    route = route_for(profile("key_account", manager="8005", ticket_owner="8002"), free={"8005"})

    assert route.reason == "tier key_account, ticket owner not available, first try account manager"
    assert route_for(profile("vip"), now=MONDAY_20).reason == "tier vip, after hours"


@pytest.mark.parametrize(
    "caller, who, reason",
    [
        (Caller(None), None, "number withheld or unknown"),
        (Caller(None), profile("vip"), "number withheld or unknown"),
        (CALLER, None, "not in the directory"),
    ],
    ids=["withheld", "withheld, whatever the profile", "unknown"],
)
def test_unknown_and_withheld_callers_get_the_default_route(caller, who, reason) -> None:
    route = route_for(who, caller=caller, free={"8005"})

    assert route == Route("hotline", 0, "regular", None, None, "R1", reason, fallback=False)


def test_a_tier_the_rules_do_not_know_is_routed_as_regular() -> None:
    route = route_for(profile("gold"))

    assert (route.queue, route.priority, route.tier, route.customer) == ("hotline", 0, "regular", "42")
    assert route.reason == "unknown tier 'gold'"


def test_the_default_route_follows_the_rules() -> None:
    rules = dataclasses.replace(DEFAULT_RULES, default_queue="overflow")

    route = default_route(rules, reason="over budget", fallback=True, call_ref="R9")

    assert route == Route("overflow", 0, "regular", None, None, "R9", "over budget", fallback=True)


def test_every_decision_gets_a_new_short_call_ref_unless_given() -> None:
    refs = {decide(CALLER, None, DEFAULT_RULES, now=MONDAY_10, agent_available=bool).call_ref for _ in range(100)}

    assert len(refs) == 100
    assert all(re.fullmatch(r"[0-9a-f]{16}", ref) for ref in refs)


@pytest.mark.parametrize(
    "now, working",
    [
        (datetime(2026, 3, 2, 8, 29, 59, tzinfo=SHANGHAI), False),
        (datetime(2026, 3, 2, 8, 30, tzinfo=SHANGHAI), True),
        (datetime(2026, 3, 2, 17, 29, 59, tzinfo=SHANGHAI), True),
        (datetime(2026, 3, 2, 17, 30, tzinfo=SHANGHAI), False),
        (datetime(2026, 3, 6, 12, 0, tzinfo=SHANGHAI), True),  # Friday
        (datetime(2026, 3, 8, 12, 0, tzinfo=SHANGHAI), False),  # Sunday
        # An aware time in another zone is read on Shanghai's clock: 00:30 UTC is 08:30.
        (datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc), True),
        (datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc), False),
        # A naive time is taken as Shanghai's already.
        (datetime(2026, 3, 2, 8, 30), True),
    ],
)
def test_working_hours_are_monday_to_friday_0830_to_1730_in_shanghai(now, working) -> None:
    assert in_working_hours(DEFAULT_RULES, now) is working


def test_a_working_day_calendar_can_replace_the_weekdays() -> None:
    # 2026-02-28 is a Saturday; say it is a swapped working day (调休).
    rules = dataclasses.replace(DEFAULT_RULES, working_day=lambda day: day.isoformat() == "2026-02-28")

    assert in_working_hours(rules, datetime(2026, 2, 28, 9, 0))
    assert not in_working_hours(rules, datetime(2026, 3, 2, 9, 0))

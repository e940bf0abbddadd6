"""The routing rules come from settings.routing: each key lands where decide reads it."""

from __future__ import annotations

from datetime import date, time

from hotline.config import RoutingSettings, load_settings
from hotline.routing.rules import DEFAULT_RULES, TierRoute, rules_from_settings


def test_the_default_rules_are_the_documented_ones() -> None:
    assert dict(DEFAULT_RULES.tiers) == {
        "vip": TierRoute("vip", 10),
        "key_account": TierRoute("key-account", 10),
        "private_network": TierRoute("private-network", 5),
        "regular": TierRoute("hotline", 0),
    }
    assert DEFAULT_RULES.default == TierRoute("hotline", 0)
    assert (DEFAULT_RULES.work_start, DEFAULT_RULES.work_end) == (time(8, 30), time(17, 30))
    assert DEFAULT_RULES.first_try == ("ticket_owner", "account_manager")
    assert DEFAULT_RULES.after_hours_tiers == {"vip", "key_account", "regular"}
    assert str(DEFAULT_RULES.timezone) == "Asia/Shanghai"


def test_every_rule_follows_its_setting() -> None:
    settings = load_settings(
        None,
        {
            "HOTLINE_ROUTING_VIP_QUEUE": "gold",
            "HOTLINE_ROUTING_VIP_PRIORITY": "20",
            "HOTLINE_ROUTING_DEFAULT_QUEUE": "overflow",
            "HOTLINE_ROUTING_FIRST_TRY": "",
            "HOTLINE_ROUTING_WORK_DAYS": "mon,sat",
            "HOTLINE_ROUTING_WORK_START": "9:00",
            "HOTLINE_ROUTING_AFTER_HOURS_QUEUE": "night",
            "HOTLINE_ROUTING_AFTER_HOURS_TIERS": "regular",
        },
    )

    rules = rules_from_settings(settings.routing)

    assert rules.tiers["vip"] == TierRoute("gold", 20)
    assert rules.default == TierRoute("overflow", 0)
    assert rules.first_try == ()
    assert rules.work_start == time(9, 0)
    assert [rules.working_day(date(2026, 3, d)) for d in (2, 3, 7, 8)] == [True, False, True, False]
    assert (rules.after_hours_queue, rules.after_hours_tiers) == ("night", {"regular"})


def test_a_calendar_replaces_the_weekday_list() -> None:
    rules = rules_from_settings(RoutingSettings(), working_day=lambda day: False)

    assert not rules.working_day(date(2026, 3, 2))

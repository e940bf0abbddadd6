"""Which due callback is placed first: priority, then the longest due, then the oldest id."""

from datetime import UTC

import pytest

from hotline.callbacks.model import CallbackKind as K
from hotline.callbacks.policy import order_key, priority
from hotline.tickets.standard import Tier

from .moments import at

# Each pair: the first is placed before the second.
BEFORE = [
    pytest.param((K.ABANDONED, Tier.VIP), (K.ABANDONED, Tier.REGULAR), id="abandoned VIP before regular"),
    pytest.param((K.ABANDONED, Tier.KEY_ACCOUNT), (K.ABANDONED, Tier.REGULAR), id="abandoned key account before regular"),
    pytest.param((K.AFTER_HOURS, Tier.PRIVATE_NETWORK), (K.AFTER_HOURS, Tier.REGULAR), id="private network before regular"),
    pytest.param((K.MANUAL, Tier.REGULAR), (K.ABANDONED, Tier.REGULAR), id="a time the customer asked for first"),
    pytest.param((K.MANUAL, Tier.REGULAR), (K.FOLLOW_UP, Tier.VIP), id="manual before any follow-up"),
    pytest.param((K.ABANDONED, Tier.VIP), (K.MANUAL, Tier.REGULAR), id="VIP first within waiting customers"),
    pytest.param((K.FOLLOW_UP, Tier.REGULAR), (K.SAMPLED, Tier.VIP), id="complaint follow-up before samples"),
    pytest.param((K.FOLLOW_UP, Tier.REGULAR), (K.VIP_MONTHLY, Tier.VIP), id="24 h follow-up before routine monthly"),
    pytest.param((K.ABANDONED, Tier.REGULAR), (K.VIP_MONTHLY, Tier.VIP), id="a routine VIP call never overtakes a lost caller"),
    pytest.param((K.VIP_MONTHLY, Tier.VIP), (K.SAMPLED, Tier.REGULAR), id="monthly VIP before a regular sample"),
]


@pytest.mark.parametrize("first, second", BEFORE)
def test_priority_orders_the_kinds_and_tiers(first: tuple[K, Tier], second: tuple[K, Tier]) -> None:
    assert priority(*first) > priority(*second)


def test_abandoned_and_after_hours_rank_alike_so_the_older_goes_first() -> None:
    assert priority(K.ABANDONED, "regular") == priority(K.AFTER_HOURS, "regular")


def test_plain_strings_and_both_tier_enums_are_accepted() -> None:
    from hotline.routing.customers import Tier as DirectoryTier

    assert priority(K.ABANDONED, "vip") == priority(K.ABANDONED, Tier.VIP) == priority(K.ABANDONED, DirectoryTier.VIP)


def test_an_unknown_tier_is_refused_not_ranked_as_regular() -> None:
    with pytest.raises(ValueError, match="unknown customer tier"):
        priority(K.ABANDONED, "gold")


def test_due_callbacks_sort_by_priority_then_due_time_then_id() -> None:
    due = [
        # (id, kind, tier, due)
        (1, K.SAMPLED, "regular", at("2026-03-04 09:00")),
        (2, K.ABANDONED, "regular", at("2026-03-04 10:05")),
        (3, K.ABANDONED, "regular", at("2026-03-04 10:00")),
        (4, K.ABANDONED, "vip", at("2026-03-04 10:30")),
        (5, K.ABANDONED, "regular", at("2026-03-04 10:00")),
        (6, K.FOLLOW_UP, "regular", at("2026-03-04 08:00")),
    ]
    ordered = sorted(due, key=lambda row: order_key(row[1], row[2], row[3], row[0]))
    assert [row[0] for row in ordered] == [4, 3, 5, 2, 6, 1]


def test_due_times_in_other_zones_compare_as_moments() -> None:
    earlier_in_utc = at("2026-03-04 10:00").astimezone(UTC)
    later_local = at("2026-03-04 10:01")
    assert order_key(K.ABANDONED, "regular", earlier_in_utc, 9) < order_key(K.ABANDONED, "regular", later_local, 1)

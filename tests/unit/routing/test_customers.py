"""A customer's validation and the import plan: which row creates, which updates, which is refused."""

from __future__ import annotations

import pytest

from hotline.routing.customers import (
    Area,
    CustomerData,
    CustomerDraft,
    ImportRow,
    InvalidCustomer,
    Known,
    Owner,
    PhoneNumber,
    RowProblem,
    Tier,
    conflicts,
    parse_area,
    parse_tier,
    plan_import,
    validate,
)


def draft(**changes: object) -> CustomerDraft:
    fields: dict[str, object] = {"name": "巴中市人民医院", "tier": "key_account", "area": "urban", "numbers": [PhoneNumber("0827-5551234")]}
    return CustomerDraft(**(fields | changes))  # type: ignore[arg-type]


def data(name: str, *numbers: str, ref: str | None = None) -> CustomerData:
    return validate(draft(name=name, numbers=[PhoneNumber(n) for n in numbers], external_ref=ref), default_area_code="0827")


@pytest.mark.parametrize(
    "word, tier",
    [("vip", Tier.VIP), ("VIP", Tier.VIP), ("贵宾", Tier.VIP), ("key account", Tier.KEY_ACCOUNT), ("大客户", Tier.KEY_ACCOUNT),
     ("集团大客户", Tier.KEY_ACCOUNT), ("专网", Tier.PRIVATE_NETWORK), ("private-network", Tier.PRIVATE_NETWORK), ("普通", Tier.REGULAR)],
)
def test_tiers_are_read_in_english_and_in_the_standards_words(word: str, tier: Tier) -> None:
    assert parse_tier(word) == tier


@pytest.mark.parametrize("word, area", [("urban", Area.URBAN), ("城网", Area.URBAN), ("城郊", Area.SUBURBAN), ("Rural", Area.RURAL), ("农网", Area.RURAL)])
def test_areas_are_read_in_english_and_in_the_standards_words(word: str, area: Area) -> None:
    assert parse_area(word) == area


def test_a_valid_draft_becomes_canonical() -> None:
    given = draft(name="  张三  ", tier="贵宾", area="农网", numbers=[PhoneNumber("139 1234 5678", "手机"), PhoneNumber("5551234")], external_ref=" A-1 ")
    assert validate(given, default_area_code="0827") == CustomerData(
        "张三", Tier.VIP, Area.RURAL, (PhoneNumber("+8613912345678", "手机"), PhoneNumber("+868275551234")), external_ref="A-1"
    )


def test_the_same_number_written_twice_is_one_number() -> None:
    valid = validate(draft(numbers=[PhoneNumber("0827-5551234"), PhoneNumber("+86 827 555 1234", "总机")]), default_area_code="0827")
    assert valid.numbers == (PhoneNumber("+868275551234", "总机"),)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(InvalidCustomer) as refused:
        validate(draft(name=" ", tier="gold", area="moon", numbers=[PhoneNumber("abc")], external_ref="x" * 65), default_area_code="0827")
    problems = refused.value.problems
    assert len(problems) == 5
    assert problems[0] == "the name is missing"
    assert problems[1].startswith("tier 'gold' is not one of: vip, key_account, private_network, regular")
    assert problems[2].startswith("area 'moon' is not one of: urban, suburban, rural")
    assert "'abc' is not a phone number" in problems[3]
    assert "external_ref" in problems[4]
    assert refused.value.error_id == "bad_request"


def test_a_customer_needs_a_number_and_a_name_without_line_breaks() -> None:
    with pytest.raises(InvalidCustomer, match="at least one phone number"):
        validate(draft(numbers=[]), default_area_code="0827")
    with pytest.raises(InvalidCustomer, match="no line breaks"):
        validate(draft(name="张三\r\nHangup"), default_area_code="0827")


HOSPITAL = Owner(1, "巴中市人民医院", "H-1")
SCHOOL = Owner(2, "巴中中学", None)
KNOWN = Known(
    refs={"H-1": HOSPITAL},
    owners={"+868275551234": HOSPITAL, "+868275550000": SCHOOL, "+8613900000000": SCHOOL},
    managers={"王经理": 7},
)


def test_a_row_updates_the_customer_its_ref_names() -> None:
    plan = plan_import([ImportRow(2, data("医院", "0827 555 1234", "13912345678", ref="H-1"), "王经理")], KNOWN)
    assert plan.problems == [] and plan.creates == []
    [(customer_id, updated)] = plan.updates
    assert (customer_id, updated.name, updated.account_manager_id) == (1, "医院", 7)


def test_a_row_without_ref_updates_the_owner_of_its_number_and_keeps_its_ref() -> None:
    plan = plan_import([ImportRow(2, data("医院", "0827 555 1234"))], KNOWN)
    assert [(i, d.external_ref) for i, d in plan.updates] == [(1, "H-1")]


def test_a_row_with_new_numbers_and_a_new_ref_creates_a_customer() -> None:
    plan = plan_import([ImportRow(2, data("李四", "13812345678", ref="L-4"))], KNOWN)
    assert [d.name for d in plan.creates] == ["李四"] and plan.updates == [] and plan.problems == []


def test_rows_that_cannot_be_placed_cleanly_are_refused_with_reasons() -> None:
    rows = [
        ImportRow(2, data("医院", "0827 555 0000", ref="H-1")),  # the school's number on the hospital
        ImportRow(3, data("两家", "0827 555 1234", "0827 555 0000")),  # numbers of two customers
        ImportRow(4, data("新", "13812345678"), "nobody"),
        ImportRow(5, data("别家", "0827 555 1234", ref="OTHER")),  # the hospital's number, another ref
    ]
    problems = plan_import(rows, KNOWN).problems
    assert [str(p) for p in problems] == [
        "line 2: number 0827 555 0000 belongs to customer #2 巴中中学",
        "line 3: number 0827 555 1234 belongs to customer #1 巴中市人民医院",
        "line 3: number 0827 555 0000 belongs to customer #2 巴中中学",
        "line 4: unknown account manager 'nobody' (give a user's name)",
        "line 5: number 0827 555 1234 belongs to customer #1 巴中市人民医院",
    ]


def test_a_file_cannot_give_a_number_ref_or_customer_twice() -> None:
    rows = [
        ImportRow(2, data("甲", "13812345678", ref="A")),
        ImportRow(3, data("乙", "138 1234 5678")),
        ImportRow(4, data("丙", "13712345678", ref="A")),
        ImportRow(5, data("医院", "0827 555 1234")),
        ImportRow(6, data("医院又", "13612345678", ref="H-1")),
    ]
    plan = plan_import(rows, KNOWN)
    assert plan.problems == [
        RowProblem(3, "number 138 1234 5678 is also on line 2"),
        RowProblem(4, "external_ref 'A' is also on line 2"),
        RowProblem(6, "updates the same customer #1 巴中市人民医院 as line 5"),
    ]
    assert [d.name for d in plan.creates] == ["甲"] and [i for i, _ in plan.updates] == [1]


def test_conflicts_name_the_owner_and_ignore_the_customer_itself() -> None:
    hospital = data("医院", "0827 555 1234", "0827 555 0000", ref="H-1")
    assert conflicts(hospital, 1, KNOWN) == ["number 0827 555 0000 belongs to customer #2 巴中中学"]
    assert conflicts(hospital, None, KNOWN) == [
        "external_ref 'H-1' belongs to customer #1 巴中市人民医院",
        "number 0827 555 1234 belongs to customer #1 巴中市人民医院",
        "number 0827 555 0000 belongs to customer #2 巴中中学",
    ]

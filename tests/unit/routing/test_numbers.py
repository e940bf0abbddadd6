"""Phone numbers: every way people and PBXes write one number gives one canonical form."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hotline.routing.numbers import BadNumber, for_display, is_withheld, normalise

MOBILE = "+8613912345678"
BAZHONG = "+868275551234"

SAME_NUMBER = [
    ("13912345678", MOBILE),
    ("139 1234 5678", MOBILE),
    ("139-1234-5678", MOBILE),
    ("139.1234.5678", MOBILE),
    ("+86 139 1234 5678", MOBILE),
    ("+8613912345678", MOBILE),
    ("008613912345678", MOBILE),
    ("8613912345678", MOBILE),
    ("＋８６ １３９１２３４５６７８", MOBILE),  # full-width, as a Chinese keyboard types it
    ("08275551234", BAZHONG),
    ("0827-5551234", BAZHONG),
    ("(0827) 555 1234", BAZHONG),
    ("（0827）5551234", BAZHONG),
    ("+86 827 5551234", BAZHONG),
    ("+86 0827 5551234", BAZHONG),
    ("0086 827 555 1234", BAZHONG),
    ("868275551234", BAZHONG),
    ("5551234", BAZHONG),  # no area code: Bazhong's
    ("555-1234", BAZHONG),
    ("8001", "ext:8001"),
    ("ext:8001", "ext:8001"),
    ("+1 650 253 0000", "+16502530000"),
    ("001 650 253 0000", "+16502530000"),
]


@pytest.mark.parametrize("raw, canonical", SAME_NUMBER)
def test_accepted_spellings_give_the_canonical_form(raw: str, canonical: str) -> None:
    assert normalise(raw) == canonical


def test_a_local_number_takes_the_configured_area_code() -> None:
    assert normalise("28123456", default_area_code="028") == "+862828123456"
    assert normalise("28123456", default_area_code="28") == "+862828123456"


def test_a_bad_default_area_code_is_refused() -> None:
    with pytest.raises(ValueError, match="area code"):
        normalise("5551234", default_area_code="area")


JUNK = [
    ("", "empty"),
    ("   ", "empty"),
    ("+", "empty"),
    ("abc", "contains"),
    ("1391234567x", "contains 'x'"),
    ("139*1234", "contains '*'"),
    ("12", "too short"),
    ("0123", "extension"),
    ("555123", "6 digits"),
    ("12012345678", "not a valid number in China"),
    ("28123456", "not a valid local number for area code 0827"),
    ("+99 123 4567", "unknown country code"),
    ("++8613912345678", "+ is allowed only at the start"),
    ("139+12345678", "+ is allowed only at the start"),
    ("123456789012345678", "too long"),
    ("ext:12", "extension"),
]


@pytest.mark.parametrize("raw, reason", JUNK)
def test_junk_is_refused_with_its_reason(raw: str, reason: str) -> None:
    with pytest.raises(BadNumber) as refused:
        normalise(raw)
    assert reason in refused.value.reason
    assert refused.value.error_id == "bad_number"
    assert refused.value.details == {"number": raw, "reason": refused.value.reason}


def test_display_is_the_national_format() -> None:
    assert for_display(MOBILE) == "139 1234 5678"
    assert for_display(BAZHONG) == "0827 555 1234"
    assert for_display("ext:8001") == "8001"
    assert for_display("+16502530000") == "+1 650-253-0000"


@pytest.mark.parametrize("raw", ["", "  ", "unknown", "<unknown>", "Anonymous", "anonymous", "<Anonymous>", "restricted", "Private", None])
def test_withheld_caller_ids_are_recognised(raw: str | None) -> None:
    assert is_withheld(raw)


@pytest.mark.parametrize("raw", ["8001", "13912345678", "+8613912345678", "0", "unknown1"])
def test_numbers_are_not_withheld(raw: str) -> None:
    assert not is_withheld(raw)


# -- properties ------------------------------------------------------------------------

# Prefixes phonenumbers' metadata knows as mobile today (some 14x/16x/17x blocks are not).
_MOBILE_PREFIXES = [*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, *range(180, 190), 198, 199]
# Area code (without its trunk 0) and the length of its local numbers.
_AREAS = [("827", 7), ("816", 7), ("817", 7), ("28", 8), ("10", 8), ("21", 8)]
separators = st.sampled_from(["", " ", "-", ".", "  "])


@st.composite
def mobile_numbers(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A mobile number's digits and its parts (the usual 3-4-4 grouping)."""
    digits = str(draw(st.sampled_from(_MOBILE_PREFIXES))) + draw(st.text("0123456789", min_size=8, max_size=8))
    return digits, [digits[:3], digits[3:7], digits[7:]]


@st.composite
def fixed_lines(draw: st.DrawFn) -> tuple[str, str]:
    area, length = draw(st.sampled_from(_AREAS))
    # Local numbers never start with 0 (trunk prefix) or 1 (mobiles, services).
    local = draw(st.sampled_from("23456789")) + draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    # A few blocks (Beijing's 8000 ...) are unassigned: the property is about real numbers.
    assume(phonenumbers.is_valid_number(phonenumbers.parse(f"+86{area}{local}")))
    return area, local


@st.composite
def written_mobiles(draw: st.DrawFn) -> tuple[str, str]:
    """(how someone wrote a mobile number, its expected canonical form)"""
    digits, parts = draw(mobile_numbers())
    sep = draw(separators)
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "0086", "0086 ", "86", "86 ", "(+86) "]))
    return prefix + sep.join(parts), "+86" + digits


@st.composite
def written_fixed_lines(draw: st.DrawFn) -> tuple[str, str]:
    area, local = draw(fixed_lines())
    sep = draw(separators)
    middle = len(local) // 2
    local_written = draw(st.sampled_from([local, local[:middle] + sep + local[middle:]]))
    forms = [f"0{area}{sep}{local_written}", f"(0{area}) {local_written}", f"+86 {area} {local_written}", f"0086{sep}{area}{sep}{local_written}", f"86{area}{local}"]
    written = draw(st.sampled_from(forms))
    return written, f"+86{area}{local}"


@given(written_mobiles())
def test_a_mobile_written_any_accepted_way_has_one_canonical_form(case: tuple[str, str]) -> None:
    written, canonical = case
    assert normalise(written) == canonical


@given(written_fixed_lines())
def test_a_fixed_line_written_any_accepted_way_has_one_canonical_form(case: tuple[str, str]) -> None:
    written, canonical = case
    assert normalise(written) == canonical


@given(fixed_lines())
def test_a_local_number_is_the_same_as_with_its_own_area_code(case: tuple[str, str]) -> None:
    area, local = case
    assert normalise(local, default_area_code="0" + area) == normalise(f"0{area}-{local}")


@given(st.one_of(written_mobiles(), written_fixed_lines(), st.tuples(st.from_regex(r"[1-9][0-9]{2,4}", fullmatch=True), st.just(""))))
def test_normalise_is_idempotent_and_survives_display(case: tuple[str, str]) -> None:
    canonical = normalise(case[0])
    assert normalise(canonical) == canonical
    assert normalise(for_display(canonical)) == canonical


@given(st.text(min_size=1).filter(lambda s: any(c.isalpha() and c.lower() not in "ext:" for c in s)))
def test_text_with_letters_is_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(BadNumber) as refused:
        normalise(raw)
    assert refused.value.reason


@given(st.text("0123456789", min_size=0, max_size=2))
def test_too_few_digits_are_refused(raw: str) -> None:
    with pytest.raises(BadNumber, match="too short|empty|extension"):
        normalise(raw)


@given(st.text("0123456789", min_size=18, max_size=40), st.sampled_from(["", "+", "00"]))
def test_too_many_digits_are_refused(digits: str, prefix: str) -> None:
    with pytest.raises(BadNumber, match="too long"):
        normalise(prefix + digits)


@given(st.sampled_from(["+0", "+280", "+289", "+999", "+969", "+990"]), st.text("0123456789", min_size=6, max_size=10))
def test_unknown_country_codes_are_refused(prefix: str, digits: str) -> None:
    with pytest.raises(BadNumber, match="country code"):
        normalise(prefix + digits)


@given(st.text("0123456789", min_size=10, max_size=10).map(lambda d: "12" + d[:9]))
def test_eleven_digits_that_are_no_mobile_are_refused(raw: str) -> None:
    with pytest.raises(BadNumber, match="not a valid number in China"):
        normalise(raw)


@given(st.text())
def test_anything_either_normalises_or_says_why(raw: str) -> None:
    try:
        canonical = normalise(raw)
    except BadNumber as refused:
        assert refused.reason
    else:
        assert normalise(canonical) == canonical

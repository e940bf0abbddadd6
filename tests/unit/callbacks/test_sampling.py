"""Sampled follow-ups: fair, reproducible, at least the standard's share, drawn on Fridays."""

import math
from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.callbacks.sampling import (
    SAMPLE_RULES,
    Cadence,
    SampleGroup,
    contacts_span,
    draw_day,
    period,
    ranking,
    sample,
    sample_size,
    seed,
    weeks_drawn_on,
    yearly_draw_day,
)
from hotline.tickets.workdays import WorkCalendar

from .moments import FakeCalendar, day

CHINA = WorkCalendar().is_working_day
POPULATION = list(range(1000, 2000))

# The standard's table, as the standard says it (四.4).
STANDARD = [
    (SampleGroup.BUSINESS, Cadence.WEEKLY, 0.10),
    (SampleGroup.INQUIRY, Cadence.WEEKLY, 0.10),
    (SampleGroup.MARKETING, Cadence.WEEKLY, 0.10),
    (SampleGroup.DIGITAL_TV, Cadence.WEEKLY, 0.20),
    (SampleGroup.OTHER, Cadence.YEARLY, 0.05),
]


@pytest.mark.parametrize("group, cadence, fraction", STANDARD)
def test_the_table_is_the_standards(group: SampleGroup, cadence: Cadence, fraction: float) -> None:
    assert SAMPLE_RULES[group].cadence is cadence
    assert SAMPLE_RULES[group].fraction == fraction


def test_the_same_seed_draws_the_same_people_whatever_the_input_order() -> None:
    first = sample(POPULATION, 0.1, seed="inquiry:2026-W48")
    shuffled = POPULATION[::-1] + POPULATION[:10]  # reversed, with duplicates
    assert sample(shuffled, 0.1, seed="inquiry:2026-W48") == first
    assert len(first) == 100 and len(set(first)) == 100
    assert set(first) <= set(POPULATION)


def test_another_period_or_group_draws_other_people() -> None:
    this_week = set(sample(POPULATION, 0.1, seed="inquiry:2026-W48"))
    next_week = set(sample(POPULATION, 0.1, seed="inquiry:2026-W49"))
    other_group = set(sample(POPULATION, 0.1, seed="business:2026-W48"))
    # Independent 10 % draws of 1000 share about 10 people; far from all 100.
    assert len(this_week & next_week) < 40
    assert len(this_week & other_group) < 40


def test_the_sample_is_not_the_lowest_ids() -> None:
    drawn = sample(POPULATION, 0.1, seed="inquiry:2026-W48")
    assert drawn != sorted(drawn) or min(drawn) > 1100
    assert sorted(drawn) != POPULATION[:100]


def test_empty_in_empty_out() -> None:
    assert sample([], 0.2, seed="digital_tv:2026-W48") == []


def test_the_fraction_ends() -> None:
    assert sample(POPULATION[:7], 0.0, seed="s") == []
    assert sorted(sample(POPULATION[:7], 1.0, seed="s")) == POPULATION[:7]
    with pytest.raises(ValueError, match="between 0 and 1"):
        sample(POPULATION, 1.5, seed="s")
    with pytest.raises(ValueError):
        sample(POPULATION, -0.1, seed="s")


@pytest.mark.parametrize("fraction", sorted({rule.fraction for rule in SAMPLE_RULES.values()}))
def test_every_size_from_1_to_200_gets_at_least_the_fraction_and_no_more_than_needed(fraction: float) -> None:
    for n in range(1, 201):
        taken = len(sample(range(n), fraction, seed=f"size:{n}"))
        assert taken / n >= fraction, (n, taken)
        assert (taken - 1) / n < fraction, (n, taken)  # one fewer would fall short


def test_float_error_does_not_add_a_person() -> None:
    assert 0.07 * 100 > 7  # the trap: a configured 7 % would take 8 of 100
    assert sample_size(100, 0.07) == 7
    assert sample_size(30, 0.1) == 3
    assert sample_size(10, 0.2) == 2
    assert sample_size(1, 0.05) == 1  # a single contact is always followed up


def test_every_candidate_is_drawn_about_equally_often_over_many_periods() -> None:
    # 2000 fixed weekly seeds, 50 candidates, 10 % (5 each time): each is expected 200 times
    # with a standard deviation of about 13.4; the bounds are 4.5 of those either side.
    candidates = list(range(50))
    counts = Counter(
        person
        for week in range(2000)
        for person in sample(candidates, 0.1, seed=f"inquiry:week-{week}")
    )
    assert sum(counts.values()) == 2000 * 5
    assert set(counts) == set(candidates)
    assert all(140 <= counts[person] <= 260 for person in candidates), counts
    chi_square = sum((counts[p] - 200) ** 2 / 200 for p in candidates)
    assert chi_square < 100  # 49 degrees of freedom: mean 49, this is p < 1e-4


def test_the_first_place_is_not_biased_to_small_or_large_ids() -> None:
    firsts = [ranking(range(10), seed=f"any:{n}")[0] for n in range(1000)]
    counts = Counter(firsts)
    assert all(60 <= counts[i] <= 140 for i in range(10)), counts  # expected 100, sd ~9.5


@given(
    st.lists(st.integers(min_value=0, max_value=10**9), max_size=300),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
    st.text(max_size=20),
)
def test_a_bigger_fraction_only_adds_to_the_sample(
    candidates: list[int], small: float, big: float, key: str
) -> None:
    small, big = sorted((small, big))
    fewer = sample(candidates, small, seed=key)
    more = sample(candidates, big, seed=key)
    assert more[: len(fewer)] == fewer
    assert len(more) == sample_size(len(set(candidates)), big)
    assert len(set(more)) == len(more) and set(more) <= set(candidates)


SEEDS = [
    (SampleGroup.INQUIRY, "2026-W48", None, "inquiry:2026-W48"),
    (SampleGroup.DIGITAL_TV, "2026-W01", None, "digital_tv:2026-W01"),
    (SampleGroup.OTHER, "2026", "regular", "other.regular:2026"),
]


@pytest.mark.parametrize("group, label, customer_type, expected", SEEDS)
def test_seeds_name_the_group_and_the_period(group: SampleGroup, label: str, customer_type: str | None, expected: str) -> None:
    assert seed(group, label, customer_type=customer_type) == expected


def test_seeds_refuse_the_wrong_kind_of_period_or_type() -> None:
    with pytest.raises(ValueError, match="weekly period"):
        seed(SampleGroup.INQUIRY, "2026")
    with pytest.raises(ValueError, match="yearly period"):
        seed(SampleGroup.OTHER, "2026-W48", customer_type="regular")
    with pytest.raises(ValueError, match="per customer type"):
        seed(SampleGroup.OTHER, "2026")
    with pytest.raises(ValueError, match="not drawn per customer type"):
        seed(SampleGroup.INQUIRY, "2026-W48", customer_type="vip")


@pytest.mark.parametrize(
    "when, cadence, label",
    [
        ("2026-11-27", Cadence.WEEKLY, "2026-W48"),
        ("2025-12-29", Cadence.WEEKLY, "2026-W01"),  # ISO week-year, not the calendar year
        ("2027-01-01", Cadence.WEEKLY, "2026-W53"),
        ("2027-01-01", Cadence.YEARLY, "2027"),
    ],
)
def test_periods(when: str, cadence: Cadence, label: str) -> None:
    assert period(day(when), cadence) == label


DRAWS = [
    pytest.param("2026-W48", "2026-11-27", id="an ordinary Friday"),
    pytest.param("2026-W40", "2026-09-30", id="National Day Friday: the Wednesday before"),
    pytest.param("2026-W08", "2026-02-14", id="Spring Festival week: the worked Saturday before"),
]


@pytest.mark.parametrize("week, expected", DRAWS)
def test_the_weekly_sample_is_drawn_on_friday_or_the_working_day_before(week: str, expected: str) -> None:
    assert draw_day(week, CHINA) == day(expected)


def test_a_fake_holiday_friday_moves_the_draw_to_thursday() -> None:
    calendar = FakeCalendar.of(off=["2026-11-27"])
    assert draw_day("2026-W48", calendar.is_working_day) == day("2026-11-26")
    assert weeks_drawn_on(day("2026-11-26"), calendar.is_working_day) == ["2026-W48"]
    assert weeks_drawn_on(day("2026-11-27"), calendar.is_working_day) == []


def test_which_weeks_are_drawn_on_a_day() -> None:
    assert weeks_drawn_on(day("2026-11-27"), CHINA) == ["2026-W48"]
    assert weeks_drawn_on(day("2026-11-25"), CHINA) == []
    assert weeks_drawn_on(day("2026-02-13"), CHINA) == ["2026-W07"]
    assert weeks_drawn_on(day("2026-02-14"), CHINA) == ["2026-W08"]
    assert weeks_drawn_on(day("2026-02-20"), CHINA) == []  # a holiday Friday draws nothing


def test_every_contact_day_belongs_to_exactly_one_weekly_sample() -> None:
    weeks = sorted({period(day("2025-01-06") + timedelta(days=n), Cadence.WEEKLY) for n in range(0, 2 * 364, 7)})
    spans = [contacts_span(week, CHINA) for week in weeks]
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end == start
    assert all(start <= end for start, end in spans)
    # A contact on a Friday is in the next week's sample: the draw is at the day's start.
    assert contacts_span("2026-W48", CHINA) == (day("2026-11-20"), day("2026-11-27"))


def test_the_yearly_draw_is_on_the_years_first_working_day() -> None:
    assert yearly_draw_day(2026, CHINA) == day("2026-01-04")  # Sunday 1.4 is worked
    assert yearly_draw_day(2025, CHINA) == day("2025-01-02")
    assert yearly_draw_day(2026, FakeCalendar().is_working_day) == date(2026, 1, 1)


def test_sizes_round_up() -> None:
    assert all(sample_size(n, 0.05) == math.ceil(n / 20) for n in range(0, 500))

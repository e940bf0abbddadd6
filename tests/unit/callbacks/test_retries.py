"""Retries after busy or no answer: spaced by outcome, at most max_attempts, then give up."""

from datetime import UTC, time, timedelta

import pytest

from hotline.callbacks.model import Outcome
from hotline.callbacks.policy import (
    DEFAULT_RETRY,
    CallingWindow,
    RetryPolicy,
    next_attempt,
    retry_at,
)
from hotline.tickets.workdays import LOCAL_ZONE

from .moments import FakeCalendar, at

POLICY = RetryPolicy(
    max_attempts=3,
    spacing={Outcome.BUSY: timedelta(minutes=10), Outcome.NO_ANSWER: timedelta(minutes=30)},
)
ENDED = at("2026-03-04 10:00")


@pytest.mark.parametrize(
    "outcome, expected",
    [(Outcome.BUSY, "2026-03-04 10:10"), (Outcome.NO_ANSWER, "2026-03-04 10:30")],
)
def test_the_spacing_follows_the_outcome(outcome: Outcome, expected: str) -> None:
    assert next_attempt(POLICY, 1, outcome, ENDED) == at(expected)


def test_retries_stop_at_max_attempts() -> None:
    assert next_attempt(POLICY, 2, Outcome.BUSY, ENDED) == at("2026-03-04 10:10")
    assert next_attempt(POLICY, 3, Outcome.BUSY, ENDED) is None
    assert next_attempt(POLICY, 4, Outcome.NO_ANSWER, ENDED) is None


def test_a_whole_run_of_busy_makes_exactly_max_attempts_calls() -> None:
    calls, moment = 0, ENDED
    while True:
        calls += 1
        following = next_attempt(POLICY, calls, Outcome.BUSY, moment)
        if following is None:
            break
        assert following - moment == timedelta(minutes=10)
        moment = following
    assert calls == POLICY.max_attempts


def test_an_answered_callback_is_never_retried() -> None:
    assert next_attempt(POLICY, 1, Outcome.ANSWERED, ENDED) is None


def test_an_outcome_without_spacing_fails_at_once() -> None:
    assert next_attempt(POLICY, 1, Outcome.CONGESTION, ENDED) is None


def test_the_default_retries_every_unanswered_outcome() -> None:
    for outcome in Outcome:
        following = next_attempt(DEFAULT_RETRY, 1, outcome, ENDED)
        assert (following is None) is (outcome is Outcome.ANSWERED)


def test_the_retry_keeps_the_callers_zone_and_counts_elapsed_time() -> None:
    ended_utc = ENDED.astimezone(UTC)
    following = next_attempt(POLICY, 1, Outcome.BUSY, ended_utc)
    assert following is not None and following.tzinfo is UTC
    assert following == at("2026-03-04 10:10")


def test_a_retry_that_would_ring_at_night_waits_for_the_morning() -> None:
    window = CallingWindow(time(9), time(20), working_days_only=True)
    late = at("2026-03-06 19:45")  # a Friday
    kept = retry_at(POLICY, 1, Outcome.NO_ANSWER, late, window=window, is_working_day=FakeCalendar().is_working_day, tz=LOCAL_ZONE)
    assert kept == at("2026-03-09 09:00")
    early = at("2026-03-06 10:00")
    assert retry_at(POLICY, 1, Outcome.NO_ANSWER, early, window=window, is_working_day=FakeCalendar().is_working_day, tz=LOCAL_ZONE) == at("2026-03-06 10:30")
    assert retry_at(POLICY, 3, Outcome.NO_ANSWER, early, window=window, is_working_day=FakeCalendar().is_working_day, tz=LOCAL_ZONE) is None


@pytest.mark.parametrize(
    "max_attempts, spacing, message",
    [
        (0, {}, "at least 1"),
        (3, {Outcome.ANSWERED: timedelta(minutes=5)}, "answered"),
        (3, {Outcome.BUSY: timedelta(0)}, "positive"),
    ],
)
def test_a_nonsense_policy_is_refused(max_attempts: int, spacing: dict[Outcome, timedelta], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(max_attempts=max_attempts, spacing=spacing)


def test_the_policy_keeps_its_own_copy_of_the_spacing() -> None:
    spacing = {Outcome.BUSY: timedelta(minutes=10)}
    policy = RetryPolicy(max_attempts=3, spacing=spacing)
    spacing[Outcome.BUSY] = timedelta(hours=5)
    assert next_attempt(policy, 1, Outcome.BUSY, ENDED) == at("2026-03-04 10:10")

"""The timer's pure core: when a deadline fires next, what a claimed row fires now (each step
once, in order, late after down-time), and who is told."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.tickets.timers import BREACHED, ESCALATED, WARNED, People, TimerState, next_fire_at, recipients, step

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
EVERY = timedelta(minutes=10)
# A 10-minute deadline warned at 80 %: warn 8 min in, due at 10, escalations at 20 and 30.
PENDING = TimerState(state="pending", warn_at=START + timedelta(minutes=8), due_at=START + timedelta(minutes=10), warned_at=None, breached_at=None, escalation_level=0)


def minutes(n: float) -> datetime:
    return START + timedelta(minutes=n)


def fired(row: TimerState, now: datetime) -> list[tuple[str, int, datetime, float]]:
    return [(f.kind, f.level, f.scheduled_for, f.late_seconds) for f in step(row, now, escalate_every=EVERY).fires]


def test_next_fire_at_walks_warning_breach_and_two_escalations() -> None:
    warned = replace(PENDING, warned_at=minutes(8))
    breached = replace(warned, state="breached", breached_at=minutes(10), escalation_level=1)

    assert PENDING.next_fire_at(EVERY) == minutes(8)
    assert warned.next_fire_at(EVERY) == minutes(10)
    assert breached.next_fire_at(EVERY) == minutes(20)
    assert replace(breached, escalation_level=2).next_fire_at(EVERY) == minutes(30)
    assert replace(breached, escalation_level=3).next_fire_at(EVERY) is None


@pytest.mark.parametrize("state", ["met", "cancelled"])
def test_a_met_or_cancelled_deadline_never_fires(state: str) -> None:
    row = replace(PENDING, state=state)

    assert row.next_fire_at(EVERY) is None
    assert fired(row, minutes(600)) == []


def test_a_warning_at_or_after_the_due_time_is_not_planned() -> None:
    assert next_fire_at(state="pending", warn_at=minutes(10), due_at=minutes(10), warned_at=None, breached_at=None, escalation_level=0, escalate_every=EVERY) == minutes(10)


def test_nothing_fires_before_the_warning() -> None:
    firing = step(PENDING, minutes(7.9), escalate_every=EVERY)

    assert firing.fires == () and firing.next_fire_at == minutes(8) and firing.after == PENDING


def test_the_warning_fires_at_80_percent_and_the_breach_is_next() -> None:
    firing = step(PENDING, minutes(8), escalate_every=EVERY)

    assert [(f.kind, f.level, f.late_seconds) for f in firing.fires] == [(WARNED, 0, 0.0)]
    assert firing.after.warned_at == minutes(8) and firing.after.state == "pending"
    assert firing.next_fire_at == minutes(10)


def test_the_breach_records_when_it_became_overdue_and_goes_to_level_1() -> None:
    warned = replace(PENDING, warned_at=minutes(8))

    firing = step(warned, minutes(10.5), escalate_every=EVERY)

    assert fired(warned, minutes(10.5)) == [(BREACHED, 1, minutes(10), 30.0)]
    assert firing.after.state == "breached" and firing.after.breached_at == minutes(10)
    assert firing.after.escalation_level == 1 and firing.next_fire_at == minutes(20)


def test_escalations_go_to_level_2_then_3_then_stop() -> None:
    breached = replace(PENDING, warned_at=minutes(8), state="breached", breached_at=minutes(10), escalation_level=1)

    second = step(breached, minutes(20), escalate_every=EVERY)
    third = step(second.after, minutes(30), escalate_every=EVERY)

    assert [(f.kind, f.level) for f in second.fires] == [(ESCALATED, 2)] and second.next_fire_at == minutes(30)
    assert [(f.kind, f.level) for f in third.fires] == [(ESCALATED, 3)] and third.next_fire_at is None
    assert step(third.after, minutes(900), escalate_every=EVERY).fires == ()


def test_after_down_time_every_step_due_fires_once_in_order_marked_late() -> None:
    # Down from before the warning until 3 h later: the warning is moot, the rest fire.
    assert fired(PENDING, minutes(180)) == [
        (BREACHED, 1, minutes(10), 170 * 60.0),
        (ESCALATED, 2, minutes(20), 160 * 60.0),
        (ESCALATED, 3, minutes(30), 150 * 60.0),
    ]
    assert step(PENDING, minutes(180), escalate_every=EVERY).next_fire_at is None


def test_after_a_short_down_time_only_the_steps_due_fire() -> None:
    firing = step(PENDING, minutes(15), escalate_every=EVERY)

    assert [(f.kind, f.level, f.late_seconds) for f in firing.fires] == [(BREACHED, 1, 300.0)]
    assert firing.next_fire_at == minutes(20)


def test_a_step_repeated_on_its_own_result_fires_nothing_more() -> None:
    once = step(PENDING, minutes(25), escalate_every=EVERY)

    again = step(once.after, minutes(25), escalate_every=EVERY)

    assert len(once.fires) == 2 and again.fires == () and again.next_fire_at == once.next_fire_at


def test_an_extended_deadline_fires_against_its_new_times() -> None:
    warned = replace(PENDING, warned_at=minutes(8))
    extended = replace(warned, warn_at=minutes(50), due_at=minutes(60), warned_at=None)

    assert step(extended, minutes(10), escalate_every=EVERY).fires == ()
    assert fired(extended, minutes(50)) == [(WARNED, 0, minutes(50), 0.0)]


PEOPLE = People(owner=7, department_members=(21, 22), head=20, supervisors=(1, 2))


@pytest.mark.parametrize(
    "kind, level, told",
    [
        ("forward", 0, (7,)),
        ("forward", 1, (7,)),
        ("acknowledge", 0, (21, 22)),
        ("acknowledge", 1, (21, 22)),
        ("repair_fix", 2, (20,)),
        ("acknowledge", 2, (20,)),
        ("reply", 3, (1, 2)),
    ],
)
def test_each_level_tells_the_right_people(kind: str, level: int, told: tuple[int, ...]) -> None:
    assert recipients(kind, level, PEOPLE) == told


def test_without_a_department_head_level_2_goes_to_the_supervisors() -> None:
    assert recipients("forward", 2, replace(PEOPLE, head=None)) == (1, 2)


def test_a_firing_with_nobody_responsible_goes_to_the_supervisors() -> None:
    assert recipients("forward", 1, replace(PEOPLE, owner=None)) == (1, 2)
    assert recipients("acknowledge", 0, replace(PEOPLE, department_members=())) == (1, 2)


@given(st.lists(st.integers(min_value=0, max_value=60 * 60), min_size=1, max_size=12))
def test_however_the_scans_fall_each_step_fires_at_most_once_in_order(seconds: list[int]) -> None:
    row, fires = PENDING, []
    for now in sorted(START + timedelta(seconds=s) for s in seconds):
        firing = step(row, now, escalate_every=EVERY)
        fires += firing.fires
        row = firing.after
        assert firing.next_fire_at is None or firing.next_fire_at > now
    last = max(START + timedelta(seconds=s) for s in seconds)
    levels = [f.level for f in fires]
    assert levels == sorted(set(levels))
    # The breach and escalations due by the last scan all fired; the warning only if a
    # scan fell between it and the due time.
    due = [level for level, moment in ((1, minutes(10)), (2, minutes(20)), (3, minutes(30))) if moment <= last]
    assert [level for level in levels if level > 0] == due

"""The scheduler fires a deadline's steps at the right moments, to the right people, once,
on SQLite and PostgreSQL: warning at 80 %, breach at due, escalations every 10 minutes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.clock import FakeClock
from hotline.events import EventBus
from hotline.tickets.events import DeadlineBreached, DeadlineWarned
from hotline.tickets.scheduler import DeadlineScheduler
from hotline.tickets.tables import deadlines
from tests.integration.scheduler.rows import EVERY, START, People, add_people, deadline, firings, minutes, ticket_with_deadline


@pytest.fixture
async def people(engine: AsyncEngine) -> People:
    return await add_people(engine)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def heard() -> list[Any]:
    return []


@pytest.fixture
def scheduler(engine: AsyncEngine, clock: FakeClock, heard: list[Any]) -> DeadlineScheduler:
    bus = EventBus()

    async def hear(event: Any) -> None:
        heard.append(event)

    bus.subscribe(DeadlineWarned, hear)
    bus.subscribe(DeadlineBreached, hear)
    return DeadlineScheduler(engine, bus, clock, escalate_every=EVERY)


async def fire_at(scheduler: DeadlineScheduler, clock: FakeClock, at_minute: float) -> int:
    clock.set(minutes(at_minute))
    return await scheduler.run_once()


async def test_the_warning_fires_at_80_percent_to_the_owner(engine: AsyncEngine, people: People, scheduler: DeadlineScheduler, clock: FakeClock, heard: list[Any]) -> None:
    deadline_id = await ticket_with_deadline(engine, people)

    assert await fire_at(scheduler, clock, 7.99) == 0
    assert await fire_at(scheduler, clock, 8) == 1

    [(fired_id, kind, data)] = await firings(engine)
    assert (fired_id, kind, data["level"], data["notify_user_ids"], data["late_seconds"], data["late"]) == (deadline_id, "deadline_warned", 0, [people.owner], 0, False)
    assert heard == [DeadlineWarned(ticket_id=heard[0].ticket_id, number="T-1", at=minutes(8), deadline="repair_fix", due_at=minutes(10), notify_user_ids=(people.owner,), late_seconds=0.0)]
    row = await deadline(engine, deadline_id)
    assert (row.state, row.version) == ("pending", 1)


async def test_the_breach_fires_at_the_due_time_to_the_owner(engine: AsyncEngine, people: People, scheduler: DeadlineScheduler, clock: FakeClock, heard: list[Any]) -> None:
    deadline_id = await ticket_with_deadline(engine, people, warned_at=minutes(8))

    assert await fire_at(scheduler, clock, 9.99) == 0
    assert await fire_at(scheduler, clock, 10) == 1

    [(_, kind, data)] = await firings(engine)
    assert (kind, data["level"], data["notify_user_ids"], data["scheduled_for"]) == ("deadline_breached", 1, [people.owner], minutes(10).isoformat())
    assert [(type(e), e.level) for e in heard] == [(DeadlineBreached, 1)]
    row = await deadline(engine, deadline_id)
    assert row.state == "breached" and row.escalation_level == 1


async def test_escalations_reach_the_department_head_then_every_supervisor(engine: AsyncEngine, people: People, scheduler: DeadlineScheduler, clock: FakeClock) -> None:
    await ticket_with_deadline(engine, people, department=people.department, warned_at=minutes(8))

    fired = [await fire_at(scheduler, clock, m) for m in (10, 19.99, 20, 29.99, 30, 600)]

    assert fired == [1, 0, 1, 0, 1, 0]
    assert [(kind, d["level"], d["notify_user_ids"]) for _, kind, d in await firings(engine)] == [
        ("deadline_breached", 1, [people.owner]),
        ("deadline_escalated", 2, [people.head]),
        ("deadline_escalated", 3, list(people.supervisors)),
    ]


async def test_without_a_department_head_level_2_goes_to_the_supervisors(engine: AsyncEngine, people: People, scheduler: DeadlineScheduler, clock: FakeClock) -> None:
    await ticket_with_deadline(engine, people, department=people.headless_department, state="breached", warned_at=minutes(8), breached_at=minutes(10), escalation_level=1)

    assert await fire_at(scheduler, clock, 20) == 1

    [(_, _, data)] = await firings(engine)
    assert data["notify_user_ids"] == list(people.supervisors)


async def test_the_acknowledge_deadline_warns_the_department_members(engine: AsyncEngine, people: People, scheduler: DeadlineScheduler, clock: FakeClock) -> None:
    await ticket_with_deadline(engine, people, "acknowledge", department=people.department, due=5)

    assert await fire_at(scheduler, clock, 4) == 1

    [(_, _, data)] = await firings(engine)
    assert data["notify_user_ids"] == list(people.members)


@pytest.mark.parametrize("state", ["met", "cancelled"])
async def test_met_and_cancelled_deadlines_never_fire(engine: AsyncEngine, people: People, scheduler: DeadlineScheduler, clock: FakeClock, state: str) -> None:
    deadline_id = await ticket_with_deadline(engine, people)
    async with engine.begin() as conn:  # as the service meets or cancels it
        await conn.execute(update(deadlines).where(deadlines.c.id == deadline_id).values(state=state, met_at=minutes(5), next_fire_at=None, version=deadlines.c.version + 1))

    assert [await fire_at(scheduler, clock, m) for m in (8, 10, 20, 30, 600)] == [0, 0, 0, 0, 0]
    assert await firings(engine) == []


async def test_an_extended_deadline_fires_against_its_new_times(engine: AsyncEngine, people: People, scheduler: DeadlineScheduler, clock: FakeClock) -> None:
    deadline_id = await ticket_with_deadline(engine, people)
    assert await fire_at(scheduler, clock, 8) == 1
    async with engine.begin() as conn:  # an approved extension to 60 min, as the service moves it
        moved = (
            update(deadlines)
            .where(deadlines.c.id == deadline_id, deadlines.c.version == 1)
            .values(warn_at=minutes(50), due_at=minutes(60), warned_at=None, next_fire_at=minutes(50), version=2)
        )
        assert (await conn.execute(moved)).rowcount == 1

    fired = [await fire_at(scheduler, clock, m) for m in (10, 20, 49.99, 50, 60, 70)]

    assert fired == [0, 0, 0, 1, 1, 1]
    assert [(kind, d["scheduled_for"]) for _, kind, d in await firings(engine)] == [
        ("deadline_warned", minutes(8).isoformat()),
        ("deadline_warned", minutes(50).isoformat()),
        ("deadline_breached", minutes(60).isoformat()),
        ("deadline_escalated", minutes(70).isoformat()),
    ]


async def test_after_three_hours_down_the_breach_and_escalations_fire_once_each_late_in_order(engine: AsyncEngine, people: People, scheduler: DeadlineScheduler, clock: FakeClock, heard: list[Any]) -> None:
    deadline_id = await ticket_with_deadline(engine, people, department=people.department)
    clock.advance(timedelta(hours=3))

    assert await scheduler.run_once() == 3
    assert await scheduler.run_once() == 0

    recorded = [(kind, d["level"], d["late_seconds"], d["late"]) for _, kind, d in await firings(engine)]
    assert recorded == [
        ("deadline_breached", 1, 170 * 60, True),
        ("deadline_escalated", 2, 160 * 60, True),
        ("deadline_escalated", 3, 150 * 60, True),
    ]
    assert [(type(e), getattr(e, "level", 0), e.late_seconds) for e in heard] == [(DeadlineBreached, 1, 10200.0), (DeadlineBreached, 2, 9600.0), (DeadlineBreached, 3, 9000.0)]
    row = await deadline(engine, deadline_id)
    assert (row.state, row.escalation_level, row.next_fire_at, row.warned_at) == ("breached", 3, None, None)


async def test_more_due_rows_than_a_batch_all_fire_in_one_run(engine: AsyncEngine, people: People, clock: FakeClock) -> None:
    scheduler = DeadlineScheduler(engine, EventBus(), clock, escalate_every=EVERY, batch=7)
    for n in range(30):
        await ticket_with_deadline(engine, people, number=f"T-{n}")

    assert await fire_at(scheduler, clock, 8) == 30
    assert len({deadline_id for deadline_id, _, _ in await firings(engine)}) == 30

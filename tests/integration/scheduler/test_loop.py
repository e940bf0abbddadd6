"""The scan loop: sleeps until the next deadline, wakes on notify() or a poll, retries after
a database fault, and stops promptly. The clock is a FakeClock: nothing waits for real."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.clock import FakeClock
from hotline.events import EventBus
from hotline.metrics import Metrics
from hotline.tickets.events import DeadlineBreached, DeadlineWarned
from hotline.tickets.scheduler import DeadlineScheduler
from hotline.tickets.tables import deadlines
from tests.integration.scheduler.rows import EVERY, START, People, add_people, minutes, ticket_with_deadline
from tests.integration.scheduler.test_exactly_once import refuse_timeline_writes

POLL = timedelta(seconds=1)


@dataclass
class Running:
    scheduler: DeadlineScheduler
    clock: FakeClock
    stop: asyncio.Event
    task: asyncio.Task[None]
    heard: list[Any]
    people: People
    metrics: Metrics

    async def napping(self) -> None:
        """Until the loop sleeps on the clock: it has scanned and found nothing more due."""
        await until(lambda: self.clock.sleeping > 0)

    async def heard_kinds(self, count: int) -> list[str]:
        await until(lambda: len(self.heard) >= count)
        return [f"{type(e).__name__}:{getattr(e, 'level', 0)}" for e in self.heard]


async def until(condition: Callable[[], bool], timeout: float = 3) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.fixture
async def running(engine: AsyncEngine) -> AsyncIterator[Running]:
    people = await add_people(engine)
    clock, stop, heard, bus, metrics = FakeClock(START), asyncio.Event(), [], EventBus(), Metrics()

    async def hear(event: Any) -> None:
        heard.append(event)

    bus.subscribe(DeadlineWarned, hear)
    bus.subscribe(DeadlineBreached, hear)
    scheduler = DeadlineScheduler(engine, bus, clock, escalate_every=EVERY, poll_interval=POLL, metrics=metrics)
    task = asyncio.create_task(scheduler.run(stop), name="deadlines")
    yield Running(scheduler, clock, stop, task, heard, people, metrics)
    stop.set()
    await asyncio.wait_for(task, timeout=5)


async def test_the_loop_fires_each_step_as_the_clock_reaches_it(engine: AsyncEngine, running: Running) -> None:
    await ticket_with_deadline(engine, running.people, department=running.people.department)
    running.scheduler.notify()
    await running.napping()
    for minute, expected in [(8, ["DeadlineWarned:0"]), (10, ["DeadlineBreached:1"]), (20, ["DeadlineBreached:2"]), (30, ["DeadlineBreached:3"])]:
        before = len(running.heard)
        running.clock.set(minutes(minute - 0.01))
        await asyncio.sleep(0.05)
        assert len(running.heard) == before  # not a moment early
        running.clock.set(minutes(minute))
        assert (await running.heard_kinds(before + 1))[before:] == expected
    assert all(e.late_seconds == 0 for e in running.heard)


async def test_notify_wakes_the_loop_for_a_deadline_due_sooner(engine: AsyncEngine, running: Running) -> None:
    await running.napping()  # nothing to do: it naps one poll, on the clock that stands still
    await ticket_with_deadline(engine, running.people, due=0)  # due now

    running.scheduler.notify()

    assert await running.heard_kinds(1) == ["DeadlineBreached:1"]


async def test_without_notify_the_poll_finds_a_new_deadline(engine: AsyncEngine, running: Running) -> None:
    await running.napping()
    await ticket_with_deadline(engine, running.people, due=0)
    await asyncio.sleep(0.1)
    assert running.heard == []

    running.clock.advance(POLL)

    assert await running.heard_kinds(1) == ["DeadlineBreached:1"]


async def test_a_deadline_moved_sooner_fires_at_its_new_time(engine: AsyncEngine, running: Running) -> None:
    deadline_id = await ticket_with_deadline(engine, running.people, due=600)
    running.scheduler.notify()
    await running.napping()
    async with engine.begin() as conn:  # the service corrects the ticket: the limit is shorter
        await conn.execute(update(deadlines).where(deadlines.c.id == deadline_id).values(warn_at=minutes(0.5), due_at=minutes(1), next_fire_at=minutes(0.5), version=deadlines.c.version + 1))
    running.scheduler.notify()
    await running.napping()

    running.clock.set(minutes(0.5))

    assert await running.heard_kinds(1) == ["DeadlineWarned:0"]


async def test_the_loop_stops_promptly_on_stop(running: Running) -> None:
    await running.napping()

    running.stop.set()

    await asyncio.wait_for(running.task, timeout=0.5)


async def test_a_database_fault_is_retried_after_a_poll_and_fires_once(engine: AsyncEngine, running: Running) -> None:
    await running.napping()
    await refuse_timeline_writes(engine, True)
    await ticket_with_deadline(engine, running.people, due=0)
    running.scheduler.notify()
    await until(lambda: running.metrics.counters.get("hotline_deadline_claim_errors_total", 0) >= 1)
    await running.napping()
    await refuse_timeline_writes(engine, False)

    running.clock.advance(POLL)

    assert await running.heard_kinds(1) == ["DeadlineBreached:1"]
    assert not running.task.done()

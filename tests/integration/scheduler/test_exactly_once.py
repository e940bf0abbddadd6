"""Exactly once: a failure before commit fires nothing and the next run fires it; a restart
after commit fires nothing again; two schedulers racing over the same rows fire each step
once (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the claim takes the one write lock)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.clock import FakeClock
from hotline.db.engine import create_engine
from hotline.events import EventBus
from hotline.tickets.events import DeadlineBreached
from hotline.tickets.scheduler import DeadlineScheduler
from hotline.tickets.tables import deadlines
from tests.integration.scheduler.rows import EVERY, START, add_deadline, add_people, add_ticket, count_due, deadline, firings, minutes, ticket_with_deadline

REFUSE = {
    "sqlite": ["CREATE TRIGGER refuse BEFORE INSERT ON ticket_events BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON ticket_events FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


async def refuse_timeline_writes(engine: AsyncEngine, refuse: bool) -> None:
    """A fault inside the claiming transaction, after the deadline row was written."""
    async with engine.begin() as conn:
        if refuse:
            for statement in REFUSE[engine.dialect.name]:
                await conn.execute(text(statement))
        else:
            await conn.execute(text("DROP TRIGGER refuse" + ("" if engine.dialect.name == "sqlite" else " ON ticket_events")))


async def test_a_failure_before_commit_fires_nothing_and_the_next_run_fires_it(engine: AsyncEngine) -> None:
    people = await add_people(engine)
    deadline_id = await ticket_with_deadline(engine, people)
    heard: list[Any] = []
    bus = EventBus()
    bus.subscribe(DeadlineBreached, lambda e: _append(heard, e))
    clock = FakeClock(minutes(60))
    scheduler = DeadlineScheduler(engine, bus, clock, escalate_every=EVERY)
    before = await deadline(engine, deadline_id)
    await refuse_timeline_writes(engine, True)

    with pytest.raises(DBAPIError):
        await scheduler.run_once()

    assert await deadline(engine, deadline_id) == before and await firings(engine) == [] and heard == []
    await refuse_timeline_writes(engine, False)
    assert await scheduler.run_once() == 3
    assert [e.level for e in heard] == [1, 2, 3]


async def test_a_restarted_scheduler_does_not_fire_again(engine: AsyncEngine) -> None:
    people = await add_people(engine)
    await ticket_with_deadline(engine, people)
    clock = FakeClock(minutes(25))
    assert await DeadlineScheduler(engine, EventBus(), clock, escalate_every=EVERY).run_once() == 2

    restarted = DeadlineScheduler(engine, EventBus(), clock, escalate_every=EVERY)

    assert await restarted.run_once() == 0
    clock.set(minutes(30))
    assert await restarted.run_once() == 1
    assert [d["level"] for _, _, d in await firings(engine)] == [1, 2, 3]


async def test_two_schedulers_racing_over_1000_due_rows_fire_each_step_once(engine: AsyncEngine, db_url: str) -> None:
    people = await add_people(engine)
    async with engine.begin() as conn:
        for n in range(1000):
            await add_deadline(conn, await add_ticket(conn, f"T-{n}", owner=people.owner))
    clock = FakeClock(START)
    other = create_engine(db_url)  # a second instance: its own engine and connections
    try:
        first = DeadlineScheduler(engine, EventBus(), clock, escalate_every=EVERY, batch=50)
        second = DeadlineScheduler(other, EventBus(), clock, escalate_every=EVERY, batch=50)
        clock.set(minutes(25))  # due: the breach and level 2 of every row, the warning moot

        fired = await asyncio.gather(first.run_once(), second.run_once())
    finally:
        await other.dispose()

    assert sum(fired) == 2000
    if engine.dialect.name == "postgresql":  # SQLite serialises them: one may well take all
        assert all(n > 0 for n in fired), fired
    steps = Counter((deadline_id, data["level"]) for deadline_id, _, data in await firings(engine))
    assert len(steps) == 2000 and set(steps.values()) == {1}
    assert await count_due(engine, clock.now()) == 0


async def test_a_row_held_by_a_use_case_is_never_fired_under_it(engine: AsyncEngine) -> None:
    people = await add_people(engine)
    deadline_id = await ticket_with_deadline(engine, people)
    scheduler = DeadlineScheduler(engine, EventBus(), FakeClock(minutes(10)), escalate_every=EVERY)
    async with engine.connect() as use_case:
        await use_case.execute(update(deadlines).where(deadlines.c.id == deadline_id).values(version=deadlines.c.version + 1))
        claim = asyncio.create_task(scheduler.run_once())
        if engine.dialect.name == "postgresql":
            assert await asyncio.wait_for(claim, timeout=5) == 0  # the locked row is skipped, not waited for
        else:
            await asyncio.sleep(0.2)  # SQLite's claim waits for the one writer to finish
            assert not claim.done()
        await use_case.rollback()

    assert await claim + await scheduler.run_once() == 1


async def _append(heard: list[Any], event: Any) -> None:
    heard.append(event)

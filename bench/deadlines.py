"""Deadline scheduler benchmark: 100,000 open tickets whose deadlines fall over one day, fired
by DeadlineScheduler on an accelerated clock; prints how late escalations fire, memory, and
how long a restart after down-time takes to catch up.

    .venv/bin/python bench/deadlines.py [--tickets 100000] [--speed 1000] [--down-at 20]
        [--down-hours 3] [--database-url URL]

Each deadline warns at 80 %, breaches at its due time and escalates 10 and 20 minutes later
(nobody meets them): about 4 firings a ticket. Lateness runs from a step's moment to its
publication on the bus (after the commit), in the accelerated clock's seconds and in wall
milliseconds (= accelerated / speed). At --speed 1000 the day's load arrives 1000 times
faster than a real day's, so the wall figures bound what a real day sees; the accelerated
figures are 1000 x the wall ones by construction. Target (issue 4): p99 under 1 s.
After --down-at hours the scheduler stops, the clock jumps --down-hours, a new scheduler
starts: the catch-up is the wall time until no row due at the restart moment is left.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import tempfile
import time
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from hotline.db.engine import create_engine  # noqa: E402
from hotline.db.migrate import upgrade  # noqa: E402
from hotline.db.tables import users  # noqa: E402
from hotline.events import EventBus  # noqa: E402
from hotline.tickets.events import DeadlineBreached  # noqa: E402
from hotline.tickets.scheduler import DeadlineScheduler  # noqa: E402
from hotline.tickets.tables import deadlines, department_members, departments, tickets  # noqa: E402
from hotline.tickets.timers import next_fire_at  # noqa: E402

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
EVERY = timedelta(minutes=10)
LIMITS = [timedelta(minutes=m) for m in (10, 30, 60, 240, 480, 1440)]  # the standard's spread
CHUNK = 5000


class AcceleratedClock:
    """The Clock protocol at `speed` times real time; jump() is a down-time's step."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.speed, self._start, self._t0 = speed, start, time.perf_counter()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.perf_counter() - self._t0) * self.speed)

    async def sleep_until(self, moment: datetime) -> None:
        while (left := (moment - self.now()).total_seconds()) > 0:
            await asyncio.sleep(left / self.speed)

    def jump(self, by: timedelta) -> None:
        self._start += by


async def seed(engine: AsyncEngine, count: int) -> None:
    """People, 5 departments, and `count` tickets each with one pending deadline."""
    rng = random.Random(4)
    async with engine.begin() as conn:
        staff = [{"id": n, "name": f"user{n}", "role": "agent" if n <= 50 else "department" if n <= 80 else "supervisor", "created_at": START} for n in range(1, 84)]
        await conn.execute(insert(users), staff)
        await conn.execute(insert(departments), [{"id": d, "name": f"dept{d}", "head_user_id": 50 + d, "created_at": START} for d in range(1, 6)])
        await conn.execute(insert(department_members), [{"user_id": u, "department_id": 1 + u % 5} for u in range(51, 81)])
    for first in range(1, count + 1, CHUNK):
        ids = range(first, min(first + CHUNK, count + 1))
        async with engine.begin() as conn:
            await conn.execute(insert(tickets), [_ticket(n, rng) for n in ids])
            await conn.execute(insert(deadlines), [_deadline(n, rng) for n in ids])


def _ticket(n: int, rng: random.Random) -> dict[str, Any]:
    return {"id": n, "number": f"T-{n:06d}", "status": "forwarded", "source": "call", "category": "fault_report", "tier": "regular", "area": "urban", "owner_user_id": rng.randint(1, 50), "department_id": rng.randint(1, 5), "summary": "", "opened_at": START, "updated_at": START, "follow_up_needed": False}


def _deadline(n: int, rng: random.Random) -> dict[str, Any]:
    due = START + timedelta(minutes=1) + timedelta(seconds=rng.uniform(0, 86_400 - 60))
    limit = min(rng.choice(LIMITS), due - START)  # started at START at the earliest
    timer = {"state": "pending", "warn_at": due - limit * 0.2, "due_at": due, "warned_at": None, "breached_at": None, "escalation_level": 0}
    return {"ticket_id": n, "kind": "acknowledge" if n % 3 == 0 else "repair_fix", "rule": "bench", "started_at": due - limit, "next_fire_at": next_fire_at(**timer, escalate_every=EVERY), "version": 0, **timer}


async def count_rows(engine: AsyncEngine, *where: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(deadlines).where(*where))).scalar_one())


class Lateness:
    """Escalations' lateness at publication, split into steady running and catch-up."""

    def __init__(self, clock: AcceleratedClock) -> None:
        self.clock, self.steady, self.catch_up = clock, array("d"), array("d")
        self.restart: datetime | None = None

    async def heard(self, event: DeadlineBreached) -> None:
        scheduled = event.due_at + EVERY * (event.level - 1)
        late = (self.clock.now() - scheduled).total_seconds()
        # After the restart even what comes due during the catch-up waits behind it.
        (self.steady if self.restart is None else self.catch_up).append(late)


async def run_until(scheduler: DeadlineScheduler, done: Any) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop), name="deadlines")
    while not await done():
        await asyncio.sleep(0.02)
    stop.set()
    await task


async def bench(url: str, count: int, speed: float, down_at: float, down_hours: float) -> None:
    await upgrade(url)
    engine = create_engine(url)
    started = time.perf_counter()
    await seed(engine, count)
    print(f"seeded {count:,} tickets with deadlines over a day in {time.perf_counter() - started:.1f} s; rss {_rss_mb():.0f} MB")
    clock = AcceleratedClock(START, speed)
    lateness, bus = Lateness(clock), EventBus()
    bus.subscribe(DeadlineBreached, lateness.heard)
    make = lambda: DeadlineScheduler(engine, bus, clock, escalate_every=EVERY)  # noqa: E731
    stop_at = START + timedelta(hours=down_at)

    async def stopped() -> bool:
        return clock.now() >= stop_at

    wall = time.perf_counter()
    await run_until(make(), stopped)
    clock.jump(timedelta(hours=down_hours))
    restart = lateness.restart = clock.now()
    backlog = await count_rows(engine, deadlines.c.next_fire_at <= restart)
    caught_up: list[float] = []

    async def finished() -> bool:
        if not caught_up and await count_rows(engine, deadlines.c.next_fire_at <= restart) == 0:
            caught_up.append(time.perf_counter() - restarted)
        return await count_rows(engine, deadlines.c.next_fire_at.is_not(None)) == 0

    restarted = time.perf_counter()
    await run_until(make(), finished)
    print(f"ran the day (down {down_hours:g} h of it) in {time.perf_counter() - wall:.1f} s wall at {speed:g}x")
    _report(f"escalations (breach, level 2, level 3) over the first {down_at:g} h", lateness.steady, speed)
    _report("escalations after the restart (the missed ones and those due during the catch-up)", lateness.catch_up, speed)
    p99_wall = sorted(lateness.steady)[int(0.99 * (len(lateness.steady) - 1))] / speed if lateness.steady else 0.0
    print(f"target p99 < 1 s (wall clock, under {speed:g}x a real day's load): {p99_wall:.3f} s, {'met' if p99_wall < 1 else 'MISSED'}")
    print(f"restart after {down_hours:g} h down: {backlog:,} deadline rows due; caught up in {caught_up[0]:.2f} s wall")
    print(f"peak memory: ru_maxrss {_rss_mb():.0f} MB")
    await engine.dispose()


def _report(label: str, values: array, speed: float) -> None:
    ordered = sorted(values)
    if not ordered:
        print(f"{label}: none")
        return
    p50, p99, top = (ordered[int(q * (len(ordered) - 1))] for q in (0.5, 0.99, 1.0))
    print(f"{label}: {len(ordered):,} firings")
    print(f"  late, accelerated clock: p50 {p50:9.2f} s  p99 {p99:9.2f} s  max {top:9.2f} s")
    print(f"  late, wall clock:        p50 {p50 / speed * 1000:9.2f} ms p99 {p99 / speed * 1000:9.2f} ms max {top / speed * 1000:9.2f} ms")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--speed", type=float, default=1000.0, help="accelerated seconds per wall second")
    parser.add_argument("--down-at", type=float, default=20.0, help="hours into the day the service stops")
    parser.add_argument("--down-hours", type=float, default=3.0)
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    args = parser.parse_args()
    import logging

    import structlog

    logging.disable(logging.CRITICAL)  # measure the scheduler, not the log sink
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        asyncio.run(bench(url, args.tickets, args.speed, args.down_at, args.down_hours))


if __name__ == "__main__":
    main()

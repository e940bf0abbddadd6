"""Deadline scheduler cluster benchmark: how fast 1, 3 ... DeadlineScheduler instances, each
its own OS process with its own engine, sharing one PostgreSQL database, fire a backlog of
--timers deadline rows that are all due at once, and whether every step fires exactly once.

    .venv/bin/python bench/cluster_scheduler.py [--timers 100000] [--instances 1 3]
        [--batch 500] [--postgres postgresql://postgres@127.0.0.1:5432/test]

For each instance count: a fresh database (migrated, then dropped at the end, even on error),
--timers tickets each with one deadline row, COPYed in; the due times are spread over the
hour before the pinned clock (so no warnings: a deadline already past is breached at once,
then escalated 10 and 20 minutes after it when those moments have passed too: 1 to 3 steps a
row, about 2.5 on average). K processes build their scheduler, meet at a barrier and run the
service's loop (DeadlineScheduler.run) with a clock pinned at that moment: each row is
claimed once, and the run ends when no row is due. This process polls for that and samples
pg_stat_activity (what the schedulers' backends wait on) meanwhile.

How to read the figures:
- firings: timeline rows (ticket_events) the run wrote, one per step fired; wall s: from
  the barrier to the last step's commit; firings/s: firings / wall s.
- duplicates: (deadline, level) pairs fired more than once; must be 0. Missing steps and
  rows still due are reported too (also 0); any of them makes the exit status 1.
- speed-up: firings/s over the 1-instance run's. Each instance claims a batch with
  SELECT ... FOR UPDATE SKIP LOCKED, so instances never wait on each other's rows; but they
  share the CPUs with PostgreSQL (one backend each) and this process, and all write the same
  tables and indexes. On a machine with few cores the speed-up is bounded by the cores, not
  by the locks: the per-instance CPU seconds and the wait samples show where the time went.
Exits 2 when PostgreSQL does not answer.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402

from hotline.db.engine import create_engine  # noqa: E402
from hotline.db.migrate import upgrade_sync  # noqa: E402
from hotline.events import EventBus  # noqa: E402
from hotline.tickets.events import DeadlineBreached, DeadlineWarned  # noqa: E402
from hotline.tickets.scheduler import DeadlineScheduler  # noqa: E402
from hotline.tickets.timers import BREACHED, ESCALATED, WARNED, TimerState, next_fire_at, step  # noqa: E402

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # the pinned clock: every due time is before it
EVERY = timedelta(minutes=10)  # the service's default escalation interval
LIMITS = [timedelta(minutes=m) for m in (10, 30, 60, 240, 480, 1440)]
POLL = 0.02  # seconds between this process's looks at the database during a run
STEP_KINDS = (WARNED, BREACHED, ESCALATED)
_DUE = "SELECT 1 FROM deadlines WHERE next_fire_at <= $1 AND state IN ('pending', 'breached') LIMIT 1"
# A scheduler's backend is "active" (running, or waiting: Lock:extend, LWLock:WALWrite ...) while a
# statement runs, "idle in transaction" while its process works between two statements of a
# claim, "idle" between claims.
_WAITS = "SELECT CASE WHEN state = 'active' THEN coalesce(wait_event_type || ':' || wait_event, 'running') ELSE state END AS doing, count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY 1"
_FIRED = "SELECT (data->>'deadline_id')::int AS deadline, (data->>'level')::int AS level, count(*) AS n FROM ticket_events WHERE kind = ANY($1::text[]) GROUP BY 1, 2"


class PinnedClock:
    """The Clock protocol stopped at one moment; a nap still lasts the real time it asks,
    so an instance that found only locked rows looks again 50 ms later, as in the service."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(max(0.0, (moment - self.moment).total_seconds()))


@dataclass(frozen=True, slots=True)
class Run:
    instances: int
    timers: int
    firings: int
    wall: float
    duplicates: list[tuple[int, int, int]]  # deadline, level, times fired
    missing: int
    unexpected: int
    left_due: int
    fired_by: list[int]  # per instance, as its scheduler counted
    cpu: list[float]  # per instance, seconds of CPU in the run
    claim_errors: int
    contended: list[int]
    waits: Counter[str]  # pg_stat_activity samples of the schedulers' backends, by what they did

    @property
    def rate(self) -> float:
        return self.firings / self.wall if self.wall > 0 else 0.0

    @property
    def exact(self) -> bool:
        return not self.duplicates and self.missing == self.unexpected == self.left_due == 0


# --- the database ----------------------------------------------------------------------

async def reachable(server: str) -> str | None:
    """Why PostgreSQL cannot serve the bench, or None when it can."""
    try:
        await (await asyncpg.connect(server, timeout=5)).close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(server, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def database_url(server: str, name: str, *, driver: str = "postgresql") -> str:
    return urlsplit(server)._replace(scheme=driver, path=f"/{name}").geturl()


async def seed(conn: asyncpg.Connection, count: int) -> set[tuple[int, int]]:
    """83 people, 5 departments, `count` tickets with one due deadline each, by COPY; the
    (deadline id, level) pairs the pure timer says must fire at NOW."""
    rng, start = random.Random(96655), NOW - timedelta(days=2)
    roles = ["agent" if n <= 50 else "department" if n <= 80 else "supervisor" for n in range(1, 84)]
    await conn.copy_records_to_table("users", columns=["id", "name", "role", "created_at"], records=[(n, f"user{n}", role, start) for n, role in enumerate(roles, 1)])
    await conn.copy_records_to_table("departments", columns=["id", "name", "head_user_id", "created_at"], records=[(d, f"dept{d}", 50 + d, start) for d in range(1, 6)])
    await conn.copy_records_to_table("department_members", columns=["user_id", "department_id"], records=[(u, 1 + u % 5) for u in range(51, 81)])
    ticket_rows, deadline_rows, expected = [], [], set()
    for n in range(1, count + 1):
        due = NOW - timedelta(seconds=rng.uniform(1, 3600))
        limit = rng.choice(LIMITS)
        timer = TimerState("pending", due - limit * 0.2, due, None, None, 0)
        ticket_rows.append((n, f"T-{n:07d}", "forwarded", "call", "fault_report", "regular", "urban", rng.randint(1, 50), rng.randint(1, 5), "", start, start, False))
        deadline_rows.append((n, n, "acknowledge" if n % 3 == 0 else "repair_fix", "bench", due - limit, timer.warn_at, due, "pending", 0, next_fire_at(state="pending", warn_at=timer.warn_at, due_at=due, warned_at=None, breached_at=None, escalation_level=0, escalate_every=EVERY), 0))
        expected.update((n, fire.level) for fire in step(timer, NOW, escalate_every=EVERY).fires)
    await conn.copy_records_to_table("tickets", columns=["id", "number", "status", "source", "category", "tier", "area", "owner_user_id", "department_id", "summary", "opened_at", "updated_at", "follow_up_needed"], records=ticket_rows)
    await conn.copy_records_to_table("deadlines", columns=["id", "ticket_id", "kind", "rule", "started_at", "warn_at", "due_at", "state", "escalation_level", "next_fire_at", "version"], records=deadline_rows)
    await conn.execute("VACUUM ANALYZE")  # every run starts with fresh statistics, not whenever autovacuum comes
    return expected


# --- one scheduler instance (a spawned process) ---------------------------------------

def worker(url: str, batch: int, ready: Barrier, stop: Event, results: Queue[dict[str, Any]]) -> None:
    """A process's entry point: one scheduler until `stop`; its figures go to `results`."""
    import logging

    import structlog

    logging.disable(logging.CRITICAL)  # measure the scheduler, not the log sink
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us; Ctrl-C is its to handle
    try:
        results.put(asyncio.run(_schedule(url, batch, ready, stop)))
    except BaseException as exc:  # the parent reports it; a silent death would look like a hang
        results.put({"error": f"{os.getpid()}: {exc!r}"})


async def _schedule(url: str, batch: int, ready: Barrier, stop: Event) -> dict[str, Any]:
    engine = create_engine(url)
    last = 0.0

    async def heard(_event: object) -> None:  # published after the commit
        nonlocal last
        last = time.monotonic()

    bus = EventBus()
    bus.subscribe(DeadlineWarned, heard)
    bus.subscribe(DeadlineBreached, heard)
    scheduler = DeadlineScheduler(engine, bus, PinnedClock(NOW), escalate_every=EVERY, batch=batch)
    async with engine.connect():  # connected before the start, as a running service is
        pass
    await asyncio.to_thread(ready.wait, 120)
    cpu, stopped = time.process_time(), asyncio.Event()
    watcher = asyncio.create_task(asyncio.to_thread(_until_stopped, stop), name="bench.stop")
    watcher.add_done_callback(lambda _: stopped.set())
    await scheduler.run(stopped)
    await engine.dispose()
    counters = scheduler.metrics.counters
    return {"fired": int(counters["hotline_deadline_firings_total"]), "errors": int(counters["hotline_deadline_claim_errors_total"]), "contended": int(counters["hotline_deadline_claims_contended_total"]), "last": last, "cpu": time.process_time() - cpu}


def _until_stopped(stop: Event) -> None:
    """Block until the parent says stop, or is gone (killed: nobody would ever say it)."""
    parent = multiprocessing.parent_process()
    while not stop.wait(1) and (parent is None or parent.is_alive()):
        pass


# --- one run ---------------------------------------------------------------------------

async def run(server: str, instances: int, timers: int, batch: int) -> Run:
    name = f"hotline_bench_cluster_{os.getpid()}_{instances}_{uuid.uuid4().hex[:6]}"
    await admin(server, f'CREATE DATABASE "{name}"')
    processes: list[BaseProcess] = []
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    try:
        await asyncio.to_thread(upgrade_sync, database_url(server, name, driver="postgresql+asyncpg"))
        conn = await asyncpg.connect(database_url(server, name))
        try:
            began = time.monotonic()
            expected = await seed(conn, timers)
            print(f"{instances} instance(s): seeded {timers:,} due timers in {time.monotonic() - began:.1f} s; {len(expected):,} steps to fire", flush=True)
            ready, results = context.Barrier(instances + 1), context.Queue()
            processes = [context.Process(target=worker, args=(database_url(server, name, driver="postgresql+asyncpg"), batch, ready, stop, results), name=f"scheduler-{n}", daemon=True) for n in range(instances)]
            for process in processes:
                process.start()
            await asyncio.to_thread(ready.wait, 120)
            started = time.monotonic()
            waits = await watch(conn, name, processes, results)
            stop.set()
            reports = [await asyncio.to_thread(results.get, True, 60) for _ in processes]
            if errors := [r["error"] for r in reports if "error" in r]:
                raise RuntimeError(f"a scheduler process failed: {errors}")
            return await verify(conn, instances, timers, expected, reports, started, waits)
        finally:
            await conn.close()
    finally:
        stop.set()
        for process in processes:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.kill()
        await admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def watch(conn: asyncpg.Connection, name: str, processes: list[BaseProcess], results: Queue[dict[str, Any]]) -> Counter[str]:
    """Wait until no row is due; what the schedulers' backends were doing meanwhile."""
    waits: Counter[str] = Counter()
    while await conn.fetchval(_DUE, NOW) is not None:
        if dead := [p.name for p in processes if not p.is_alive()]:
            why = results.get(True, 5) if not results.empty() else "no report"
            raise RuntimeError(f"scheduler process(es) {dead} exited during the run: {why}")
        for row in await conn.fetch(_WAITS, name):
            waits[row["doing"]] += row["n"]
        await asyncio.sleep(POLL)
    return waits


async def verify(conn: asyncpg.Connection, instances: int, timers: int, expected: set[tuple[int, int]], reports: list[dict[str, Any]], started: float, waits: Counter[str]) -> Run:
    fired = {(row["deadline"], row["level"]): row["n"] for row in await conn.fetch(_FIRED, list(STEP_KINDS))}
    duplicates = sorted((deadline, level, n) for (deadline, level), n in fired.items() if n > 1)
    left_due = await conn.fetchval("SELECT count(*) FROM deadlines WHERE next_fire_at <= $1 AND state IN ('pending', 'breached')", NOW)
    return Run(
        instances, timers, sum(fired.values()), max(started, *(r["last"] for r in reports)) - started, duplicates,
        missing=len(expected - fired.keys()), unexpected=len(fired.keys() - expected), left_due=left_due,
        fired_by=[r["fired"] for r in reports], cpu=[r["cpu"] for r in reports], claim_errors=sum(r["errors"] for r in reports), contended=[r["contended"] for r in reports], waits=waits,
    )  # fmt: skip


# --- the report ------------------------------------------------------------------------

def report(runs: list[Run]) -> None:
    base = next((r.rate for r in runs if r.instances == 1), None)
    print()
    print(f"{'instances':>9} {'timers':>8} {'firings':>8} {'wall s':>7} {'firings/s':>9} {'speed-up':>8} {'duplicates':>10} {'CPUs':>4}")
    for r in runs:
        speed_up = f"{r.rate / base:.2f}x" if base else "-"
        print(f"{r.instances:>9} {r.timers:>8,} {r.firings:>8,} {r.wall:>7.2f} {r.rate:>9,.0f} {speed_up:>8} {len(r.duplicates):>10} {os.cpu_count():>4}")
    print()
    for r in runs:
        total = sum(r.waits.values()) or 1
        sampled = ", ".join(f"{kind} {n / total:.0%}" for kind, n in r.waits.most_common())
        print(f"{r.instances} instance(s): fired per instance {r.fired_by}; CPU s per instance {[round(c, 1) for c in r.cpu]}; claim errors {r.claim_errors}; scans that found due rows claimed by another {r.contended}")
        print(f"  missing steps {r.missing}, unexpected {r.unexpected}, rows still due {r.left_due}")
        print(f"  the schedulers' backends, sampled every {POLL * 1000:.0f} ms: {sampled or 'none'}")
        for deadline, level, n in r.duplicates[:20]:
            print(f"  DUPLICATE: deadline {deadline} level {level} fired {n} times")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")


async def main_async(args: argparse.Namespace) -> int:
    if (why := await reachable(args.postgres)) is not None:
        server = urlsplit(args.postgres)
        print(f"PostgreSQL does not answer at {server.hostname}:{server.port or 5432} ({why}); start it or pass --postgres URL", file=sys.stderr)
        return 2
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # cleaned up as on Ctrl-C
    runs = [await run(args.postgres, k, args.timers, args.batch) for k in args.instances]
    report(runs)
    return 0 if all(r.exact for r in runs) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=100_000, help="deadline rows, all due (one ticket each)")
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 3], help="scheduler processes, one run per count")
    parser.add_argument("--batch", type=int, default=500, help="rows a scheduler claims per transaction (the service's default)")
    parser.add_argument("--postgres", metavar="URL", default="postgresql://postgres@127.0.0.1:5432/test", help="a PostgreSQL server to create (and drop) fresh databases on")
    args = parser.parse_args()
    if args.timers < 1 or min(args.instances) < 1 or args.batch < 1:
        parser.error("--timers, --instances and --batch must be at least 1")
    try:
        code = asyncio.run(main_async(args))
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:  # the processes and databases are gone by now
        print("interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated", file=sys.stderr)
        code = 130 if isinstance(exc, KeyboardInterrupt) else 143
    sys.exit(code)


if __name__ == "__main__":
    main()

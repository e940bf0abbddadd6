"""`hotline run` killed with SIGKILL while deadlines come due: after the restart each warning,
breach and escalation that came due in the down-time fires once, marked late, and what
fired before the kill does not fire again."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db.engine import create_engine
from hotline.tickets.tables import deadlines, departments, ticket_events
from hotline.tickets.timers import next_fire_at
from tests.acceptance.conftest import Hotline
from tests.integration.scheduler.rows import START, add_ticket, add_user

pytestmark = pytest.mark.acceptance

EVERY = timedelta(minutes=10)  # the service's default escalation interval
HOUR = timedelta(hours=1)


@pytest.fixture
async def engine(database_url: str, hotline: Hotline) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)  # the service's own database, beside it
    yield engine
    await engine.dispose()


async def add_deadline(engine: AsyncEngine, number: str, *, warn_at: datetime, due_at: datetime, **timer: Any) -> int:
    async with engine.begin() as conn:
        owner = await add_user(conn, f"owner-{number}", "agent")
        head = await add_user(conn, f"head-{number}", "department")
        department = int((await conn.execute(insert(departments).values(name=number, head_user_id=head, created_at=START))).inserted_primary_key[0])
        ticket = await add_ticket(conn, number, owner=owner, department=department)
        row = {"state": "pending", "warn_at": warn_at, "due_at": due_at, "warned_at": None, "breached_at": None, "escalation_level": 0, **timer}
        moment = next_fire_at(**row, escalate_every=EVERY)
        values = {"ticket_id": ticket, "kind": "repair_fix", "rule": "test", "started_at": due_at - HOUR, "next_fire_at": moment, "version": 0, **row}
        return int((await conn.execute(insert(deadlines).values(**values))).inserted_primary_key[0])


async def fired(engine: AsyncEngine) -> list[tuple[int, str, int, dict[str, Any]]]:
    query = select(ticket_events.c.kind, ticket_events.c.data).where(ticket_events.c.kind.like("deadline_%")).order_by(ticket_events.c.id)
    async with engine.connect() as conn:
        return [(row.data["deadline_id"], row.kind, row.data["level"], row.data) for row in (await conn.execute(query)).all()]


async def fired_when(engine: AsyncEngine, count: int, timeout: float = 15) -> list[tuple[int, str, int, dict[str, Any]]]:
    async with asyncio.timeout(timeout):
        while len(found := await fired(engine)) < count:
            await asyncio.sleep(0.05)
    return found


async def test_deadlines_due_while_killed_fire_once_at_restart_marked_late(hotline: Hotline, engine: AsyncEngine) -> None:
    await hotline.start()
    now = datetime.now(UTC)
    before_kill = await add_deadline(engine, "T-warned-before", warn_at=now + timedelta(seconds=0.3), due_at=now + HOUR)
    await fired_when(engine, 1)  # found by the running scheduler's poll
    assert await hotline.kill(signal.SIGKILL) == -signal.SIGKILL

    moment = datetime.now(UTC) + timedelta(seconds=0.5)  # comes due while the service is down
    expected = {
        await add_deadline(engine, "T-warn", warn_at=moment, due_at=moment + HOUR): [("deadline_warned", 0)],
        await add_deadline(engine, "T-breach", warn_at=moment - HOUR, due_at=moment, warned_at=moment - HOUR): [("deadline_breached", 1)],
        # Warned never (down at its warning too) and overdue now: the breach only.
        await add_deadline(engine, "T-moot-warning", warn_at=moment - timedelta(seconds=0.4), due_at=moment): [("deadline_breached", 1)],
        await add_deadline(engine, "T-level-2", warn_at=moment - EVERY - HOUR, due_at=moment - EVERY, state="breached", warned_at=moment - EVERY - HOUR, breached_at=moment - EVERY, escalation_level=1): [("deadline_escalated", 2)],
        # Down past two steps: both fire, in order.
        await add_deadline(engine, "T-levels-1-2", warn_at=moment - EVERY - HOUR, due_at=moment - EVERY, warned_at=moment - EVERY - HOUR): [("deadline_breached", 1), ("deadline_escalated", 2)],
        await add_deadline(engine, "T-level-3", warn_at=moment - 2 * EVERY - HOUR, due_at=moment - 2 * EVERY, state="breached", warned_at=moment - 2 * EVERY - HOUR, breached_at=moment - 2 * EVERY, escalation_level=2): [("deadline_escalated", 3)],
    }
    await asyncio.sleep((moment - datetime.now(UTC)).total_seconds() + 1.5)
    assert len(await fired(engine)) == 1  # nothing fires while it is down

    await hotline.start()
    await fired_when(engine, 1 + 7)
    await asyncio.sleep(1.5)  # more than a poll: room for any second firing

    after = await fired(engine)
    assert [(deadline_id, kind) for deadline_id, kind, _, _ in after if deadline_id == before_kill] == [(before_kill, "deadline_warned")]
    for deadline_id, steps in expected.items():
        mine = [(kind, level, data) for d, kind, level, data in after if d == deadline_id]
        assert [(kind, level) for kind, level, _ in mine] == steps
        assert all(data["late"] and data["late_seconds"] >= 1.5 for _, _, data in mine), mine
    assert len(after) == 8

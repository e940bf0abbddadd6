"""Three `hotline run` processes on one PostgreSQL against the PBX double, with callbacks on:
the AMI owner is killed with SIGKILL while deadline steps (warnings, breaches, escalations)
and booked callbacks come due; every step due at the kill or during the failover fires
once, on the survivors' schedulers, and every callback is placed once (by the new owner),
counted both in what Asterisk was sent over the whole run and in the attempts stored. A
callback the killed owner placed before it died is not placed again."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.callbacks.tables import callback_attempts
from hotline.db.engine import create_engine
from hotline.testing.pbx import PbxDouble
from hotline.tickets.tables import deadlines, departments, ticket_events
from hotline.tickets.timers import BREACHED, ESCALATED, WARNED, next_fire_at
from tests.acceptance.conftest import free_port
from tests.acceptance.test_callbacks_service import callbacks_env
from tests.acceptance.test_several_instances import Instance, one_owner
from tests.integration.scheduler.rows import START, add_ticket, add_user

pytestmark = pytest.mark.acceptance

# The lease runs 60 % of it and is renewed every 20 %: a takeover comes 4.8 - 1.6 = 3.2 s
# after the kill at the soonest. Everything below comes due well inside that.
TAKEOVER = 8.0
EVERY = timedelta(seconds=1)  # HOTLINE_TICKETS_ESCALATE_EVERY: a breach, level 2 and level 3 within 2 s
AGENTS = ("8001", "8002", "8003", "8004")  # one phone each: an agent-first callback rings it until hung up
S = timedelta(seconds=1)
Step = tuple[str, int]  # (ticket_events kind, level)


@dataclass
class Cluster:
    instances: list[Instance]
    agent_tokens: list[str]  # one per extension of AGENTS


@pytest.fixture
async def cluster(pbx: PbxDouble, tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    """Three instances as in test_several_instances, with callbacks placed through the
    double (a calling window open now, whatever the hour) and a fast escalation interval."""
    made: list[Instance] = []
    for n in range(3):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
            "HOTLINE_AMI_HOST": "127.0.0.1", "HOTLINE_AMI_PORT": str(pbx.port), "HOTLINE_AMI_SECRET": "acceptance",
            "HOTLINE_AMI_RECONNECT_MIN": "0.05", "HOTLINE_AMI_RECONNECT_MAX": "0.2",
            "HOTLINE_DATABASE_URL": postgres_url, "HOTLINE_WEB_PORT": str(free_port()), "HOTLINE_ROUTING_AGI_PORT": str(free_port()),
            "HOTLINE_LOG_FORMAT": "json", "HOTLINE_CLUSTER_TAKEOVER_SECONDS": str(TAKEOVER), "HOTLINE_CLUSTER_INSTANCE_NAME": f"instance-{n}",
            "HOTLINE_TICKETS_ESCALATE_EVERY": "1s", "HOTLINE_CALLBACKS_MAX_CONCURRENT": "10", **callbacks_env(),
        }  # fmt: skip
        made.append(Instance(env, tmp_path / f"instance-{n}.log"))
    adding = [made[0].command("user", "add", "supervisor1", "--role", "supervisor")]
    adding += [made[0].command("user", "add", f"agent{ext}", "--role", "agent", "--extension", ext) for ext in AGENTS]
    supervisor, *agents = [out.strip().splitlines()[-1] for out in await asyncio.gather(*adding)]
    for instance in made:
        instance.token = supervisor  # one database: a token is valid on every instance
        await instance.start()
    yield Cluster(made, agents)
    for instance in made:
        await instance.close()


@pytest.fixture
async def engine(postgres_url: str, cluster: Cluster) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)  # the instances' database, beside them
    yield engine
    await engine.dispose()


async def add_deadlines(engine: AsyncEngine, rows: list[dict[str, Any]]) -> list[int]:
    """One ticket and one repair deadline per row (timer columns as the ticket service
    leaves them), all in one transaction; their ids in order."""
    async with engine.begin() as conn:
        owner = await add_user(conn, "owner", "agent")
        head = await add_user(conn, "head", "department")
        department = int((await conn.execute(insert(departments).values(name="network", head_user_id=head, created_at=START))).inserted_primary_key[0])
        made = []
        for n, timer in enumerate(rows):
            ticket = await add_ticket(conn, f"T-{n}", owner=owner, department=department)
            row = {"state": "pending", "warned_at": None, "breached_at": None, "escalation_level": 0, **timer}
            values = {"ticket_id": ticket, "kind": "repair_fix", "rule": "test", "started_at": row["due_at"] - timedelta(hours=1), "next_fire_at": next_fire_at(**row, escalate_every=EVERY), "version": 0, **row}
            made.append(int((await conn.execute(insert(deadlines).values(**values))).inserted_primary_key[0]))
    return made


async def fired(engine: AsyncEngine) -> list[tuple[int, str, int, dict[str, Any]]]:
    query = select(ticket_events.c.kind, ticket_events.c.data).where(ticket_events.c.kind.like("deadline_%")).order_by(ticket_events.c.id)
    async with engine.connect() as conn:
        return [(row.data["deadline_id"], row.kind, row.data["level"], row.data) for row in (await conn.execute(query)).all()]


async def attempts_per_callback(engine: AsyncEngine) -> dict[int, int]:
    query = select(callback_attempts.c.callback_id, func.count()).group_by(callback_attempts.c.callback_id)
    async with engine.connect() as conn:
        return {callback_id: count for callback_id, count in (await conn.execute(query)).all()}


def originates(pbx: PbxDouble) -> Counter[str]:
    """ActionID -> how many Originates Asterisk was sent with it, from every instance."""
    return Counter(a.get("ActionID", "") for a in pbx.actions if a.get("Action") == "Originate")


async def book(instance: Instance, token: str, number: str, at: datetime) -> int:
    async with aiohttp.ClientSession() as http:
        body = {"number": number, "at": at.isoformat()}
        async with http.post(f"{instance.url}/api/callbacks", json=body, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 201, await response.text()
            return int((await response.json())["id"])


async def callback_states(instance: Instance) -> dict[int, tuple[str, int]]:
    return {c["id"]: (c["state"], c["attempts_made"]) for c in (await instance.get("/api/callbacks?limit=500"))["callbacks"]}


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_escalations_and_callbacks_due_while_the_ami_owner_is_killed_fire_once(cluster: Cluster, engine: AsyncEngine, pbx: PbxDouble) -> None:
    instances, agents = cluster.instances, cluster.agent_tokens
    owner = await one_owner(instances)
    survivors = [i for i in instances if i is not owner]

    # Placed by the owner before it dies: the next owner must not place it again.
    placed_before = await book(survivors[0], agents[0], "13800138000", datetime.now(UTC) + 0.3 * S)
    await until(lambda: _in_flight(owner, {placed_before}), 10)
    assert originates(pbx) == {f"cb-{placed_before}-1": 1}

    # Work that comes due at the kill (K) and during the failover (K .. K + 3.2 s at least).
    kill_at = datetime.now(UTC) + 1.5 * S
    # Around the kill: 200 warnings in 0.4 s, so the owner is likely mid-claim when it dies.
    around = [({"warn_at": kill_at + (n / 500 - 0.2) * S, "due_at": kill_at + timedelta(hours=1)}, [(WARNED, 0)]) for n in range(200)]
    # During the failover (escalations every second, up to level 3): a warning, its breach
    # and both escalations; a breach and both escalations; the two escalations of one
    # breached before the kill.
    during = [
        ({"warn_at": kill_at + 0.2 * S, "due_at": kill_at + 0.5 * S}, [(WARNED, 0), (BREACHED, 1), (ESCALATED, 2), (ESCALATED, 3)]),
        ({"warn_at": kill_at - 2 * S, "due_at": kill_at + 0.2 * S, "warned_at": kill_at - 2 * S}, [(BREACHED, 1), (ESCALATED, 2), (ESCALATED, 3)]),
        ({"warn_at": kill_at - EVERY - 2 * S, "due_at": kill_at - EVERY + 0.6 * S, "state": "breached", "warned_at": kill_at - 3 * S, "breached_at": kill_at - EVERY + 0.6 * S, "escalation_level": 1}, [(ESCALATED, 2), (ESCALATED, 3)]),
    ]  # fmt: skip
    ids = await add_deadlines(engine, [timer for timer, _ in around + during])
    expected: dict[int, list[Step]] = {deadline_id: steps for deadline_id, (_, steps) in zip(ids, around + during, strict=True)}
    in_failover = set(ids[len(around):])
    due = {kill_at + (0.5 + 0.5 * n) * S: n for n in range(3)}  # 0.5, 1.0, 1.5 s after the kill
    booked = {await book(instances[n], agents[n + 1], f"1380013800{n + 1}", at): at for at, n in due.items()}
    assert datetime.now(UTC) < kill_at, "arranging took too long: move kill_at later"

    await asyncio.sleep((kill_at - datetime.now(UTC)).total_seconds())
    assert await owner.kill() == -signal.SIGKILL
    killed_at = datetime.now(UTC)
    new_owner = await one_owner(survivors, timeout=3 * TAKEOVER)
    taken_at = datetime.now(UTC)
    # The scenario is what it says: these callbacks came due after the kill and before
    # anyone owned AMI again (and so did the failover's deadline steps: checked below).
    assert all(killed_at < at < taken_at for at in booked.values()), (killed_at, booked, taken_at)

    everything = set(booked) | {placed_before}
    await until(lambda: _in_flight(new_owner, everything), 15)
    total = sum(len(steps) for steps in expected.values())
    await until(lambda: _count_at_least(engine, total), 15)
    await asyncio.sleep(2.5)  # more than two scheduler polls and dispatcher rounds: room for any second firing or placing

    after = await fired(engine)
    by_deadline: dict[int, list[Step]] = {}
    for deadline_id, kind, level, _ in after:
        by_deadline.setdefault(deadline_id, []).append((kind, level))
    assert by_deadline == expected  # each step once, in order; none lost with the killed owner
    assert len(after) == total == 200 + 4 + 3 + 2
    failover_steps = [data for deadline_id, _, _, data in after if deadline_id in in_failover]
    assert len(failover_steps) == 9 and all(killed_at < datetime.fromisoformat(d["scheduled_for"]) < taken_at for d in failover_steps), (killed_at, failover_steps, taken_at)

    # Each callback placed once across the whole run (the killed owner's Originate included),
    # under its first attempt's id, and one attempt stored for each.
    assert originates(pbx) == {f"cb-{callback_id}-1": 1 for callback_id in everything}
    assert await attempts_per_callback(engine) == {callback_id: 1 for callback_id in everything}
    assert await callback_states(new_owner) == {callback_id: ("in_flight", 1) for callback_id in everything}
    assert await new_owner.metric("hotline_ami_takeovers_total") == 1


async def _in_flight(instance: Instance, ids: set[int]) -> bool:
    states = await callback_states(instance)
    return all(states.get(i, ("", 0))[0] == "in_flight" for i in ids)


async def _count_at_least(engine: AsyncEngine, count: int) -> bool:
    return len(await fired(engine)) >= count

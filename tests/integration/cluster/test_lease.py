"""The AMI lease (SQLite and PostgreSQL, FakeClock): one owner at a time, a takeover only
once the lease expired or was given back, the token up by one each time, and fencing: an
owner whose lease was taken stores nothing more; a takeover waits for the owner's
transaction in flight (PostgreSQL) rather than slipping in under it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.clock import FakeClock
from hotline.cluster.lease import Held, Lease, LeaseLost
from hotline.db.tables import users

TTL = timedelta(seconds=6)


def two(engine: AsyncEngine) -> tuple[FakeClock, Lease, Lease]:
    clock = FakeClock(datetime(2026, 12, 5, 4, 0, tzinfo=UTC))
    return clock, Lease(engine, clock, "host-a:1", ttl=TTL), Lease(engine, clock, "host-b:2", ttl=TTL)


async def test_one_owner_at_a_time_and_renewing_keeps_it(engine: AsyncEngine) -> None:
    clock, a, b = two(engine)

    assert await a.acquire() is Held.TAKEN
    assert await b.acquire() is Held.NOT_OURS
    for _ in range(5):  # renewed every ttl/3 for longer than a ttl: still a's
        clock.advance(a.renew_every)
        assert await a.renew()
        assert await b.acquire() is Held.NOT_OURS
    assert await a.acquire() is Held.KEPT
    state = await a.state()
    assert state is not None and (state.owner, state.token, a.token, b.token) == ("host-a:1", 1, 1, None)


async def test_an_expired_lease_is_taken_over_with_the_next_token_and_the_old_owner_is_fenced(engine: AsyncEngine) -> None:
    clock, a, b = two(engine)
    await a.acquire()

    clock.advance(TTL - timedelta(milliseconds=1))
    assert await b.acquire() is Held.NOT_OURS  # not yet expired
    clock.advance(timedelta(milliseconds=2))
    assert await b.acquire() is Held.TAKEN
    assert b.token == 2

    # a, resumed: renewing fails, and anything it would store is refused.
    async with engine.connect() as conn:
        with pytest.raises(LeaseLost):
            await a.fence(conn)
    assert not await a.renew()
    assert (a.held, await a.acquire()) == (False, Held.NOT_OURS)


async def test_an_expired_lease_is_not_renewed_by_its_late_owner(engine: AsyncEngine) -> None:
    """Past its ttl an owner may be being replaced: it must take the lease again (a new
    token), never stretch the old one."""
    clock, a, _ = two(engine)
    await a.acquire()
    clock.advance(TTL + timedelta(seconds=1))

    assert not await a.renew()
    assert await a.acquire() is Held.TAKEN
    assert a.token == 2


async def test_a_lease_given_back_is_taken_at_once(engine: AsyncEngine) -> None:
    _, a, b = two(engine)
    await a.acquire()

    await a.release()

    assert await b.acquire() is Held.TAKEN
    assert (a.token, b.token) == (None, 2)


async def test_a_fenced_write_by_an_owner_that_lost_the_lease_stores_nothing(engine: AsyncEngine) -> None:
    clock, a, b = two(engine)
    await a.acquire()
    clock.advance(TTL * 2)  # a paused (SIGSTOP) past its lease
    await b.acquire()

    with pytest.raises(LeaseLost):
        async with engine.begin() as conn:
            await a.fence(conn)
            await conn.execute(insert(users).values(name="written after losing the lease", role="agent", created_at=clock.now()))
    async with engine.connect() as conn:
        assert (await conn.execute(select(users.c.id))).all() == []


async def test_a_takeover_waits_for_the_owners_fenced_transaction_in_flight(engine: AsyncEngine) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite runs one instance only (a second is refused at start)")
    clock, a, b = two(engine)
    await a.acquire()
    clock.advance(TTL * 2)

    async with engine.begin() as conn:
        await a.fence(conn)  # a's batch began before the takeover
        takeover = asyncio.create_task(b.acquire())
        await asyncio.sleep(0.2)
        assert not takeover.done()  # waits on the row a holds FOR SHARE
    assert await asyncio.wait_for(takeover, 5) is Held.TAKEN
    async with engine.connect() as conn:
        with pytest.raises(LeaseLost):
            await a.fence(conn)

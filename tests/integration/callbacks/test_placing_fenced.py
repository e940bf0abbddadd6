"""Callbacks with several instances: an instance that lost the AMI lease claims nothing and
sends no Originate (the owner places what is due), and what it heard of callbacks already
out is dropped, not recorded twice (the owner hears the same events and reconciles)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.ami.framing import Message
from hotline.cluster.lease import LeaseLost
from tests.integration.callbacks.test_placing import Dialer, dialer, until  # noqa: F401 (dialer: the fixture)
from tests.integration.tickets.conftest import desk  # noqa: F401 (the fixture dialer needs)

__all__ = ["dialer", "desk"]


async def lost(_conn: AsyncConnection) -> None:
    raise LeaseLost(lease="ami", token=1, current=2)


async def test_an_instance_that_lost_the_lease_claims_nothing_and_places_nothing(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13912345678")
    dispatcher = dialer.dispatcher()
    asked: list[int] = []

    async def counted(conn: AsyncConnection) -> None:
        asked.append(1)
        await lost(conn)

    dispatcher.fence = counted
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop, lambda: True))
    await until(lambda: len(asked) >= 1)  # a round, refused at its claim
    stop.set()
    await asyncio.wait_for(running, 5)

    row = await dialer.callback(callback_id)
    assert (row["state"], row["attempts"], row["attempt_rows"]) == ("scheduled", 0, [])
    assert dialer.originates() == []

    dispatcher.fence = None  # the lease is ours again: it is placed, once
    assert await dispatcher.run_once() == 1
    assert len(dialer.originates()) == 1


async def test_what_a_fenced_instance_heard_of_a_callback_is_dropped_not_recorded(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13912345678")
    dispatcher = dialer.dispatcher()
    assert await dispatcher.run_once() == 1
    channel_id = f"cb-{callback_id}-1"
    dispatcher.fence = lost
    dispatcher.on_ami_event(Message({"Event": "OriginateResponse", "ActionID": channel_id, "Response": "Failure", "Reason": "3", "Uniqueid": channel_id}))

    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop, lambda: True))
    await until(lambda: dispatcher.metrics.counters.get("hotline_callback_events_fenced_total", 0) == 1)
    stop.set()
    await asyncio.wait_for(running, 5)

    assert len(dispatcher.inbox) == 0
    row = await dialer.callback(callback_id)
    [attempt] = row["attempt_rows"]
    assert (row["state"], attempt["ended_at"], attempt["outcome"]) == ("in_flight", None, None)

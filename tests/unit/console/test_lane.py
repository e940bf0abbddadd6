"""A call's lane: steps run in order, each once what it needs is ready; a ready step with
nothing ahead runs at once; a failing step is logged and the next one still runs."""

from __future__ import annotations

import asyncio

from hotline.console.lane import Lane


def done(value: object = None) -> asyncio.Future[object]:
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


async def test_a_ready_step_runs_at_once_without_a_task() -> None:
    ran: list[str] = []
    lane = Lane("test", lambda: ready)
    ready = done()

    lane.then(lambda: ran.append("ring"))

    assert ran == ["ring"] and not lane.busy


async def test_steps_wait_for_the_context_and_their_needs_and_keep_their_order() -> None:
    loop = asyncio.get_running_loop()
    context: asyncio.Future[object] = loop.create_future()
    user: asyncio.Future[object] = loop.create_future()
    ran: list[str] = []
    lane = Lane("test", lambda: context)

    lane.then(lambda: ran.append("ringing"), user)
    lane.then(lambda: ran.append("talking"))  # ready itself, but behind the ring
    await asyncio.sleep(0)
    context.set_result(None)
    await asyncio.sleep(0)
    assert ran == [] and lane.busy
    user.set_result(7)
    for _ in range(3):
        await asyncio.sleep(0)

    assert ran == ["ringing", "talking"] and not lane.busy


async def test_a_replaced_context_is_waited_for_too() -> None:
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    current = [first]
    ran: list[str] = []
    lane = Lane("test", lambda: current[0])

    lane.then(lambda: ran.append("ringing"))
    current[0] = second  # the caller was identified again
    first.set_result(None)
    for _ in range(3):
        await asyncio.sleep(0)
    assert ran == []
    second.set_result(None)
    for _ in range(3):
        await asyncio.sleep(0)
    assert ran == ["ringing"]


async def test_a_failing_step_does_not_stop_the_next() -> None:
    ran: list[str] = []
    lane = Lane("test", lambda: done())

    lane.then(lambda: 1 / 0)  # type: ignore[func-returns-value, arg-type]
    lane.then(lambda: ran.append("ended"))

    assert ran == ["ended"]

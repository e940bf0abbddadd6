"""The clocks: the real one is aware and sleeps; the fake one moves only when a test moves it."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hotline.clock import Clock, FakeClock, SystemClock

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Bazhong


def test_both_clocks_are_clocks() -> None:
    clocks: list[Clock] = [SystemClock(), FakeClock(START)]

    assert all(clock.now().utcoffset() == timedelta(0) for clock in clocks)


def test_the_system_clock_tells_the_aware_time_now() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()

    assert before <= now <= datetime.now(UTC)


async def test_the_system_clock_sleeps_until_a_moment() -> None:
    clock = SystemClock()
    wake = clock.now() + timedelta(milliseconds=20)

    await clock.sleep_until(wake)

    assert clock.now() >= wake


async def test_the_system_clock_returns_at_once_for_a_moment_passed() -> None:
    await asyncio.wait_for(SystemClock().sleep_until(START), timeout=1)


def test_the_fake_clock_stands_still_until_moved() -> None:
    clock = FakeClock(START)

    assert clock.now() == clock.now() == START
    clock.advance(timedelta(minutes=10))
    assert clock.now() == START + timedelta(minutes=10)
    clock.set(START - timedelta(hours=1))  # a wall-clock step back, as NTP may do
    assert clock.now() == START - timedelta(hours=1)


def test_the_fake_clock_keeps_utc_whatever_zone_it_is_given() -> None:
    bazhong = timezone(timedelta(hours=8))
    clock = FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=bazhong))

    assert clock.now() == START
    assert clock.now().tzinfo is UTC


@pytest.mark.parametrize(
    "move",
    [
        pytest.param(lambda: FakeClock(datetime(2026, 3, 2)), id="a naive start"),
        pytest.param(lambda: FakeClock(START).set(datetime(2026, 3, 2)), id="a naive set"),
        pytest.param(
            lambda: FakeClock(START).advance(timedelta(seconds=-1)), id="advance backwards"
        ),
    ],
)
def test_the_fake_clock_refuses_what_a_clock_cannot_do(move) -> None:
    with pytest.raises(ValueError):
        move()


async def test_a_sleeper_wakes_when_the_fake_clock_passes_its_moment() -> None:
    clock = FakeClock(START)
    woke: list[datetime] = []

    async def sleeper() -> None:
        await clock.sleep_until(START + timedelta(minutes=5))
        woke.append(clock.now())

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0)
    assert clock.sleeping == 1

    clock.advance(timedelta(minutes=4))
    await asyncio.sleep(0)
    assert woke == [] and clock.sleeping == 1

    clock.advance(timedelta(minutes=2))
    await task
    assert woke == [START + timedelta(minutes=6)]
    assert clock.sleeping == 0


async def test_the_fake_clock_wakes_only_the_sleepers_that_are_due() -> None:
    clock = FakeClock(START)
    early = asyncio.create_task(clock.sleep_until(START + timedelta(minutes=1)))
    late = asyncio.create_task(clock.sleep_until(START + timedelta(hours=1)))
    await asyncio.sleep(0)

    clock.set(START + timedelta(minutes=1))  # exactly due counts as due
    await asyncio.sleep(0)

    assert early.done() and not late.done()
    late.cancel()


async def test_sleeping_until_a_moment_already_passed_returns_at_once() -> None:
    clock = FakeClock(START)

    await asyncio.wait_for(clock.sleep_until(START), timeout=1)
    assert clock.sleeping == 0


async def test_a_cancelled_sleeper_is_forgotten() -> None:
    clock = FakeClock(START)
    task = asyncio.create_task(clock.sleep_until(START + timedelta(minutes=1)))
    await asyncio.sleep(0)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleeping == 0
    clock.advance(timedelta(minutes=2))  # waking a cancelled sleeper must not raise

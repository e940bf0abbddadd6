"""Where the hotline gets the time: injected everywhere, so tests move it by hand (FakeClock).

Moments are aware datetimes in UTC; the standard's wall-clock rules convert them themselves.
"""

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

# SystemClock naps at most this long, so a step of the wall clock (NTP) is noticed soon.
MAX_NAP = 60.0


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, time-zone aware."""
        ...

    async def sleep_until(self, moment: datetime) -> None:
        """Return once now() has reached `moment` (at once if it already has)."""
        ...


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; the clock only deals in aware datetimes")
    return moment


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, moment: datetime) -> None:
        _aware(moment)
        while (left := (moment - self.now()).total_seconds()) > 0:
            await asyncio.sleep(min(left, MAX_NAP))


class FakeClock:
    """A clock that moves only when told; sleepers wake when it passes their moment."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start).astimezone(UTC)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, moment: datetime) -> None:
        if _aware(moment) <= self._now:
            await asyncio.sleep(0)  # still a point where other tasks run, as a real sleep is
            return
        woken = asyncio.get_running_loop().create_future()
        self._sleepers.append((moment, woken))
        await woken

    @property
    def sleeping(self) -> int:
        """How many tasks wait in sleep_until: lets a test know its loop went to sleep."""
        return sum(not woken.done() for _, woken in self._sleepers)

    def advance(self, by: timedelta) -> None:
        if by < timedelta(0):
            raise ValueError(f"advance({by!r}) would go back in time; use set() for a clock step")
        self.set(self._now + by)

    def set(self, moment: datetime) -> None:
        """Jump to `moment`, forward or back (a wall-clock step), and wake who is due."""
        self._now = _aware(moment).astimezone(UTC)
        still_asleep = []
        for due, woken in self._sleepers:
            if woken.done():  # the sleeper was cancelled
                continue
            if due <= self._now:
                woken.set_result(None)
            else:
                still_asleep.append((due, woken))
        self._sleepers = still_asleep


class AcceleratedClock:
    """Time that runs `speed` times faster than the wall clock, from the moment it is made
    (the demo: a 10-minute deadline passes in 10 s at speed 60). Starts at the real now."""

    def __init__(self, speed: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be above 0, not {speed}")
        self.speed = speed
        self._monotonic = monotonic
        self._start, self._real = datetime.now(UTC), self._monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(self._monotonic() - self._real) * self.speed)

    async def sleep_until(self, moment: datetime) -> None:
        _aware(moment)
        while (left := (moment - self.now()).total_seconds()) > 0:
            await asyncio.sleep(min(left / self.speed, MAX_NAP))

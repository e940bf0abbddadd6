"""One call's lane: the steps of its pops run in order, each once what it needs is ready
(the caller's context, the ringing agent's user, a loaded ticket), without holding up the
capture or other calls. A step with nothing ahead of it and its needs ready runs at once:
the usual ring costs no task at all."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

Step = Callable[[], None]


class Lane:
    def __init__(self, name: str, ready: Callable[[], asyncio.Future[Any]]) -> None:
        """`ready` gives what every step waits for first; it may be replaced meanwhile (a
        caller identified again), so it is asked again each time."""
        self.name = name
        self._ready = ready
        self._pending: deque[tuple[tuple[asyncio.Future[Any], ...], Step]] = deque()
        self._runner: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self._runner is not None

    def then(self, step: Step, *waits: asyncio.Future[Any]) -> None:
        """Run `step` after the earlier steps, once `ready()` and `waits` are done."""
        if not self._pending and self._ready().done() and all(w.done() for w in waits):
            self._run(step)
            return
        self._pending.append((waits, step))
        if self._runner is None:
            self._runner = asyncio.create_task(self._drain(), name=self.name)

    def cancel(self) -> asyncio.Task[None] | None:
        if self._runner is not None:
            self._runner.cancel()
        return self._runner

    async def _drain(self) -> None:
        try:
            while self._pending:
                waits, step = self._pending[0]
                while not (ready := self._ready()).done():
                    await asyncio.wait([ready])
                if waits:
                    await asyncio.wait(waits)
                self._pending.popleft()
                self._run(step)
        finally:
            self._runner = None

    def _run(self, step: Step) -> None:
        try:
            step()
        except Exception:
            log.exception("pop.step_failed", lane=self.name)

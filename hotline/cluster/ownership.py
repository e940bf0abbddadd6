"""The AMI side of one instance: the connection to Asterisk and the capture that stores what
it says, run only while this instance owns the AMI lease (several instances on PostgreSQL),
or all along (one instance: SQLite, or no lease given).

Taking over: the calls are restored from the store (the previous owner stored up to its
last fenced batch), then the client logs in and resynchronises from CoreShowChannels and
QueueStatus, as after any reconnect. Losing the lease (a renewal refused, the database out
of reach for longer than the lease): the client logs off at once, and whatever it had read
and not stored is fenced off and dropped; the new owner's snapshot has it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog

from hotline.ami.client import AmiClient
from hotline.calls.capture import CallCapture
from hotline.metrics import Metrics

from .lease import Held, Lease

log = structlog.get_logger(__name__)


class AmiOwnership:
    def __init__(self, client: AmiClient, capture: CallCapture, metrics: Metrics, lease: Lease | None = None, *, poll: timedelta = timedelta(seconds=1)) -> None:
        self.client, self.capture, self.metrics, self.lease, self.poll = client, capture, metrics, lease, poll
        self.owner = lease is None  # one instance owns it all along
        self.takeovers = 0
        if lease is not None:
            capture.store.fence = lease.fence
        metrics.gauge("hotline_ami_owner", lambda: float(self.owner))
        metrics.gauge("hotline_ami_takeovers", lambda: float(self.takeovers))

    async def run(self, stop: asyncio.Event) -> None:
        if self.lease is None:
            await self._own(stop, renewing=False)
            return
        while not stop.is_set():
            try:
                held = await self.lease.acquire()
            except Exception:  # the database out of reach: nobody can take it either
                log.exception("ami_ownership.acquire_failed")
                held = Held.NOT_OURS
            if held is Held.NOT_OURS:
                await self._wait(stop, self.poll)
                continue
            self.takeovers += 1
            self.metrics.inc("hotline_ami_takeovers_total")
            log.info("ami_ownership.taken", token=self.lease.token)
            try:
                await self.capture.restore()
            except Exception:
                log.exception("ami_ownership.restore_failed")
                await self._give_back()
                await self._wait(stop, self.poll)
                continue
            await self._own(stop, renewing=True)
            if stop.is_set():
                await self._give_back()

    async def _own(self, stop: asyncio.Event, *, renewing: bool) -> None:
        """Connected and capturing until stop, or until the lease is lost."""
        self.owner = True
        connection_stop = asyncio.Event()
        connecting = asyncio.create_task(self.client.run(connection_stop), name="ami")
        capturing = asyncio.create_task(self.capture.run(self.client.queue), name="capture")
        try:
            if renewing:
                await self._renew_until_lost(stop, {connecting, capturing})
            else:
                await self._either(stop, {connecting, capturing})
        finally:
            self.owner = False if renewing else self.owner
            connection_stop.set()
            await asyncio.wait({connecting}, timeout=5)
            self.client.queue.put_nowait(None)  # the capture stores (or drops, fenced) what was read, then ends
            await asyncio.wait({capturing}, timeout=10)
            for task in (connecting, capturing):
                task.cancel()
            results = await asyncio.gather(connecting, capturing, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    raise result

    async def _renew_until_lost(self, stop: asyncio.Event, tasks: set[asyncio.Task[None]]) -> None:
        assert self.lease is not None
        while not stop.is_set():
            if await self._either(stop, tasks, timeout=self.lease.renew_every.total_seconds()):
                return  # stopping, or a task ended (its error is raised by _own)
            try:
                kept = await self.lease.renew()
            except Exception:  # a renewal that cannot reach the database: tried again until the lease runs out
                log.exception("ami_ownership.renew_failed")
                kept = self.lease.held
            if not kept:
                self.metrics.inc("hotline_ami_leases_lost_total")
                log.warning("ami_ownership.lost", reason="another instance holds the lease, or it ran out")
                return

    async def _either(self, stop: asyncio.Event, tasks: set[asyncio.Task[None]], timeout: float | None = None) -> bool:
        """Wait for stop or a task ending (True), or the timeout (False)."""
        stopping = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({*tasks, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        return bool(done)

    async def _give_back(self) -> None:
        assert self.lease is not None
        try:
            await self.lease.release()
        except Exception:  # it runs out by itself
            log.exception("ami_ownership.release_failed")

    async def _wait(self, stop: asyncio.Event, period: timedelta) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period.total_seconds())

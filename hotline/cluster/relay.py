"""The console's events between instances: what one instance publishes on its bus (calls
captured by the AMI owner, tickets changed through any instance's API, callbacks placed)
is sent with PostgreSQL NOTIFY, and every other instance publishes it on its `remote` bus,
where only what shows things subscribes (screen pops, supervisors' feed, wallboard, the
calls mirror). Nothing that writes listens there: each change is made once, where it
happened.

Other channels carry other traffic on the same connection (`listen` / `post`): requests
to the AMI owner and their answers (forward.py); their handlers run as tasks of their own,
so a slow one never holds up the events.

One connection per instance (asyncpg) LISTENs and sends, in order; it is opened again
after a fault, and what was to be sent meanwhile goes out then. Notifications that arrive
while the connection is down are lost (PostgreSQL keeps none): a browser's reconnect and
the periodic views put the screens right. A payload over PostgreSQL's 8000 bytes is not
sent (counted, logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import asyncpg
import structlog
from sqlalchemy.engine import make_url

from hotline.events import EventBus
from hotline.metrics import Metrics

from .codec import CodecError, EventCodec

log = structlog.get_logger(__name__)

CHANNEL = "hotline_events"
NOTIFY_LIMIT = 7999  # bytes: PostgreSQL refuses a payload of 8000 or more
APPLICATION_NAME = "hotline-relay"  # pg_stat_activity shows each relay connection as "hotline-relay <instance>"


def asyncpg_dsn(database_url: str) -> str:
    """postgresql+asyncpg://u:p@h/db -> postgresql://u:p@h/db (asyncpg's own form)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class EventRelay:
    def __init__(self, dsn: str, instance: str, codec: EventCodec, metrics: Metrics, *, channel: str = CHANNEL, reconnect_max: float = 5.0) -> None:
        self.dsn, self.instance, self.codec, self.metrics, self.channel = dsn, instance, codec, metrics, channel
        self.reconnect_max = reconnect_max
        self.remote = EventBus()  # what the other instances published
        self.listening = asyncio.Event()  # set while LISTEN is on
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()  # (channel, payload)
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._others: dict[str, Callable[[str], Awaitable[None]]] = {}  # channel -> handler
        self._handling: set[asyncio.Task[None]] = set()
        # Run when LISTEN is on again after a gap (what was NOTIFYed meanwhile is lost): each
        # puts its picture right from the database.
        self.on_resumed: list[Callable[[], Awaitable[None]]] = []
        self._listened = False

    def watch(self, bus: EventBus, event_types: Iterable[type]) -> None:
        """Send what `bus` publishes of these types to the other instances."""
        for event_type in event_types:
            bus.subscribe(event_type, self.send)

    async def send(self, event: object) -> None:
        try:
            text = self.codec.encode(event, origin=self.instance)
        except CodecError:
            log.exception("relay.not_encodable", kind=type(event).__name__)
            return
        self.post(self.channel, text, kind=type(event).__name__)

    def listen(self, channel: str, handler: Callable[[str], Awaitable[None]]) -> None:
        """Every payload NOTIFYed on `channel` (by any instance, this one included) goes to
        `handler`, in a task of its own. Before run()."""
        self._others[channel] = handler

    def post(self, channel: str, text: str, *, kind: str = "") -> bool:
        """NOTIFY `text` on `channel` (in order with everything else sent); False when it is
        over PostgreSQL's limit and was not sent."""
        size = len(text.encode("utf-8"))
        if size > NOTIFY_LIMIT:
            self.metrics.inc("hotline_relay_too_large_total")
            log.warning("relay.too_large", channel=channel, kind=kind, size=size)
            return False
        self._outbox.put_nowait((channel, text))
        return True

    async def run(self, stop: asyncio.Event) -> None:
        delivering = asyncio.create_task(self._deliver(), name="relay.deliver")
        failures = 0
        try:
            while not stop.is_set():
                try:
                    await self._connection(stop)
                    failures = 0
                except Exception as exc:  # any fault of the connection (asyncpg has several kinds): open it again
                    failures += 1
                    log.warning("relay.connection_failed", error=str(exc) or type(exc).__name__)
                finally:
                    self.listening.clear()
                if stop.is_set():
                    break
                self.metrics.inc("hotline_relay_reconnects_total")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(self.reconnect_max, 0.1 * 2**failures) * random.uniform(0.8, 1.2))
        finally:
            delivering.cancel()
            for task in self._handling:
                task.cancel()
            await asyncio.gather(delivering, *self._handling, return_exceptions=True)

    async def _connection(self, stop: asyncio.Event) -> None:
        conn: asyncpg.Connection = await asyncio.wait_for(asyncpg.connect(self.dsn, server_settings={"application_name": f"{APPLICATION_NAME} {self.instance}"[:63]}), 10)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        try:
            await conn.add_listener(self.channel, self._heard)
            for channel in self._others:
                await conn.add_listener(channel, self._heard)
            self.listening.set()
            log.info("relay.listening", channel=self.channel, others=sorted(self._others))
            if self._listened:
                self.metrics.inc("hotline_relay_gaps_total")
                for resume in self.on_resumed:
                    self._spawn(resume())
            self._listened = True
            while not stop.is_set() and not lost.is_set():
                item = await self._next_to_send(stop, lost)
                if item is None:
                    continue
                try:
                    await conn.execute("SELECT pg_notify($1, $2)", *item)
                except BaseException:
                    self._outbox_put_front(item)  # sent after the reconnect, still in order
                    raise
                self.metrics.inc("hotline_relay_sent_total")
            if lost.is_set():
                raise ConnectionError("the relay's database connection was lost")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    async def _next_to_send(self, stop: asyncio.Event, lost: asyncio.Event) -> tuple[str, str] | None:
        if not self._outbox.empty():
            return self._outbox.get_nowait()
        waits = {asyncio.create_task(self._outbox.get()), asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())}
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            result = task.result()
            if isinstance(result, tuple):
                return result
        # A message taken by a getter that lost the race is not dropped.
        return None

    def _outbox_put_front(self, item: tuple[str, str]) -> None:
        rest = [item]
        while not self._outbox.empty():
            rest.append(self._outbox.get_nowait())
        for item in rest:
            self._outbox.put_nowait(item)

    def _heard(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        handler = self._others.get(channel)
        if handler is not None:
            self._spawn(handler(payload))
        else:
            self._inbox.put_nowait(payload)

    def _spawn(self, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("relay.handler_failed")

        task = asyncio.create_task(guarded())
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _deliver(self) -> None:
        """Publishes what was heard, one at a time, in the order heard."""
        while True:
            text = await self._inbox.get()
            try:
                event, envelope = self.codec.decode(text)
            except CodecError:
                self.metrics.inc("hotline_relay_unreadable_total")
                log.warning("relay.unreadable", head=text[:120])
                continue
            if envelope.get("origin") == self.instance:
                continue  # our own: published here already
            self.metrics.inc("hotline_relay_received_total")
            await self.remote.publish(event)

"""The AMI connection: panoramisk's Manager with our byte framer, login, keep-alive that
awaits the Pong, reconnect with back-off, and a resync snapshot after every login.

Reading the socket never waits on processing: whole messages go into an unbounded queue
owned by the capture task (Asterisk drops a client whose reads lag past writetimeout).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager
from panoramisk.message import Message as PanoramiskMessage

from hotline.config import AmiSettings
from hotline.errors import HotlineError
from hotline.metrics import Metrics

from .actions import clean_action
from .framing import AmiFramer, Banner, MalformedFrame, Message
from .snapshot import Snapshot, SnapshotRequested

log = structlog.get_logger(__name__)

QueueItem = Message | Snapshot | SnapshotRequested


class AmiDisconnected(HotlineError):
    """The AMI connection was lost before Asterisk answered."""

    error_id = "ami_disconnected"


class OriginateNotSent(AmiDisconnected):
    """Not connected to Asterisk: the Originate was not written, so it was not placed."""


class LoginRefused(HotlineError):
    """Asterisk refused the AMI login: check ami.username and ami.secret against manager.conf."""

    error_id = "ami_login_refused"


class _Protocol(AMIProtocol):
    """panoramisk's protocol, reading through our framer instead of decoding each read."""

    def __init__(self, client: AmiClient) -> None:
        super().__init__()
        self.client = client

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.framer = AmiFramer()
        self.lost = asyncio.Event()

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        client = self.client
        for frame in self.framer.feed(data):
            if type(frame) is dict:
                action_id = frame.get("ActionID")
                # An OriginateResponse is an event for the listeners, even when its action
                # timed out waiting for the first answer and is still registered.
                if action_id is not None and action_id in self.responses and frame.get("Event") != "OriginateResponse":
                    self.handle_message(PanoramiskMessage(frame))
                elif "Event" in frame:
                    client.on_event(frame)
            elif isinstance(frame, MalformedFrame):
                client.on_malformed(frame)
            elif isinstance(frame, Banner):
                self.version = frame.version

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()
        self.lost.set()

    def close(self) -> None:
        # Unlike panoramisk, never re-send actions after a reconnect (an Originate would
        # be placed twice): fail them, their owners decide.
        for action in list(self.responses.values()):
            if not action.future.done():
                action.future.set_exception(AmiDisconnected())
        self.responses.clear()
        if not self.closed:
            self.closed = True
            self.transport.close()


class _Manager(Manager):
    """panoramisk's Manager with its own reconnect and ping switched off: AmiClient owns both."""

    def connection_made(self, f: Any) -> None:
        pass

    def connection_lost(self, exc: Any) -> None:
        pass

    def ping(self) -> None:
        pass


class AmiClient:
    def __init__(self, settings: AmiSettings, metrics: Metrics, *, on_resync: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        # None is never queued by the client: the service queues it to stop the capture.
        self.queue: asyncio.Queue[QueueItem | None] = asyncio.Queue()
        self.connected = False
        self._protocol: _Protocol | None = None
        self._manager: _Manager | None = None
        self._on_resync = on_resync
        # Told every event as it is read, synchronously: they must only queue it (callbacks).
        self.listeners: list[Callable[[Message], None]] = []

    # -- called by the protocol, synchronously, for every frame ---------------------------

    def on_event(self, message: Message) -> None:
        self.metrics.inc("hotline_ami_events_read_total")
        self.queue.put_nowait(message)
        for listener in self.listeners:
            listener(message)

    def on_malformed(self, frame: MalformedFrame) -> None:
        self.metrics.inc("hotline_ami_malformed_frames_total")
        log.warning("ami.malformed_frame", reason=frame.reason, head=frame.raw[:80].decode("utf-8", "replace"))

    # -- the connection loop --------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                logged_in = await self._session(stop)
                failures = 0 if logged_in else failures + 1
            except LoginRefused as exc:
                failures += 1
                log.error("ami.login_refused", host=self.settings.host, port=self.settings.port, username=self.settings.username, message=str(exc))
            except (OSError, TimeoutError, AmiDisconnected) as exc:
                failures += 1
                log.warning("ami.connect_failed", host=self.settings.host, port=self.settings.port, error=str(exc) or type(exc).__name__)
            if stop.is_set():
                break
            delay = self._backoff(failures)
            self.metrics.inc("hotline_ami_reconnects_total")
            log.info("ami.reconnecting", in_seconds=round(delay, 2))
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass

    def _backoff(self, failures: int) -> float:
        base = min(self.settings.reconnect_max, self.settings.reconnect_min * 2 ** max(0, failures - 1))
        return base * random.uniform(0.8, 1.2)

    async def _session(self, stop: asyncio.Event) -> bool:
        s = self.settings
        manager = _Manager(host=s.host, port=s.port, protocol_factory=lambda: _Protocol(self), loop=asyncio.get_running_loop(), forgetable_actions=())
        _, protocol = await asyncio.wait_for(manager.connect(), s.connect_timeout)
        protocol.factory = manager
        protocol.encoding = "utf-8"
        manager.protocol = protocol
        self._manager, self._protocol = manager, protocol
        keepalive: asyncio.Task[None] | None = None
        # Everything this connection brings before its snapshot may be newer than it.
        self.queue.put_nowait(SnapshotRequested())
        try:
            await self._login()
            self.connected = True
            log.info("ami.connected", host=s.host, port=s.port, version=protocol.version)
            keepalive = asyncio.create_task(self._keepalive(protocol), name="ami-keepalive")
            await self.resync(requested=True)
            stopping = asyncio.create_task(stop.wait())
            lost = asyncio.create_task(protocol.lost.wait())
            await asyncio.wait({stopping, lost}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            lost.cancel()
            if not stop.is_set():
                log.warning("ami.disconnected", host=s.host, port=s.port)
            return True
        finally:
            self.connected = False
            if keepalive is not None:
                keepalive.cancel()
                await asyncio.gather(keepalive, return_exceptions=True)
            if stop.is_set() and not protocol.closed:
                await self._logoff()
            protocol.close()
            self._protocol = None

    async def _login(self) -> None:
        s = self.settings
        reply = await self.send_action({"Action": "Login", "Username": s.username, "Secret": s.secret, "Events": "on"})
        if reply.get("Response") != "Success":
            raise LoginRefused(f"Asterisk refused the AMI login for user {s.username!r}: {reply.get('Message', '')}")

    async def _logoff(self) -> None:
        try:
            await self.send_action({"Action": "Logoff"}, timeout=1.0)
        except (AmiDisconnected, TimeoutError, OSError):
            pass

    async def _keepalive(self, protocol: _Protocol) -> None:
        """panoramisk's ping never reads the Pong; a half-open link shows only here."""
        while not protocol.closed:
            await asyncio.sleep(self.settings.ping_interval)
            try:
                await self.send_action({"Action": "Ping"}, timeout=self.settings.ping_timeout)
            except TimeoutError:
                log.warning("ami.ping_timeout", after_seconds=self.settings.ping_timeout)
                protocol.transport.abort()
                return
            except AmiDisconnected:
                return

    async def send_action(self, action: dict[str, Any], *, timeout: float | None = None, as_list: bool | None = None) -> Any:
        """Send one action and await Asterisk's answer (a list of messages with as_list)."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise AmiDisconnected()
        future = protocol.send(clean_action(action), as_list=as_list)
        return await asyncio.wait_for(future, timeout or self.settings.ping_timeout * 2)

    async def send_originate(self, action: dict[str, Any]) -> Any:
        """An `Async: true` Originate: resolves with Asterisk's first answer ("Originate
        successfully queued", or an Error). Left to itself panoramisk would wait for the
        OriginateResponse event too (the whole ring time) and keep it from the listeners;
        as a single answer, the event that follows with the same ActionID is read like any
        other event. OriginateNotSent when not connected: nothing was written."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise OriginateNotSent()
        return await self.send_action(action, as_list=False)

    async def resync(self, *, requested: bool = False) -> None:
        """Ask what is live now; the snapshot goes into the queue behind the events before it."""
        if not requested:
            self.queue.put_nowait(SnapshotRequested())
        channels = await self.send_action({"Action": "CoreShowChannels"}, as_list=True, timeout=30)
        status = await self.send_action({"Action": "QueueStatus"}, as_list=True, timeout=30)
        pong = await self.send_action({"Action": "Ping"})
        at = datetime.fromtimestamp(float(pong.get("Timestamp") or 0), UTC) if pong.get("Timestamp") else datetime.now(UTC)
        snapshot = Snapshot(
            at=at,
            channels=_events(channels, "CoreShowChannel"),
            entries=_events(status, "QueueEntry"),
            members=_events(status, "QueueMember"),
            params=_events(status, "QueueParams"),
        )
        self.metrics.inc("hotline_ami_resyncs_total")
        log.info("ami.resync", channels=len(snapshot.channels), waiting=len(snapshot.entries))
        self.queue.put_nowait(snapshot)
        if self._on_resync is not None:
            self._on_resync()


def _events(replies: Any, name: str) -> list[Message]:
    if not isinstance(replies, list):
        return []
    return [{key: str(value) for key, value in reply.items()} for reply in replies if reply.get("Event") == name]

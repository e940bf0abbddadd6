"""The composition root: builds every part from Settings, starts them in order, watches
them, and stops them in reverse. The only module that knows all the parts."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from functools import partial

import structlog
from aiohttp import web

from hotline.ami.client import AmiClient
from hotline.ami.presence import AgentPresence
from hotline.ami.tracker import CallTracker
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.clock import SystemClock
from hotline.config import AmiSettings, Settings
from hotline.db.engine import create_engine
from hotline.db.migrate import upgrade
from hotline.events import EventBus
from hotline.metrics import Metrics
from hotline.routing.agi import FastAgiServer
from hotline.routing.answer import RoutingService
from hotline.routing.directory import CustomerDirectory
from hotline.routing.numbers import normalise
from hotline.routing.rules import rules_from_settings
from hotline.testing.pbx import PbxDouble
from hotline.users.store import UserStore
from hotline.web.app import create_app
from hotline.web.customers import add_customer_routes

log = structlog.get_logger(__name__)

DEMO_TRANSCRIPTS = ("answered-regular", "answered-vip", "chinese-names", "abandoned-in-queue", "agent-no-answer-then-answer", "keep-place")


class TaskCrashed(Exception):
    pass


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the service until `stop` is set; raises TaskCrashed if a part died."""
    await upgrade(settings.database.url)
    engine = create_engine(settings.database.url)
    metrics = Metrics()
    calls = CallStore(engine)
    bus = EventBus()
    pbx: PbxDouble | None = None
    ami_settings = settings.ami
    if settings.demo_pbx:
        pbx, ami_settings = await _start_demo_pbx(settings.ami)
    client = AmiClient(ami_settings, metrics)
    presence = AgentPresence()
    capture = CallCapture(CallTracker(settings.hotline.numbers), calls, bus, metrics, presence)
    directory = CustomerDirectory(engine, default_area_code=settings.routing.default_area_code)
    agi = _routing_server(settings, directory, presence, metrics)
    await agi.start()
    metrics.gauge("hotline_ami_connected", lambda: float(client.connected))
    metrics.gauge("hotline_ami_queue_depth", lambda: float(client.queue.qsize()))
    metrics.gauge("hotline_calls_live", lambda: float(len(capture.tracker.calls)))
    restored = await capture.restore()
    app = create_app(calls, UserStore(engine), metrics, lambda: client.connected)
    add_customer_routes(app, directory)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.web.host, settings.web.port)
    await site.start()
    log.info("service.started", url=f"http://{settings.web.host}:{_bound_port(runner, settings.web.port)}/", live_calls_restored=restored, demo_pbx=pbx is not None)
    ami_stop = asyncio.Event()
    ami = asyncio.create_task(client.run(ami_stop), name="ami")
    capturing = asyncio.create_task(capture.run(client.queue), name="capture")
    demo = asyncio.create_task(_play_demo(pbx, client), name="demo-pbx") if pbx is not None else None
    try:
        await _supervise({ami, capturing}, stop)
    finally:
        # AMI first (logs off), then the capture stores what was already read, then the rest.
        ami_stop.set()
        await asyncio.wait({ami}, timeout=5)
        client.queue.put_nowait(None)
        await asyncio.wait({capturing}, timeout=10)
        for task in (ami, capturing, demo):
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(*(t for t in (ami, capturing, demo) if t is not None), return_exceptions=True)
        await runner.cleanup()
        await agi.stop()
        if pbx is not None:
            await pbx.stop()
        await engine.dispose()
        log.info("service.stopped")


async def _supervise(tasks: set[asyncio.Task[None]], stop: asyncio.Event) -> None:
    """Wait for stop; a long-lived task that ends on its own stops the service."""
    stopping = asyncio.create_task(stop.wait(), name="stop")
    done, _ = await asyncio.wait(tasks | {stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    for task in done - {stopping}:
        error = task.exception() if not task.cancelled() else None
        log.error("task.crashed", task=task.get_name(), error=repr(error))
        raise TaskCrashed(task.get_name())


def _routing_server(settings: Settings, directory: CustomerDirectory, presence: AgentPresence, metrics: Metrics) -> FastAgiServer:
    """The FastAGI `route` answer: directory lookup + rules, the default route on any trouble."""
    r = settings.routing
    service = RoutingService(
        directory.lookup,
        rules_from_settings(r),
        SystemClock().now,
        presence.available,
        r.budget_ms,
        normalise=partial(normalise, default_area_code=r.default_area_code),
        metrics=metrics,
    )
    return FastAgiServer(r.agi_host, r.agi_port, {"route": service}, header_timeout=r.agi_header_timeout, metrics=metrics)


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return configured


async def _start_demo_pbx(ami: AmiSettings) -> tuple[PbxDouble, AmiSettings]:
    secret = secrets.token_hex(8)
    pbx = PbxDouble(username=ami.username, secret=secret)
    port = await pbx.start()
    log.warning("ami.demo_pbx", reason="no Asterisk configured (ami.host is empty): using the built-in demo PBX", port=port)
    return pbx, replace(ami, host="127.0.0.1", port=port, secret=secret)


async def _play_demo(pbx: PbxDouble, client: AmiClient) -> None:
    """Replays the recorded calls once the service has logged in to the demo PBX."""
    from hotline.testing.transcripts import recorded_events

    while not client.connected:
        await asyncio.sleep(0.05)
    for name in DEMO_TRANSCRIPTS:
        pbx.play(recorded_events(name))

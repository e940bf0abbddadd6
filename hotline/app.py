"""The composition root: builds every part from Settings, starts them in order, watches
them, and stops them in reverse. The only module that knows all the parts."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
import secrets
import socket
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.client import AmiClient
from hotline.ami.presence import AgentPresence
from hotline.ami.tracker import CallTracker
from hotline.callbacks.desk import CallbackDesk
from hotline.callbacks.dispatcher import CallbackDispatcher, Placing
from hotline.callbacks.model import CallbackKind
from hotline.callbacks.owed import LostCallers, LostCallPolicy
from hotline.callbacks.planner import FollowUpPlanner
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.clock import Clock, SystemClock
from hotline.cluster.lease import Lease
from hotline.cluster.ownership import AmiOwnership
from hotline.cluster.codec import EventCodec
from hotline.cluster.forward import AtTheOwner
from hotline.cluster.relay import EventRelay, asyncpg_dsn
from hotline.cluster.single import hold_single_instance
from hotline.callbacks.events import CallbackPlaced
from hotline.console.feed import CALL_EVENTS
from hotline.config import AmiSettings, Settings
from hotline.console.callback_pops import CallbackPops
from hotline.console.feed import ConsoleFeed
from hotline.floor.agents import FloorAgents
from hotline.floor.board import FloorBoard
from hotline.floor.events import AgentStateChanged
from hotline.floor.reports import FloorReports
from hotline.floor.spy import ListenIn
from hotline.keepplace.agi import KeepPlaceAgi
from hotline.keepplace.desk import KeepPlaceDesk, call_of_channel
from hotline.keepplace.model import KeepPlaceRules
from hotline.keepplace.scheduler import KeepPlaceScheduler, live_line_of
from hotline.console.hub import Hub
from hotline.console.pops import ScreenPops
from hotline.db.engine import create_engine, is_sqlite
from hotline.db.migrate import upgrade
from hotline.events import CallAnswered, EventBus
from hotline.metrics import Metrics
from hotline.routing.agi import FastAgiServer
from hotline.routing.answer import RoutingService
from hotline.routing.directory import CustomerDirectory
from hotline.routing.numbers import normalise
from hotline.routing.decide import in_working_hours
from hotline.routing.rules import rules_from_settings
from hotline.testing.pbx import PbxDouble
from hotline.tickets.departments import Departments
from hotline.tickets.events import CallLinkedToTicket, DeadlineBreached, DeadlineWarned, TicketChanged, TicketEvent, TicketOpened
from hotline.tickets.scheduler import DeadlineScheduler
from hotline.tickets.service import TicketService
from hotline.tickets.workdays import known_year
from hotline.users.guard import LoginGuard
from hotline.users.sessions import SessionStore
from hotline.users.store import UserStore
from hotline.web.app import AMI_OWNER, INSTANCE, create_app
from hotline.web.auth import add_auth_routes
from hotline.web.callbacks import add_callback_routes
from hotline.web.customers import add_customer_routes
from hotline.web.floor_agents import add_floor_agent_routes
from hotline.web.floor_reports import add_floor_report_routes
from hotline.web.floor_spy import add_floor_spy_routes
from hotline.web.keep_place import add_keep_place_routes
from hotline.web.pages import add_page_routes
from hotline.web.tickets import add_ticket_routes
from hotline.web.users import add_user_routes
from hotline.web.ws import add_ws_routes

log = structlog.get_logger(__name__)

DEMO_TRANSCRIPTS = ("answered-regular", "answered-vip", "chinese-names", "abandoned-in-queue", "agent-no-answer-then-answer", "keep-place")
# At start, answered calls this recent that have no ticket get one (a crash between
# storing the call and opening its ticket).
TICKET_CATCH_UP = timedelta(days=1)


class TaskCrashed(Exception):
    pass


@dataclass
class Parts:
    """Everything the service is made of, built from the settings."""

    engine: AsyncEngine
    clock: Clock
    metrics: Metrics
    bus: EventBus
    calls: CallStore
    client: AmiClient
    capture: CallCapture
    directory: CustomerDirectory
    agi: FastAgiServer
    tickets: TicketService
    departments: Departments
    deadlines: DeadlineScheduler
    users: UserStore
    sessions: SessionStore
    guard: LoginGuard
    hub: Hub
    pops: ScreenPops
    feed: ConsoleFeed
    callbacks: CallbackDispatcher
    lost_callers: LostCallers
    follow_ups: FollowUpPlanner
    floor_reports: FloorReports
    board: FloorBoard
    floor_agents: FloorAgents
    keep_place: KeepPlaceScheduler
    keep_desk: KeepPlaceDesk
    ownership: AmiOwnership
    relay: EventRelay | None
    at_owner: AtTheOwner | None
    pbx: PbxDouble | None


async def build(settings: Settings, clock: Clock | None = None) -> Parts:
    engine = create_engine(settings.database.url)
    clock, metrics, bus = clock or SystemClock(), Metrics(), EventBus()
    pbx: PbxDouble | None = None
    ami_settings = settings.ami
    if settings.demo_pbx:
        pbx, ami_settings = await _start_demo_pbx(settings.ami, clock)
    client = AmiClient(ami_settings, metrics)
    presence = AgentPresence()
    live = EventBus()  # call events once tracked, before stored: for the screen pops only
    capture = CallCapture(CallTracker(settings.hotline.numbers), CallStore(engine), bus, metrics, presence, live=live)
    directory = CustomerDirectory(engine, default_area_code=settings.routing.default_area_code)
    t = settings.tickets
    tickets = TicketService(engine, bus, clock, policy=t.policy(), calendar=t.calendar(), escalate_every=t.escalation_interval, directory=directory)
    deadlines = DeadlineScheduler(engine, bus, clock, escalate_every=t.escalation_interval, metrics=metrics)
    hub = Hub(clock)
    pops, feed = ScreenPops(hub, engine, directory, capture.store, repeat_days=settings.floor.repeat_days), ConsoleFeed(hub, engine, capture.store)
    callbacks, lost_callers = _callbacks(settings, engine, clock, metrics, client, capture.store, tickets, bus)
    _subscribe(bus, live, tickets, deadlines, pops, feed)
    callback_pops = CallbackPops(engine, directory, pops.agents, pops)
    callback_pops.subscribe(bus)
    lost_callers.subscribe(bus)
    c = settings.callbacks
    follow_ups = FollowUpPlanner(
        engine, clock, window=c.window(), is_working_day=t.calendar().is_working_day, tz=ZoneInfo(settings.routing.timezone),
        mode_of=c.mode_of, max_attempts=c.max_attempts, default_area_code=settings.routing.default_area_code, policy=t.policy(),
    )  # fmt: skip
    follow_ups.subscribe(bus)
    floor_reports = FloorReports(engine, clock, settings.floor, ZoneInfo(settings.routing.timezone), default_area_code=settings.routing.default_area_code, policy=t.policy())
    board = FloorBoard(hub, engine, clock, floor_reports.today)
    board.subscribe(bus)
    floor_agents = FloorAgents(engine, bus, clock, client.send_action, settings.floor, metrics, hub=hub, tz=ZoneInfo(settings.routing.timezone))
    client.listeners.append(floor_agents.on_ami_event)
    floor_agents.subscribe(bus)
    # Keep your place: after the lost-caller owing (it cancels a lost caller's callback
    # for a number whose place is kept).
    keep_rules = KeepPlaceRules(c.window(), ZoneInfo(settings.routing.timezone), t.calendar().is_working_day, c.max_attempts, settings.routing.default_area_code, c.default_agent_extension)
    keep_line = live_line_of(capture.store.live_records, settings.routing.default_area_code)
    keep_place = KeepPlaceScheduler(engine, clock, bus, agents=floor_agents.snapshot, live_line=keep_line, rules=keep_rules)
    keep_desk = KeepPlaceDesk(engine, clock, keep_rules, agents=floor_agents.snapshot, live_line=keep_line, call_of=call_of_channel(capture.tracker), on_request=keep_place.wake)
    board.virtual = keep_desk.waiting
    callback_pops.kept_place = keep_desk.of_callback
    users = UserStore(engine, clock)
    ownership = _ownership(settings, engine, clock, metrics, client, capture)
    if ownership.lease is not None:
        # What is heard from Asterisk is written only by the instance owning the connection.
        floor_agents.fence = callbacks.fence = keep_place.fence = ownership.lease.fence
    relay = _relay(settings, engine, metrics, bus, capture, pops, feed, board, callback_pops, floor_agents)
    at_owner = _at_owner(settings, relay, ownership, users, metrics, hub, capture.store, floor_agents)
    if c.enabled:  # the scheduler runs (and places kept places' callbacks) only then
        # An agent made ready is first offered to the kept place whose turn has come; an
        # agent handed one is held out of the queues until its callback is over.
        floor_agents.claim = keep_place.claim_agent
        keep_place.floor = floor_agents
    _warn_unknown_calendar_years(settings, clock)
    metrics.gauge("hotline_ami_connected", lambda: float(client.connected))
    metrics.gauge("hotline_ami_queue_depth", lambda: float(client.queue.qsize()))
    metrics.gauge("hotline_calls_live", lambda: float(len(capture.tracker.calls)))
    metrics.gauge("hotline_console_sockets", lambda: float(hub.count()))
    return Parts(
        engine, clock, metrics, bus, capture.store, client, capture, directory,
        _routing_server(settings, directory, presence, metrics, clock, keep_desk),
        tickets, Departments(engine, clock), deadlines,
        users, SessionStore(engine, clock), LoginGuard(engine, clock),
        hub, pops, feed, callbacks, lost_callers, follow_ups, floor_reports, board, floor_agents, keep_place, keep_desk,
        ownership, relay, at_owner, pbx,
    )  # fmt: skip


# What the console shows, carried between instances (several on PostgreSQL).
RELAYED: tuple[type, ...] = (*CALL_EVENTS, TicketOpened, TicketChanged, CallLinkedToTicket, DeadlineWarned, DeadlineBreached, CallbackPlaced, AgentStateChanged)


def _relay(settings: Settings, engine: AsyncEngine, metrics: Metrics, bus: EventBus, capture: CallCapture, pops: ScreenPops, feed: ConsoleFeed, board: FloorBoard, callback_pops: CallbackPops, floor_agents: FloorAgents) -> EventRelay | None:
    """On PostgreSQL: what this instance publishes goes to the others, and what they publish
    reaches only what shows things here (the live calls' and agents' mirrors first, then
    pops, the supervisors' feed, the wallboard, callback pops). None on SQLite (one instance)."""
    if is_sqlite(engine):
        return None
    relay = EventRelay(asyncpg_dsn(settings.database.url), instance_name(settings), EventCodec(RELAYED), metrics)
    relay.watch(bus, RELAYED)
    for event_type in CALL_EVENTS:
        relay.remote.subscribe(event_type, capture.store.observe)
    pops.subscribe(relay.remote, calls_from=relay.remote)
    feed.subscribe(relay.remote)
    board.subscribe(relay.remote)
    callback_pops.subscribe(relay.remote)
    relay.remote.subscribe(AgentStateChanged, floor_agents.observe)
    return relay


def _at_owner(settings: Settings, relay: EventRelay | None, ownership: AmiOwnership, users: UserStore, metrics: Metrics, hub: Hub, calls: CallStore, floor_agents: FloorAgents) -> AtTheOwner | None:
    """Several instances: floor actions and listen-in asked here are done by the AMI owner.
    After a gap in the relay (its connection lost), an instance that does not own AMI reads
    the live calls and the agents' states again and has every page reconnect (the same
    hello as after any reconnect)."""
    if relay is None or ownership.lease is None:
        return None

    async def resumed() -> None:
        if ownership.owner:
            return  # its own pictures are the source: nothing was missed
        await calls.load_live()
        floor_agents.reload()
        log.info("relay.resumed", pages=hub.reconnect_all())

    relay.on_resumed.append(resumed)
    return AtTheOwner(relay, instance_name(settings), is_owner=lambda: ownership.owner, someone_owns=ownership.lease.someone_owns, user=users.get, metrics=metrics)


def _ownership(settings: Settings, engine: AsyncEngine, clock: Clock, metrics: Metrics, client: AmiClient, capture: CallCapture) -> AmiOwnership:
    """On PostgreSQL several instances may run: the AMI connection and the capture only
    while this one holds the AMI lease. SQLite runs one instance: all along."""
    if is_sqlite(engine):
        return AmiOwnership(client, capture, metrics)
    lease = Lease(engine, clock, instance_name(settings), ttl=settings.cluster.lease_ttl)
    return AmiOwnership(client, capture, metrics, lease, poll=settings.cluster.poll)


def instance_name(settings: Settings) -> str:
    return settings.cluster.instance_name or f"{socket.gethostname()}:{os.getpid()}"


def _callbacks(settings: Settings, engine: AsyncEngine, clock: Clock, metrics: Metrics, client: AmiClient, calls: CallStore, tickets: TicketService, bus: EventBus) -> tuple[CallbackDispatcher, LostCallers]:
    """Callbacks: who is owed one (lost callers now; follow-ups by the planner) and the
    dispatcher that places them through the AMI connection and hears their events."""
    c, r = settings.callbacks, settings.routing
    calendar = settings.tickets.calendar()
    rules = rules_from_settings(r, working_day=calendar.is_working_day)
    lost = LostCallers(engine, calls, clock, LostCallPolicy(c.mode_of(CallbackKind.ABANDONED), c.max_attempts, r.default_area_code), in_working_hours=partial(in_working_hours, rules))
    placing = Placing(c.agent_channel, c.outbound_channel, c.default_agent_extension, c.ring_seconds, c.max_concurrent, c.window(), c.retry(), ZoneInfo(r.timezone))

    async def live_channels() -> set[str]:
        replies = await client.send_action({"Action": "CoreShowChannels"}, as_list=True, timeout=30)
        return {str(m.get("Uniqueid")) for m in replies if m.get("Event") == "CoreShowChannel"}

    dispatcher = CallbackDispatcher(engine, clock, placing, client.send_originate, is_working_day=calendar.is_working_day, live_channels=live_channels, on_result=tickets.report_callback, metrics=metrics, bus=bus)
    client.listeners.append(dispatcher.on_ami_event)
    return dispatcher, lost


def _subscribe(bus: EventBus, live: EventBus, tickets: TicketService, deadlines: DeadlineScheduler, pops: ScreenPops, feed: ConsoleFeed) -> None:
    """Who hears what. Screen pops hear call events on the `live` bus, before they are
    stored (a ring pops at once, even in a burst), and ticket events on the bus; the feed
    next (the bus runs handlers in subscription order, so it never waits behind a ticket
    being opened); every answered call opens (or joins) a ticket; a ticket change may
    bring a deadline nearer, so the scheduler looks again at once."""

    async def wake_scheduler(_: TicketEvent) -> None:
        deadlines.notify()

    pops.subscribe(bus, calls_from=live)
    feed.subscribe(bus)
    bus.subscribe(CallAnswered, tickets.on_call_answered)
    bus.subscribe(TicketOpened, wake_scheduler)
    bus.subscribe(TicketChanged, wake_scheduler)


def _warn_unknown_calendar_years(settings: Settings, clock: Clock) -> None:
    """chinesecalendar knows a year only once it is published: say so before it bites."""
    entered = {d[:4] for d in (*settings.tickets.holidays, *settings.tickets.extra_workdays)}
    this_year = clock.now().year
    for year in (this_year, this_year + 1):
        if not known_year(year) and str(year) not in entered:
            log.warning("calendar.year_unknown", year=year, fallback="Monday to Friday", fix="enter its holidays and swapped working days in [tickets] holidays / extra_workdays")


# Something run beside the service once it serves, until the event is set (the demo's callers).
Beside = Callable[[Parts, asyncio.Event], Awaitable[None]]


async def serve(settings: Settings, stop: asyncio.Event, *, clock: Clock | None = None, beside: Beside | None = None) -> None:
    """Run the service until `stop` is set; raises TaskCrashed if a part died. `clock`:
    the service's time (the demo's may run faster); `beside`: run along, once serving;
    without it the demo PBX (no Asterisk configured) replays the recorded calls once."""
    single = hold_single_instance(settings.database.url)  # SQLite: a second instance is refused
    try:
        await _serve(settings, stop, clock, beside)
    finally:
        single.release()


async def _serve(settings: Settings, stop: asyncio.Event, clock: Clock | None, beside: Beside | None) -> None:
    await upgrade(settings.database.url)
    parts = await build(settings, clock)
    await parts.agi.start()
    restored = await parts.capture.restore()
    opened = await parts.tickets.open_for_answered_calls(since=parts.clock.now() - TICKET_CATCH_UP)
    runner = await _start_web(settings, parts)
    log.info("service.started", url=f"http://{settings.web.host}:{_bound_port(runner, settings.web.port)}/", live_calls_restored=restored, tickets_caught_up=opened, demo_pbx=parts.pbx is not None)
    ami_stop, deadlines_stop = asyncio.Event(), asyncio.Event()
    # The AMI connection and the capture (only while this instance owns the AMI lease, when
    # several share PostgreSQL).
    ami = asyncio.create_task(parts.ownership.run(ami_stop), name="ami")
    deadlines = asyncio.create_task(parts.deadlines.run(deadlines_stop), name="deadlines")
    relaying = asyncio.create_task(parts.relay.run(deadlines_stop), name="relay") if parts.relay is not None else None
    long_lived = {ami, deadlines, asyncio.create_task(parts.follow_ups.run(deadlines_stop), name="follow-ups"), asyncio.create_task(parts.board.run(deadlines_stop), name="wallboard"),
                  asyncio.create_task(parts.floor_agents.run(deadlines_stop, lambda: parts.client.connected), name="floor-agents")}
    if relaying is not None:
        long_lived.add(relaying)
    callbacks_stop = asyncio.Event()
    placing = asyncio.create_task(parts.callbacks.run(callbacks_stop, lambda: parts.client.connected), name="callbacks") if settings.callbacks.enabled else None
    if placing is not None:
        long_lived.add(placing)
        long_lived.add(asyncio.create_task(parts.keep_place.run(callbacks_stop, lambda: parts.ownership.owner), name="keep-place"))
    if beside is not None:
        demo: asyncio.Task[None] | None = asyncio.create_task(beside(parts, deadlines_stop), name="beside")
    else:
        demo = asyncio.create_task(_play_demo(parts.pbx, parts.client), name="demo-pbx") if parts.pbx is not None else None
    tasks = [t for t in (*long_lived, demo) if t is not None]
    try:
        await _supervise(long_lived, stop)
    finally:
        # Callbacks first (a round in hand finishes: a call being placed gets its answer),
        # then AMI (logs off, the capture stores what was already read, the lease is given
        # back); the deadline
        # scheduler and the planner end after their round (cancelled mid-round, they roll back).
        callbacks_stop.set()
        if placing is not None:
            await asyncio.wait({placing}, timeout=5)
        ami_stop.set()
        deadlines_stop.set()
        await asyncio.wait({ami}, timeout=15)
        await asyncio.wait(long_lived - {ami}, timeout=10)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()
        await parts.pops.aclose()
        await parts.feed.aclose()
        await parts.agi.stop()
        if parts.pbx is not None:
            await parts.pbx.stop()
        await parts.engine.dispose()
        log.info("service.stopped")


async def _start_web(settings: Settings, parts: Parts) -> web.AppRunner:
    runner = web.AppRunner(web_app(settings, parts), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.web.host, settings.web.port).start()
    return runner


def web_app(settings: Settings, parts: Parts) -> web.Application:
    """Every route the service serves: API, log-in, pages, WebSocket."""
    app = create_app(parts.calls, parts.users, parts.metrics, lambda: parts.client.connected)
    app[AMI_OWNER] = lambda: parts.ownership.owner
    app[INSTANCE] = instance_name(settings)
    add_auth_routes(app, parts.users, parts.sessions, parts.guard, secure_cookies=settings.web.secure_cookies)
    add_user_routes(app, parts.users, parts.sessions, on_change=[parts.hub.disconnect, parts.pops.agents.invalidate, parts.floor_agents.invalidate_users])
    add_customer_routes(app, parts.directory)
    add_ticket_routes(app, parts.tickets, parts.departments)
    c = settings.callbacks
    desk = CallbackDesk(parts.engine, parts.clock, mode_of=c.mode_of, max_attempts=c.max_attempts, default_area_code=settings.routing.default_area_code, complaint_found=parts.tickets.complaint_found)
    add_callback_routes(app, desk)
    add_ws_routes(app, parts.hub, hello=[parts.pops.hello, parts.feed.hello, parts.board.hello, parts.floor_agents.hello])
    add_page_routes(app)
    add_floor_report_routes(app, parts.floor_reports)
    add_floor_agent_routes(app, parts.floor_agents, parts.at_owner)
    add_floor_spy_routes(app, ListenIn(parts.engine, parts.clock, parts.client.send_originate, settings.floor), parts.at_owner)
    add_keep_place_routes(app, parts.keep_desk)
    return app


async def _supervise(tasks: set[asyncio.Task[None]], stop: asyncio.Event) -> None:
    """Wait for stop; a long-lived task that ends on its own stops the service."""
    stopping = asyncio.create_task(stop.wait(), name="stop")
    done, _ = await asyncio.wait(tasks | {stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    for task in done - {stopping}:
        error = task.exception() if not task.cancelled() else None
        log.error("task.crashed", task=task.get_name(), error=repr(error))
        raise TaskCrashed(task.get_name())


def _routing_server(settings: Settings, directory: CustomerDirectory, presence: AgentPresence, metrics: Metrics, clock: Clock, keep_desk: KeepPlaceDesk) -> FastAgiServer:
    """The FastAGI answers: `route` (directory lookup + rules, the default route on any
    trouble) and `keep_place` (a waiting caller pressed 1 to be called back)."""
    r = settings.routing
    service = RoutingService(
        directory.lookup,
        rules_from_settings(r),
        clock.now,
        presence.available,
        r.budget_ms,
        normalise=partial(normalise, default_area_code=r.default_area_code),
        metrics=metrics,
    )
    handlers = {"route": service, "keep_place": KeepPlaceAgi(keep_desk.request, metrics=metrics)}
    return FastAgiServer(r.agi_host, r.agi_port, handlers, header_timeout=r.agi_header_timeout, metrics=metrics)


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return configured


async def _start_demo_pbx(ami: AmiSettings, clock: Clock) -> tuple[PbxDouble, AmiSettings]:
    from hotline.demo.pbx import DemoPbx

    secret = secrets.token_hex(8)
    pbx = DemoPbx(clock, username=ami.username, secret=secret)
    port = await pbx.start()
    log.warning("ami.demo_pbx", reason="no Asterisk configured (ami.host is empty): using the built-in demo PBX", port=port)
    return pbx, replace(ami, host="127.0.0.1", port=port, secret=secret)


async def _play_demo(pbx: PbxDouble | None, client: AmiClient) -> None:
    """Replays the recorded calls once the service has logged in to the demo PBX."""
    from hotline.testing.transcripts import recorded_events

    assert pbx is not None
    while not client.connected:
        await asyncio.sleep(0.05)
    for name in DEMO_TRANSCRIPTS:
        pbx.play(recorded_events(name))

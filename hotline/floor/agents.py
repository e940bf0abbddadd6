"""The floor's agents as a service: their states from Asterisk's events (floor/states.py),
stored as intervals, told on the bus and to the console; the actions agents and supervisors
take (签入/签出, 示闲/示忙, 结束话后整理, forced pause and log-out) sent over AMI and
recorded; after-call work after each answered call, and supervisors told when it runs long;
the time each agent spent in each state over a day.

Asterisk's events are the truth: an action only asks, and the state comes back as events,
whoever caused them. An action expects its change for a while, so the change it brings
is stored with its source and who asked; any other change is the phone's.

Over the 400-line guide: the loop, the actions and the report share the live states, the
users map and the expectations, and read best together; the pure parts are in states.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog
from structlog.contextvars import bound_contextvars
from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.client import AmiDisconnected
from hotline.ami.framing import Message
from hotline.ami.tracker import UntimedEvent, event_time
from hotline.clock import Clock
from hotline.config import FloorSettings
from hotline.console.hub import STAFF, Hub
from hotline.cluster.lease import LeaseLost
from hotline.db.engine import Fence, write_transaction
from hotline.db.tables import users
from hotline.errors import BadRequest, HotlineError, NotFound
from hotline.events import CallAnswered, CallEnded, EventBus, Outcome
from hotline.metrics import Metrics
from hotline.users.store import Role, User

from .events import AgentStateChanged, WrapupOverLimit
from .states import MEMBER_EVENTS, AgentState, AgentStates, AgentStatus, Interval, StateChange, Timesheet, agent_extension, time_in_states
from .tables import agent_states, floor_actions

log = structlog.get_logger(__name__)

EXPECT_FOR = timedelta(seconds=30)  # how long an action's change is waited for as its own
SETTLE_SECONDS = 2.0  # an action's answer waits this long (real time) for its change to come back
LINK_CHECK_SECONDS = 0.5  # how often the loop looks at the AMI link (real time: it is a socket)
USERS_EVERY = timedelta(minutes=1)
REASON_LENGTH = 40  # agent_states.reason
# The pause that holds an agent for a kept place's callback (keep your place): Asterisk
# offers them no queue call while the callback rings them and until it has ended.
KEPT_PLACE_REASON = "保留排位回呼"
_BENIGN = {"QueueAdd": "Already there", "QueueRemove": "Not there"}  # the wanted state already holds


class Send(Protocol):
    """AmiClient.send_action."""

    async def __call__(self, action: dict[str, Any], *, timeout: float | None = None, as_list: bool | None = None) -> Any: ...


class Source(enum.StrEnum):
    CONSOLE = "console"
    SUPERVISOR = "supervisor"
    PHONE = "phone"
    RESYNC = "resync"
    KEEP_PLACE = "keep_place"  # held for a kept place's callback, and released after it


# --- errors -----------------------------------------------------------------------------


class FloorForbidden(HotlineError):
    """Your role may not do this on the floor."""

    error_id = "forbidden"


class NoExtension(HotlineError):
    """Your account has no extension: an admin gives agents theirs."""

    error_id = "no_extension"


class NotLoggedIn(HotlineError):
    """The agent is not logged in to any queue (签入 first)."""

    error_id = "not_logged_in"


class NotInWrapup(HotlineError):
    """The agent is not in after-call work."""

    error_id = "not_in_wrapup"


class UnknownAgent(NotFound):
    """No agent with that extension is known on the floor."""


class PbxRefused(HotlineError):
    """Asterisk refused the action."""

    error_id = "pbx_refused"


class PbxNoAnswer(HotlineError):
    """Asterisk did not answer the action in time; look at the agent's state before trying again."""

    error_id = "pbx_no_answer"


# --- what the floor shows -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent as the floor shows it (GET /api/floor/agents, the `agent_state` message).

    view(): {"extension": "8001", "user_id": 2 | null, "name": "张三" | null,
    "member": "agent-8001" | null, "state": "paused", "reason": "小休" | null,
    "since": ISO 8601 UTC | null, "queues": ["hotline"]}. `since` is null for an agent user
    never seen in a queue; `reason` is set for paused and wrapup only."""

    extension: str
    user_id: int | None
    name: str | None
    member: str | None
    state: AgentState
    reason: str | None
    since: datetime | None
    queues: tuple[str, ...]

    def view(self) -> dict[str, Any]:
        return {
            "extension": self.extension, "user_id": self.user_id, "name": self.name, "member": self.member,
            "state": self.state.value, "reason": self.reason, "since": self.since, "queues": list(self.queues),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action did: Asterisk's answer per action sent, and whether the change it
    asked for came back (settled) before the answer was given."""

    action: str
    extension: str
    ok: bool
    answers: list[dict[str, str]]
    settled: bool
    agent: AgentRow

    def view(self) -> dict[str, Any]:
        return {"action": self.action, "extension": self.extension, "ok": self.ok, "answers": self.answers, "settled": self.settled, "agent": self.agent.view()}


@dataclass(frozen=True, slots=True)
class AgentDay:
    """Seconds in each state over one local day (GET /api/floor/agents/time)."""

    extension: str
    user_id: int | None
    name: str | None
    sheet: Timesheet

    def view(self) -> dict[str, Any]:
        s = self.sheet
        return {
            "extension": self.extension, "user_id": self.user_id, "name": self.name, "logged_in": round(s.logged_in, 3),
            "ready": round(s.ready, 3), "ringing": round(s.ringing, 3), "on_call": round(s.on_call, 3), "wrapup": round(s.wrapup, 3),
            "paused": {reason: round(seconds, 3) for reason, seconds in sorted(s.paused.items())},
        }  # fmt: skip


# --- inside ---------------------------------------------------------------------------------


class _Want(enum.Enum):
    IN = "in"
    OUT = "out"
    PAUSED = "paused"
    READY = "ready"


@dataclass(eq=False)
class _Expectation:
    extension: str
    want: _Want
    reason: str | None
    source: Source
    by_user_id: int | None
    until: datetime
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    def explains(self, change: StateChange) -> bool:
        if self.want is _Want.OUT:
            return change.state is AgentState.LOGGED_OUT
        if self.want is _Want.IN:
            return change.previous in (None, AgentState.LOGGED_OUT) and change.state is not AgentState.LOGGED_OUT
        if self.want is _Want.PAUSED:
            return change.state in (AgentState.PAUSED, AgentState.WRAPUP) and change.reason == self.reason
        return change.state is AgentState.READY


@dataclass(frozen=True, slots=True)
class _Ask:
    """One action on one agent: what is sent, the change it expects, what is recorded."""

    action: str  # floor_actions.action
    extension: str
    sends: list[dict[str, Any]]
    want: _Want
    wanted_reason: str | None = None  # the reason the pause coming back must carry
    why: str | None = None  # floor_actions.reason
    source: Source = Source.CONSOLE


@dataclass(frozen=True, slots=True)
class _AfterCall:
    call_id: str
    extension: str


@dataclass(frozen=True, slots=True)
class _Told:
    change: StateChange
    source: Source
    by_user_id: int | None
    expectation: _Expectation | None


class FloorAgents:
    def __init__(
        self, engine: AsyncEngine, bus: EventBus, clock: Clock, send: Send, settings: FloorSettings, metrics: Metrics, *,
        hub: Hub | None = None, tz: ZoneInfo = ZoneInfo("Asia/Shanghai"), settle_seconds: float = SETTLE_SECONDS, link_check: float = LINK_CHECK_SECONDS,
    ) -> None:  # fmt: skip
        self.engine, self.bus, self.clock, self.send, self.settings, self.metrics = engine, bus, clock, send, settings, metrics
        self.hub, self.tz, self.settle_seconds, self.link_check = hub, tz, settle_seconds, link_check
        self.states = AgentStates(settings.wrapup_reason)
        self._inbox: deque[Message | _AfterCall] = deque()
        self._arrived = asyncio.Event()
        self._unstored: list[_Told] = []
        self._expected: dict[str, _Expectation] = {}
        self._answered: dict[str, str] = {}  # call id -> the extension that answered it
        self._users: dict[str, tuple[int, str]] = {}  # extension -> (agent user id, name)
        self._users_at: datetime | None = None
        self._told_over: set[tuple[str, datetime]] = set()
        self._synced = False
        self._restored = False
        self.resyncs = 0  # QueueStatus snapshots taken in (one per login to Asterisk)
        # Set by the composition root: KeepPlaceScheduler.claim_agent. Asked before an agent
        # is made ready: a kept place whose turn has come takes the agent first (Asterisk
        # would otherwise offer them the next live caller, who came later).
        self.claim: Callable[[str], Awaitable[str | None]] | None = None
        # Several instances: Lease.fence, first in each transaction storing states heard from
        # Asterisk; once another instance owns the AMI connection, nothing of ours is stored.
        self.fence: Fence | None = None

    # -- hearing (synchronous: only queue) ----------------------------------------------------

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(CallAnswered, self.on_call_answered)
        bus.subscribe(CallEnded, self.on_call_ended)

    def on_ami_event(self, message: Message) -> None:
        """An AmiClient listener: queue-member events for the loop; a login's FullyBooted
        says a new session began, whose QueueStatus the loop must read again."""
        event = message.get("Event")
        if event in MEMBER_EVENTS:
            self._inbox.append(message)
            self._arrived.set()
        elif event == "FullyBooted":
            self._synced = False
            self._arrived.set()

    async def on_call_answered(self, event: CallAnswered) -> None:
        extension = _extension_of_agent(event.interface, event.agent, self.states)
        if extension is not None:
            self._answered[event.call_id] = extension

    async def on_call_ended(self, event: CallEnded) -> None:
        extension = self._answered.pop(event.call_id, None)
        if extension is None or event.outcome is not Outcome.ANSWERED or event.reconciled or not self.settings.wrapup_after_calls:
            return
        self._inbox.append(_AfterCall(event.call_id, extension))
        self._arrived.set()

    async def observe(self, event: AgentStateChanged) -> None:
        """Several instances: a change the AMI owner stored (relayed), shown here too, for
        the supervisors and agents whose browsers are connected to this instance."""
        current = self.states.status(event.extension)
        if current is not None and current.since > event.at:
            return  # older than what is shown
        interface = current.interface if current is not None else None
        self.states.restore([AgentStatus(event.extension, event.state, event.reason, event.at, event.member, interface, event.queues)])
        if self.hub is not None:
            message = {"type": "agent_state", "agent": self.agent(event.extension).view(), "previous": event.previous.value if event.previous else None, "source": event.source}
            self.hub.send(message, users=[event.user_id] if event.user_id is not None else [], roles=STAFF)

    def reload(self) -> None:
        """Several instances, on one that does not own AMI: the stored states are read again
        next round (relayed changes were missed)."""
        self._restored = False
        self._arrived.set()

    def invalidate_users(self, _user_id: int | None = None) -> None:
        """A user changed (web/users.py's on_change): names and extensions are read again."""
        self._users_at = None
        self._arrived.set()

    # -- what the floor shows --------------------------------------------------------------------

    def snapshot(self) -> list[AgentRow]:
        """Every agent known on the floor, by extension: those seen in a queue (or stored),
        and agent users with an extension never seen (logged_out, since null)."""
        current = self.states.current()
        rows = [self._row(status) for status in current.values()]
        rows += [AgentRow(ext, uid, name, None, AgentState.LOGGED_OUT, None, None, ()) for ext, (uid, name) in self._users.items() if ext not in current]
        return sorted(rows, key=lambda row: row.extension)

    def agent(self, extension: str) -> AgentRow:
        status = self.states.status(extension)
        if status is not None:
            return self._row(status)
        uid, name = self._users.get(extension, (None, None))
        return AgentRow(extension, uid, name, None, AgentState.LOGGED_OUT, None, None, ())

    def hello(self, user: User) -> Mapping[str, Any]:
        """The WebSocket greeting's part: supervisors and admins get every agent, an agent
        their own row."""
        if user.role in STAFF:
            return {"agents": [row.view() for row in self.snapshot()]}
        if user.role is Role.AGENT and user.extension:
            return {"agent_state": self.agent(user.extension).view()}
        return {}

    def _row(self, status: AgentStatus) -> AgentRow:
        uid, name = self._users.get(status.extension, (None, None))
        return AgentRow(status.extension, uid, name, status.member, status.state, status.reason, status.since, status.queues)

    # -- actions ---------------------------------------------------------------------------------

    async def log_in(self, actor: User) -> ActionResult:
        extension = _own_extension(actor)
        sends = [self._queue_add(extension, queue) for queue in self.settings.login_queues]
        return await self._act(_Ask("log_in", extension, sends, _Want.IN), actor)

    async def log_out(self, actor: User) -> ActionResult:
        extension = _own_extension(actor)
        return await self._act(_Ask("log_out", extension, self._queue_removes(extension), _Want.OUT), actor)

    async def pause(self, actor: User, reason: str) -> ActionResult:
        extension = _own_extension(actor)
        if reason not in self.settings.pause_reasons:
            raise BadRequest(f"reason must be one of: {', '.join(self.settings.pause_reasons)}", reason=reason)
        return await self._act(_Ask("pause", extension, self._queue_pauses(extension, reason), _Want.PAUSED, reason, why=reason), actor)

    async def ready(self, actor: User) -> ActionResult:
        extension = _own_extension(actor)
        sends = self._queue_pauses(extension, None)
        if await self._claimed(extension):
            return await self._act(self._hold(extension), actor)
        return await self._act(_Ask("unpause", extension, sends, _Want.READY), actor)

    async def end_wrapup(self, actor: User) -> ActionResult:
        """Ends after-call work (recorded as an unpause whose why is the after-call reason,
        so the time it took is measured)."""
        extension = _own_extension(actor)
        status = self.states.status(extension)
        if status is None or status.state is not AgentState.WRAPUP:
            raise NotInWrapup(state=status.state.value if status else AgentState.LOGGED_OUT.value)
        sends = self._queue_pauses(extension, None)
        if await self._claimed(extension):
            return await self._act(self._hold(extension), actor)
        return await self._act(_Ask("unpause", extension, sends, _Want.READY, why=self.settings.wrapup_reason), actor)

    # -- keep your place: an agent held for a kept place's callback --------------------------

    async def hold_for_kept_place(self, extension: str) -> None:
        """A kept place's callback was handed to this ready agent: paused in every queue
        (KEPT_PLACE_REASON) so that Asterisk offers them no live caller meanwhile."""
        status = self.states.status(extension)
        if status is None or status.state is AgentState.LOGGED_OUT or (status.state is AgentState.PAUSED and status.reason == KEPT_PLACE_REASON):
            return
        try:
            await self._act(self._hold(extension), None, wait=False)
        except HotlineError as exc:  # the callback rings them all the same; logged
            log.warning("floor.kept_place_hold_failed", extension=extension, error=exc.error_id)

    async def release_from_kept_place(self, extension: str) -> None:
        """Their kept place's callback is over (or waits for a retry): ready again, unless
        the next kept place whose turn has come takes them (then they stay held)."""
        status = self.states.status(extension)
        if status is None or status.state is not AgentState.PAUSED or status.reason != KEPT_PLACE_REASON:
            return
        if await self._claimed(extension):
            return
        try:
            sends = self._queue_pauses(extension, None)
            await self._act(_Ask("unpause", extension, sends, _Want.READY, why=KEPT_PLACE_REASON, source=Source.KEEP_PLACE), None, wait=False)
        except HotlineError as exc:  # the next round tries again
            log.warning("floor.kept_place_release_failed", extension=extension, error=exc.error_id)

    def _hold(self, extension: str) -> _Ask:
        sends = self._queue_pauses(extension, KEPT_PLACE_REASON)
        return _Ask("pause", extension, sends, _Want.PAUSED, KEPT_PLACE_REASON, why=KEPT_PLACE_REASON, source=Source.KEEP_PLACE)

    async def _claimed(self, extension: str) -> bool:
        """Whether a kept place took this agent (never keeps an agent from ready on a fault)."""
        if self.claim is None:
            return False
        try:
            return await self.claim(extension) is not None
        except Exception:
            log.exception("floor.kept_place_claim_failed", extension=extension)
            return False

    async def force_pause(self, actor: User, extension: str, reason: str) -> ActionResult:
        """A supervisor pauses an agent; the reason goes to Asterisk as the pause's reason."""
        _supervising(actor)
        self._known(extension)
        why = _reason(reason)
        sends = self._queue_pauses(extension, why)
        return await self._act(_Ask("force_pause", extension, sends, _Want.PAUSED, why, why=why, source=Source.SUPERVISOR), actor)

    async def force_log_out(self, actor: User, extension: str, reason: str) -> ActionResult:
        _supervising(actor)
        self._known(extension)
        why = _reason(reason, limit=4000)
        return await self._act(_Ask("force_log_out", extension, self._queue_removes(extension), _Want.OUT, why=why, source=Source.SUPERVISOR), actor)

    def _known(self, extension: str) -> None:
        if self.states.status(extension) is None and extension not in self._users:
            raise UnknownAgent(extension=extension)

    def _queue_add(self, extension: str, queue: str) -> dict[str, Any]:
        s = self.settings
        return {"Action": "QueueAdd", "Queue": queue, "Interface": s.member_interface.format(extension=extension), "MemberName": s.member_name.format(extension=extension)}

    def _queue_removes(self, extension: str) -> list[dict[str, Any]]:
        """签出 leaves every queue the agent is in (not only the login queues: an agent left
        in vip would still be offered its calls), and the login queues in any case. A
        static member (queues.conf `member =>`) is refused by Asterisk: the answer says so."""
        known = self.states.interfaces(extension)
        fallback = self.settings.member_interface.format(extension=extension)
        queues = sorted({*known, *self.settings.login_queues})
        return [{"Action": "QueueRemove", "Queue": q, "Interface": known.get(q, fallback)} for q in queues]

    def _queue_pauses(self, extension: str, reason: str | None) -> list[dict[str, Any]]:
        """One QueuePause per queue the agent is in (a pause in its login queues alone would
        leave it ready in the others, and Asterisk would still offer it their calls)."""
        known = self.states.interfaces(extension)
        if not known:
            raise NotLoggedIn(extension=extension)
        paused = {"Paused": "true", "Reason": reason} if reason is not None else {"Paused": "false"}
        return [{"Action": "QueuePause", "Queue": q, "Interface": interface, **paused} for q, interface in sorted(known.items())]

    async def _act(self, ask: _Ask, actor: User | None, *, wait: bool = True) -> ActionResult:
        """Send the actions, record them with Asterisk's answers, wait a little for the change
        (not when the loop itself acts: the change comes through the loop)."""
        extension = ask.extension
        with bound_contextvars(floor_action=ask.action, extension=extension, actor=actor.id if actor else None):
            expectation = _Expectation(extension, ask.want, ask.wanted_reason, ask.source, actor.id if actor else None, self.clock.now() + EXPECT_FOR)
            self._expected[extension] = expectation  # the latest action is the one to explain the next change
            answers, failure = await self._send_all(ask.sends)
            accepted = [a for a in answers if a["Response"] == "Success"]
            refused = [a for a in answers if a["Response"] != "Success" and not _benign(a)]
            ok = failure is None and not refused
            await self._record(ask, actor, ok, answers, failure)
            self.metrics.inc("hotline_floor_actions_total")
            if not accepted and self._expected.get(extension) is expectation:
                del self._expected[extension]  # nothing will change: nothing to wait for
            if failure is not None:
                log.warning("floor.action_failed", error=type(failure).__name__)
                raise failure
            if refused and not accepted:
                log.warning("floor.action_refused", answers=refused)
                raise PbxRefused(f"Asterisk refused it: {refused[0].get('Message', '')}", answers=answers)
            settled = not accepted or (wait and await self._settled(expectation))
            log.info("floor.action", ok=ok, settled=settled)
            return ActionResult(ask.action, extension, ok, answers, settled, self.agent(extension))

    async def _send_all(self, sends: Sequence[dict[str, Any]]) -> tuple[list[dict[str, str]], HotlineError | None]:
        answers: list[dict[str, str]] = []
        for sent in sends:
            try:
                # as_list=False: panoramisk 1.4 takes "Added interface to queue" for the start
                # of a list and would wait for items that never come.
                reply = await self.send(dict(sent), as_list=False)
            except AmiDisconnected as exc:
                return answers, exc
            except TimeoutError:
                return answers, PbxNoAnswer()
            answers.append({"Action": sent["Action"], "Queue": str(sent.get("Queue", "")), "Response": str(reply.get("Response", "")), "Message": str(reply.get("Message", ""))})
        return answers, None

    async def _settled(self, expectation: _Expectation) -> bool:
        try:
            await asyncio.wait_for(expectation.settled.wait(), self.settle_seconds)
        except TimeoutError:
            return False
        return True

    async def _record(self, ask: _Ask, actor: User | None, ok: bool, answers: list[dict[str, str]], failure: HotlineError | None) -> None:
        data: dict[str, Any] = {"sent": [dict(s) for s in ask.sends], "answers": answers}
        if failure is not None:
            data["error"] = failure.error_id
        await self._users_fresh()
        target = self._users.get(ask.extension, (None, None))[0]
        values = dict(at=self.clock.now().astimezone(UTC), actor_user_id=actor.id if actor else None, action=ask.action, target_extension=ask.extension, target_user_id=target, reason=ask.why, ok=ok, data=data)
        async with write_transaction(self.engine) as conn:
            await conn.execute(insert(floor_actions).values(**values))

    # -- the loop ----------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, connected: Callable[[], bool]) -> None:
        """Until stop: after each (re)connect read QueueStatus; store, tell and publish every
        change; pause agents after their calls; tell supervisors of after-call work too long."""
        log.info("floor.started", login_queues=list(self.settings.login_queues))
        was_connected = False
        while not stop.is_set():
            try:
                if not connected():
                    self._synced = was_connected = False
                elif not self._synced:
                    if not was_connected:
                        # Connected (again): another instance may have owned AMI meanwhile
                        # and stored changes; the stored picture is read before the snapshot.
                        self._restored, was_connected = False, True
                    await self.resync()
                await self.run_once()
            except LeaseLost:
                # Another instance owns the AMI connection now: what we heard and did not
                # store is its to store (its QueueStatus snapshot has it).
                self.metrics.inc("hotline_floor_changes_fenced_total", len(self._unstored))
                log.warning("floor.fenced", changes=len(self._unstored))
                self._unstored.clear()
                self._inbox.clear()
                self._synced, self._restored = False, False
            except (AmiDisconnected, TimeoutError) as exc:
                self._synced = False
                log.warning("floor.ami_unavailable", error=type(exc).__name__)
                await self._pause_after_failure(stop)
            except Exception:  # a database fault: what is not stored stays, tried next round
                self.metrics.inc("hotline_floor_errors_total")
                log.exception("floor.round_failed")
                await self._pause_after_failure(stop)
            await self._nap(stop)
        log.info("floor.stopped")

    async def run_once(self) -> None:
        self._arrived.clear()  # before draining: anything after this wakes the next nap
        if not self._restored:
            await self._restore()
        await self._users_fresh()
        while self._inbox:
            item = self._inbox.popleft()
            if isinstance(item, _AfterCall):
                await self._after_call(item)
            else:
                self._feed(item)
        await self._store_and_tell()
        await self._check_wrapups()

    async def resync(self) -> None:
        """Asterisk's own picture after a (re)connect. The Ping first gives a moment before
        the snapshot: events older than it are in the snapshot already and are dropped, so an
        older event read after it cannot undo what it shows."""
        self._synced = True  # a FullyBooted read from here on asks for another
        try:
            await self._resync()
        except BaseException:
            self._synced = False  # done again next round
            raise

    async def _resync(self) -> None:
        pong = await self.send({"Action": "Ping"})
        taken = _pong_time(pong) or self.clock.now()
        replies = await self.send({"Action": "QueueStatus"}, as_list=True, timeout=30)
        rows = [{str(k): str(v) for k, v in r.items()} for r in (replies if isinstance(replies, list) else []) if r.get("Event") == "QueueMember"]
        if not self._restored:
            await self._restore()
        self._inbox = deque(item for item in self._inbox if isinstance(item, _AfterCall) or not _older(item, taken))
        for change in self.states.resync(rows, taken):
            self._unstored.append(_Told(change, Source.RESYNC, None, None))
        self.resyncs += 1
        log.info("floor.resync", members=len(rows), agents=len(self.states.current()))

    def _feed(self, message: Message) -> None:
        try:
            changes = self.states.feed(message)
        except UntimedEvent:
            log.warning("floor.untimed_event", event=message.get("Event"), interface=message.get("Interface"))
            return
        for change in changes:
            self._unstored.append(self._explain(change))

    def _explain(self, change: StateChange) -> _Told:
        expectation = self._expected.get(change.extension)
        if expectation is not None and expectation.until < self.clock.now():
            del self._expected[change.extension]
            expectation = None
        if expectation is None or not expectation.explains(change):
            return _Told(change, Source.PHONE, None, None)
        del self._expected[change.extension]
        return _Told(change, expectation.source, expectation.by_user_id, expectation)

    async def _store_and_tell(self) -> None:
        """Each change closes the agent's open interval and opens the next, all in one
        transaction; told (console, bus) once stored."""
        if not self._unstored:
            return
        told = list(self._unstored)
        try:
            await self._store(told, users_known=True)
        except IntegrityError:
            # A user deleted since (their id is gone): the states matter more than who.
            log.warning("floor.user_gone", extensions=sorted({t.change.extension for t in told}))
            await self._store(told, users_known=False)
        del self._unstored[: len(told)]
        for item in told:
            await self._tell(item)

    async def _store(self, told: list[_Told], *, users_known: bool) -> None:
        async with write_transaction(self.engine, self.fence) as conn:
            for item in told:
                c = item.change
                at = c.at.astimezone(UTC)
                await conn.execute(update(agent_states).where(agent_states.c.extension == c.extension, agent_states.c.ended_at.is_(None)).values(ended_at=at))
                user_id = self._users.get(c.extension, (None, None))[0] if users_known else None
                by_user_id = item.by_user_id if users_known else None
                reason = c.reason[:REASON_LENGTH] if c.reason else None
                values = dict(extension=c.extension, user_id=user_id, state=c.state.value, reason=reason, started_at=at, ended_at=None, source=item.source.value, by_user_id=by_user_id)
                await conn.execute(insert(agent_states).values(**values))

    async def _tell(self, item: _Told) -> None:
        c = item.change
        user_id = self._users.get(c.extension, (None, None))[0]
        self.metrics.inc("hotline_floor_state_changes_total")
        log.info("floor.agent_state", extension=c.extension, state=c.state.value, reason=c.reason, source=item.source.value, previous=c.previous.value if c.previous else None)
        if item.expectation is not None:
            item.expectation.settled.set()
        if self.hub is not None:
            message = {"type": "agent_state", "agent": self.agent(c.extension).view(), "previous": c.previous.value if c.previous else None, "source": item.source.value}
            self.hub.send(message, users=[user_id] if user_id is not None else [], roles=STAFF)
        await self.bus.publish(AgentStateChanged(c.extension, c.state, c.reason, c.at, c.previous, item.source.value, user_id, item.by_user_id, c.member, c.queues))

    async def _after_call(self, item: _AfterCall) -> None:
        """After-call work: the agent who answered is paused with the after-call reason, unless
        already paused (they chose a pause of their own) or gone."""
        status = self.states.status(item.extension)
        if status is None or status.state in (AgentState.LOGGED_OUT, AgentState.PAUSED, AgentState.WRAPUP):
            return
        if self.states.paused_everywhere(item.extension):
            return  # they paused during the call (示忙, their reason): that stands
        wrapup = self.settings.wrapup_reason
        try:
            await self._act(_Ask("pause", item.extension, self._queue_pauses(item.extension, wrapup), _Want.PAUSED, wrapup, why=wrapup), None, wait=False)
        except HotlineError as exc:
            log.warning("floor.wrapup_not_started", extension=item.extension, call=item.call_id, error=exc.error_id)

    async def _check_wrapups(self) -> None:
        limit, now = self.settings.wrapup_limit_interval, self.clock.now()
        wrapups = {(s.extension, s.since) for s in self.states.current().values() if s.state is AgentState.WRAPUP}
        self._told_over &= wrapups  # told once per after-call work; forgotten once it ends
        for status in self.states.current().values():
            key = (status.extension, status.since)
            if status.state is AgentState.WRAPUP and status.since + limit <= now and key not in self._told_over:
                self._told_over.add(key)
                await self._wrapup_over(status, limit, now)

    async def _wrapup_over(self, status: AgentStatus, limit: timedelta, now: datetime) -> None:
        uid, name = self._users.get(status.extension, (None, None))
        self.metrics.inc("hotline_floor_wrapup_over_limit_total")
        log.warning("floor.wrapup_over_limit", extension=status.extension, since=status.since.isoformat(), limit_seconds=limit.total_seconds())
        if self.hub is not None:
            message = {"type": "wrapup_over_limit", "extension": status.extension, "user_id": uid, "name": name, "since": status.since, "limit_seconds": limit.total_seconds(), "at": now}
            self.hub.send(message, roles=STAFF)
        await self.bus.publish(WrapupOverLimit(status.extension, uid, name, status.since, limit, now))

    def _next_wake(self) -> datetime:
        limit, now = self.settings.wrapup_limit_interval, self.clock.now()
        dues = [s.since + limit for s in self.states.current().values() if s.state is AgentState.WRAPUP and (s.extension, s.since) not in self._told_over]
        return max(now, min([*dues, now + USERS_EVERY]))

    async def _pause_after_failure(self, stop: asyncio.Event) -> None:
        """A failed round waits link_check (real time) before the next: a fault that lasts
        (the database down) must not turn the loop into a spin, nor a flood of QueueStatus."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self.link_check)

    async def _nap(self, stop: asyncio.Event) -> None:
        waits = {asyncio.create_task(stop.wait()), asyncio.create_task(self._arrived.wait()), asyncio.create_task(self.clock.sleep_until(self._next_wake()))}
        try:
            await asyncio.wait(waits, timeout=self.link_check, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _restore(self) -> None:
        """The open intervals stored before a restart: the agents' last known states."""
        query = select(agent_states.c.extension, agent_states.c.state, agent_states.c.reason, agent_states.c.started_at).where(agent_states.c.ended_at.is_(None)).order_by(agent_states.c.started_at)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        self.states.restore(AgentStatus(r.extension, AgentState(r.state), r.reason, _utc(r.started_at)) for r in rows)
        self._restored = True

    async def _users_fresh(self) -> None:
        now = self.clock.now()
        if self._users_at is not None and now - self._users_at < USERS_EVERY:
            return
        query = select(users.c.id, users.c.name, users.c.extension).where(users.c.role == Role.AGENT.value, users.c.disabled.is_(False), users.c.extension.is_not(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        self._users = {r.extension: (r.id, r.name) for r in rows}
        self._users_at = now

    # -- the report ----------------------------------------------------------------------------------

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

    async def time_report(self, day: date) -> list[AgentDay]:
        """Seconds per agent in each state over `day` (local, the routing time zone), the
        intervals clipped at both midnights; today's open intervals count up to now."""
        start = datetime.combine(day, time(0), self.tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), self.tz).astimezone(UTC)
        c = agent_states.c
        query = (
            select(c.extension, c.user_id, c.state, c.reason, c.started_at, c.ended_at, users.c.name)
            .select_from(agent_states.outerjoin(users, users.c.id == c.user_id))
            .where(c.started_at < end, or_(c.ended_at.is_(None), c.ended_at > start))
            .order_by(c.extension, c.started_at)
        )  # fmt: skip
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        intervals = [Interval(r.extension, AgentState(r.state), r.reason, _utc(r.started_at), _utc(r.ended_at) if r.ended_at else None) for r in rows]
        who = {r.extension: (r.user_id, r.name) for r in rows if r.user_id is not None}
        sheets = time_in_states(intervals, start, end, self.clock.now())
        return [AgentDay(ext, *who.get(ext, (None, None)), sheet) for ext, sheet in sorted(sheets.items())]


# --- small helpers ------------------------------------------------------------------------------


def _own_extension(actor: User) -> str:
    if actor.role is not Role.AGENT:
        raise FloorForbidden(f"only an agent logs in, pauses and ends after-call work for themselves; {actor.name} is {actor.role.value}", role=actor.role.value)
    if not actor.extension:
        raise NoExtension()
    return actor.extension


def _supervising(actor: User) -> None:
    if actor.role not in STAFF:
        raise FloorForbidden(f"only a supervisor or an admin forces an agent; {actor.name} is {actor.role.value}", role=actor.role.value)


def _reason(reason: str, *, limit: int = REASON_LENGTH) -> str:
    text = " ".join(str(reason).split())
    if not text or len(text) > limit:
        raise BadRequest(f"reason must be a text of 1 to {limit} characters", reason=reason)
    return text


def _extension_of_agent(interface: str | None, member: str | None, states: AgentStates) -> str | None:
    """The answering agent's extension: from the interface, else the member name as seen."""
    found = agent_extension(interface) if interface else None
    if found is None and member:
        found = next((s.extension for s in states.current().values() if s.member == member), None)
    return found


def _benign(answer: Mapping[str, str]) -> bool:
    expected = _BENIGN.get(answer["Action"])
    return expected is not None and expected in answer.get("Message", "")


def _pong_time(pong: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(pong.get("Timestamp")), UTC)
    except (TypeError, ValueError, AttributeError):
        return None


def _older(message: Message, moment: datetime) -> bool:
    try:
        return event_time(message) < moment
    except UntimedEvent:
        return False


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

"""A PBX test double: an asyncio TCP server speaking Asterisk 22's AMI that replays recorded
events and injects faults (cuts mid-character, lost events, garbage, dropped links). It
answers Originate, the resync lists, and the agents' QueueAdd / QueueRemove / QueuePause
with Asterisk 22's answers and QueueMember* events; a test may pause an agent "from the
phone" (pause_from_phone) or change its device (member_status).

Its one manager user may be given read and write classes (`read`, `write`; None: all) and
is then treated as Asterisk 22 treats one: an action none of whose classes it has is
"Permission denied" and missing from ListCommands, an event whose classes it does not all
read is not sent. ShowDialPlan knows the contexts (`contexts`), not their extensions.

Over the 400-line guide: the server, its replay script and its action answers share one
connection set and one pause rule, which read best together; the state model is world.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hotline.testing.transcripts import headers
from hotline.testing.world import Fields, PbxWorld

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_END = b"\r\n\r\n"
_MASK = "********"
_UNKNOWN = "<unknown>"
_ORIGINATE_TECHS = frozenset({"local", "pjsip"})
# What the recording PBX's dialplan had (traces/README.md).
DEFAULT_CONTEXTS = frozenset({
    "hotline-in", "caller-hold", "caller-press1", "agents", "customers",
    "hotline-callback", "hotline-survey", "hotline-exit", "hotline-spy",
})  # fmt: skip
# Outcome -> (OriginateResponse Response, Reason): 4 answered, 5 busy, 3 no answer.
_OUTCOMES = {"answer": ("Success", "4"), "busy": ("Failure", "5"), "noanswer": ("Failure", "3")}
# Action -> (its name, synopsis and classes as Asterisk 22's ListCommands shows them).
_ACTIONS: dict[str, tuple[str, str, frozenset[str]]] = {
    "coreshowchannels": ("CoreShowChannels", "List currently active channels.", frozenset({"system", "reporting"})),
    "listcommands": ("ListCommands", "List available manager commands.", frozenset()),
    "login": ("Login", "Login Manager.", frozenset()),
    "logoff": ("Logoff", "Logoff Manager.", frozenset()),
    "originate": ("Originate", "Originate a call.", frozenset({"originate"})),
    "ping": ("Ping", "Keepalive command.", frozenset()),
    "queueadd": ("QueueAdd", "Add interface to queue.", frozenset({"agent"})),
    "queuepause": ("QueuePause", "Makes a queue member temporarily unavailable.", frozenset({"agent"})),
    "queueremove": ("QueueRemove", "Remove interface from queue.", frozenset({"agent"})),
    "queuestatus": ("QueueStatus", "Show queue status.", frozenset()),
    "queuesummary": ("QueueSummary", "Show queue summary.", frozenset()),
    "showdialplan": ("ShowDialPlan", "Show dialplan contexts and extensions", frozenset({"config", "reporting"})),
}  # fmt: skip
# The order in which Asterisk names classes (main/manager.c, perms[]).
_CLASS_ORDER = (
    "system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
    "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security", "message",
)  # fmt: skip
_READ_LIMIT = 1 << 20
_LINE_BREAK = re.compile(r"\r?\n")
_STOP_GRACE = 1.0  # seconds stop() lets sessions notice their closed link

Pairs = Sequence[tuple[str, str]]
Chunking = Callable[[bytes], list[bytes]]


def render(pairs: Iterable[tuple[str, str]]) -> bytes:
    """One AMI message: `Key: Value` lines, CRLF each, a blank line at the end."""
    return "".join(f"{key}: {value}\r\n" for key, value in pairs).encode("utf-8") + b"\r\n"


def _timestamp(seconds: float) -> str:
    return f"{seconds:.6f}"


@dataclass(frozen=True)
class Action:
    """One action a client sent: its headers as sent, and a case-blind lookup."""

    fields: Fields
    _lookup: Fields

    @classmethod
    def parse(cls, raw: bytes) -> Action:
        fields: Fields = {}
        # Asterisk ends a line at CRLF or a bare LF (main/manager.c).
        for line in _LINE_BREAK.split(raw.decode("utf-8", errors="replace")):
            key, colon, value = line.partition(":")
            value = value.strip()
            if not colon:
                continue
            if key in fields and key.lower() == "variable":
                # Asterisk reads repeated Variable headers as one comma-separated list.
                fields[key] = f"{fields[key]},{value}"
            fields.setdefault(key, value)
        return cls(fields, {key.lower(): value for key, value in reversed(fields.items())})

    def get(self, key: str, default: str = "") -> str:
        return self._lookup.get(key.lower(), default)

    @property
    def name(self) -> str:
        return self.get("Action")

    @property
    def id_pairs(self) -> list[tuple[str, str]]:
        """The `ActionID` line Asterisk echoes, or nothing when the client sent none."""
        return [("ActionID", self.get("ActionID"))] if "actionid" in self._lookup else []

    def masked(self) -> Fields:
        return {key: _MASK if key.lower() == "secret" else v for key, v in self.fields.items()}


@dataclass(eq=False)
class _Connection:
    """One client: its writer (one batch of messages at a time) and its session state."""

    writer: asyncio.StreamWriter
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    logged_in: bool = False
    wants_events: bool = True
    reads: frozenset[str] | None = None  # the user's read classes; None: all
    ready: bool = False  # replay may resume for it: logged in outside a fault, or resynced
    listed_channels: bool = False
    listed_queues: bool = False

    async def send(self, messages: Iterable[bytes], chunking: Chunking | None) -> None:
        async with self.lock:
            for message in messages:
                await self._write(message, chunking)

    async def _write(self, data: bytes, chunking: Chunking | None) -> None:
        for part in chunking(data) if chunking else [data]:
            if self.writer.is_closing():
                return
            self.writer.write(part)
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()
            if chunking:
                await asyncio.sleep(0)

    def hears(self, event: Fields | None) -> bool:
        """Asterisk sends an event only to a user that reads every class of it."""
        if self.reads is None or event is None:
            return True
        return _classes(event.get("Privilege", "")) <= self.reads

    def close(self) -> None:
        """Flush what is written, then FIN: the client reads every byte, then EOF."""
        self.logged_in = False
        self.writer.close()

    def abort(self) -> None:
        """Drop the link now: whatever is still buffered on our side is lost."""
        self.logged_in = False
        self.writer.transport.abort()


class _Signal:
    """Wakes every waiter on any change; each re-checks its own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self._event.clear()
            await self._event.wait()


@dataclass(frozen=True)
class _Item:
    """One entry of the replay script: an event (with its headers) or raw garbage."""

    data: bytes
    event: Fields | None


@dataclass(frozen=True, order=True)
class _Cut:
    offset: int
    lose: int


class PbxDouble:
    """Speaks AMI on a TCP port; `play` queues recorded events, the fault methods break them."""

    def __init__(
        self,
        *,
        username: str = "hotline",
        secret: str = "secret",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.username = username
        self.secret = secret
        self.host = host
        self.port = port
        self.chunking: Chunking | None = None
        self.actions: list[Fields] = []
        self.logins = 0
        self.failed_logins = 0
        self.connections = 0
        self.originate_outcomes: dict[str, str] = {}
        self.contexts: set[str] = set(DEFAULT_CONTEXTS)
        self.resync_grace = 0.5  # replay resumes this long after a re-login without resync
        self.originate_delay = 0.0  # seconds between the Originate response and its event
        # False: an async Originate gets its "queued" answer only; the test plays the rest
        # (a recorded callback transcript with its ids rewritten).
        self.originate_events = True
        # The manager user's read and write classes (manager.conf's read = / write =);
        # None: all, as the recordings' lab user had.
        self.read: frozenset[str] | None = None
        self.write: frozenset[str] | None = None
        self.world = PbxWorld()
        self._script: list[_Item] = []
        self._cursor = 0  # index of the next script item to play
        self._position = 0  # script byte offset of that item
        self._cuts: list[_Cut] = []
        self._to_lose = 0
        self._awaiting_resync = False
        self._clients: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sessions: set[asyncio.Task[Any]] = set()  # asyncio.start_server's, one a client
        self._signal: _Signal | None = None
        self._server: asyncio.Server | None = None
        self._started = 0.0
        self._sequence = 0x100  # for channel names and Uniqueids the double invents
        self._handlers: dict[str, Callable[[_Connection, Action], Awaitable[None]]] = {
            "login": self._login,
            "logoff": self._logoff,
            "ping": self._ping,
            "coreshowchannels": self._core_show_channels,
            "queuestatus": self._queue_status,
            "queuesummary": self._queue_summary,
            "originate": self._originate,
            "queueadd": self._queue_add,
            "queueremove": self._queue_remove,
            "queuepause": self._queue_pause,
            "listcommands": self._list_commands,
            "showdialplan": self._show_dialplan,
        }

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        self._signal = _Signal()
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=_READ_LIMIT
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._spawn(self._replay(), "pbx.replay")
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in list(self._clients):
            client.abort()
        # Sessions end on their own once their link is gone; cancelling them instead makes
        # asyncio's start_server log the CancelledError as an unhandled exception.
        if self._sessions:
            _, stuck = await asyncio.wait(list(self._sessions), timeout=_STOP_GRACE)
            for session in stuck:
                session.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _notify(self) -> None:
        if self._signal is not None:
            self._signal.notify()

    # -- the replay script and its faults ---------------------------------------------------

    def play(self, events: Iterable[bytes]) -> None:
        self._script.extend(_Item(event, headers(event)) for event in events)
        self._notify()

    def send_garbage(self, data: bytes) -> None:
        self._script.append(_Item(data, None))
        self._notify()

    def cut_after(self, offset: int, *, lose: int = 0) -> None:
        """Cut the link at `offset`, a byte position in everything played (events and garbage,
        sent or lost); the message holding it and the next `lose` never reach a client."""
        self._cuts = sorted([*self._cuts, _Cut(offset, lose)])
        self._notify()

    def drop_connections(self) -> None:
        for client in list(self._clients):
            client.abort()
        self._awaiting_resync = True
        self._notify()

    async def wait_sent(self, timeout: float = 5.0) -> None:
        assert self._signal is not None, "start() the double first"
        async with asyncio.timeout(timeout):
            await self._signal.wait_for(lambda: self._cursor >= len(self._script))

    def _receivers(self) -> list[_Connection]:
        return [client for client in self._clients if client.logged_in and client.wants_events]

    def _can_play(self) -> bool:
        if self._cursor >= len(self._script):
            return False
        return self._to_lose > 0 or any(client.ready for client in self._receivers())

    async def _replay(self) -> None:
        assert self._signal is not None
        while True:
            await self._signal.wait_for(self._can_play)
            item = self._script[self._cursor]
            if item.event is not None:
                self.world.apply(item.event)
            sending = self._to_lose == 0  # else it happens while nobody is connected
            if not sending:
                self._to_lose -= 1
            cut = self._take_cut(self._position + len(item.data))
            if cut is not None:
                prefix = item.data[: max(cut.offset - self._position, 0)] if sending else b""
                await self._cut(prefix, cut.lose, item.event)
            elif sending:
                await self._broadcast(item.data, item.event)
            self._position += len(item.data)
            self._cursor += 1
            self._notify()
            await asyncio.sleep(0)  # a long script must not starve the loop between messages

    def _take_cut(self, end: int) -> _Cut | None:
        """The first cut before `end`, if any; cuts already passed fire here too."""
        if self._cuts and self._cuts[0].offset < end:
            return self._cuts.pop(0)
        return None

    async def _broadcast(self, data: bytes, event: Fields | None = None) -> None:
        for client in self._receivers():
            if client.hears(event):
                await client.send([data], self.chunking)

    async def _cut(self, prefix: bytes, lose: int, event: Fields | None) -> None:
        if prefix:
            await self._broadcast(prefix, event)
        for client in list(self._clients):
            client.close()
        self._to_lose += lose
        self._awaiting_resync = True

    # -- connections ------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # stop() waits for it to see its link closed
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)
        client = _Connection(writer)
        self._clients.add(client)
        self.connections += 1
        try:
            await client.send([BANNER], self.chunking)
            await self._read_actions(reader, client)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away: a fault to survive, not to report
        finally:
            self._clients.discard(client)
            client.close()
            self._notify()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _read_actions(self, reader: asyncio.StreamReader, client: _Connection) -> None:
        while not client.writer.is_closing():
            action = Action.parse(await reader.readuntil(_END))
            self.actions.append(action.masked())
            await self._answer(client, action)

    async def _answer(self, client: _Connection, action: Action) -> None:
        name = action.name.lower()
        if not name:
            await self._reply(client, action, "Error", [("Message", "Missing action in request")])
        elif not client.logged_in and name not in ("login", "logoff"):
            await self._reply(client, action, "Error", [("Message", "Permission denied")])
        elif name in self._handlers and not self._may(name):
            await self._reply(client, action, "Error", [("Message", "Permission denied")])
        elif (handler := self._handlers.get(name)) is not None:
            await handler(client, action)
        else:
            await self._reply(client, action, "Error", [("Message", _unknown_command(action))])

    async def _reply(
        self,
        client: _Connection,
        action: Action,
        response: str,
        pairs: Pairs,
        follow: Sequence[bytes] = (),
    ) -> None:
        message = render([("Response", response), *action.id_pairs, *pairs])
        await client.send([message, *follow], self.chunking)

    def _now(self) -> float:
        return self.world.time if self.world.time is not None else time.time()

    def _may(self, name: str) -> bool:
        """Asterisk runs an action that needs no class, or one of whose classes the user has."""
        classes = _ACTIONS[name][2] if name in _ACTIONS else frozenset()
        return self.write is None or not classes or bool(classes & self.write)

    # -- session actions ---------------------------------------------------------------------

    async def _login(self, client: _Connection, action: Action) -> None:
        if action.get("Username") != self.username or action.get("Secret") != self.secret:
            self.failed_logins += 1
            await self._reply(client, action, "Error", [("Message", "Authentication failed")])
            client.close()
            return
        self.logins += 1
        client.reads = self.read
        client.wants_events = action.get("Events", "on").lower() not in ("off", "no", "false")
        uptime = str(int(asyncio.get_running_loop().time() - self._started))
        booted = render([
            ("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", uptime),
            ("LastReload", uptime), ("Status", "Fully Booted"),
        ])  # fmt: skip
        accepted = [("Message", "Authentication accepted")]
        # Sent only to a user that reads system (main/manager.c, action_login).
        told = client.wants_events and client.hears({"Privilege": "system,all"})
        await self._reply(client, action, "Success", accepted, [booted] if told else [])
        client.logged_in = True
        if self._awaiting_resync:
            self._spawn(self._resync_grace(client), "pbx.resync-grace")
        else:
            client.ready = True
        self._notify()

    async def _resync_grace(self, client: _Connection) -> None:
        await asyncio.sleep(self.resync_grace)
        self._mark_ready(client)

    def _mark_ready(self, client: _Connection) -> None:
        if client.logged_in and not client.ready:
            client.ready = True
            self._awaiting_resync = False
            self._notify()

    async def _logoff(self, client: _Connection, action: Action) -> None:
        await self._reply(client, action, "Goodbye", [("Message", "Thanks for all the fish.")])
        client.close()

    async def _ping(self, client: _Connection, action: Action) -> None:
        pairs = [("Ping", "Pong"), ("Timestamp", _timestamp(self._now()))]
        await self._reply(client, action, "Success", pairs)

    # -- list actions: the snapshot a reconnecting client resyncs from ------------------------

    async def _core_show_channels(self, client: _Connection, action: Action) -> None:
        items = [
            render([("Event", "CoreShowChannel"), *action.id_pairs, *channel.items()])
            for channel in self.world.core_show_channels(self._now())
        ]
        await self._list(client, action, "Channels will follow", "CoreShowChannels", items)
        client.listed_channels = True
        self._check_resynced(client)

    async def _queue_status(self, client: _Connection, action: Action) -> None:
        queue = action.get("Queue") or None
        items = [
            render([("Event", event), *fields.items(), *action.id_pairs])
            for event, fields in self.world.queue_status(self._now(), queue)
        ]
        await self._list(client, action, "Queue status will follow", "QueueStatus", items)
        client.listed_queues = True
        self._check_resynced(client)

    async def _queue_summary(self, client: _Connection, action: Action) -> None:
        queue = action.get("Queue") or None
        items = [
            render([("Event", "QueueSummary"), *fields.items(), *action.id_pairs])
            for fields in self.world.queue_summary(self._now(), queue)
        ]
        await self._list(client, action, "Queue summary will follow", "QueueSummary", items)

    async def _list(
        self, client: _Connection, action: Action, message: str, name: str, items: list[bytes]
    ) -> None:
        complete = render([
            ("Event", f"{name}Complete"), *action.id_pairs,
            ("EventList", "Complete"), ("ListItems", str(len(items))),
        ])  # fmt: skip
        pairs = [("EventList", "start"), ("Message", message)]
        await self._reply(client, action, "Success", pairs, [*items, complete])

    def _check_resynced(self, client: _Connection) -> None:
        if client.listed_channels and client.listed_queues:
            self._mark_ready(client)

    # -- what the user may do, and the dialplan ------------------------------------------------

    async def _list_commands(self, client: _Connection, action: Action) -> None:
        """One message, a line per action the user may run, in Asterisk's (alphabetical) order."""
        lines = [
            (name, f"{synopsis}  (Priv: {_privilege(classes)})")
            for key, (name, synopsis, classes) in sorted(_ACTIONS.items())
            if key in self._handlers and self._may(key)
        ]
        await self._reply(client, action, "Success", lines)

    async def _show_dialplan(self, client: _Connection, action: Action) -> None:
        context, exten = action.get("Context"), action.get("Extension")
        if context and context not in self.contexts:
            await self._reply(client, action, "Error", [("Message", f"Did not find context {context}")])
            return
        shown = [context] if context else sorted(self.contexts)
        items = [
            render([
                ("Event", "ListDialplan"), *action.id_pairs, ("Context", name), ("Extension", exten or "s"),
                ("Priority", "1"), ("Application", "NoOp"), ("AppData", ""), ("Registrar", "pbx_config"),
            ])  # fmt: skip
            for name in shown
        ]
        count = str(len(items))
        complete = render([
            ("Event", "ShowDialPlanComplete"), *action.id_pairs, ("EventList", "Complete"), ("ListItems", count),
            ("ListExtensions", count), ("ListPriorities", count), ("ListContexts", count),
        ])  # fmt: skip
        pairs = [("EventList", "start"), ("Message", "DialPlan list will follow")]
        await self._reply(client, action, "Success", pairs, [*items, complete])

    # -- Originate ---------------------------------------------------------------------------

    async def _originate(self, client: _Connection, action: Action) -> None:
        channel = action.get("Channel")
        if not channel:
            await self._reply(client, action, "Error", [("Message", "Channel not specified")])
            return
        tech = channel.partition("/")[0].lower()
        context = action.get("Context")
        if tech not in _ORIGINATE_TECHS or (context and context not in self.contexts):
            # What Asterisk answered in bad-actions.ami, before any channel exists.
            await self._reply(client, action, "Error", [("Message", "Extension does not exist.")])
            return
        if tech == "local" and _local_context(channel) not in self.contexts:
            await self._originate_nowhere(client, action)
            return
        outcome = self.originate_outcomes.get(_dialled_number(channel), "answer")
        if action.get("Async").lower() not in ("true", "yes", "1", "on"):
            await self._originate_sync(client, action, outcome)
            return
        await self._reply(client, action, "Success", [("Message", "Originate successfully queued")])
        if self.originate_events:
            self._spawn(self._originate_response(action, outcome), "pbx.originate-response")

    async def _originate_sync(self, client: _Connection, action: Action, outcome: str) -> None:
        if outcome == "answer":
            await self._reply(
                client, action, "Success", [("Message", "Originate successfully queued")]
            )
        else:
            await self._reply(client, action, "Error", [("Message", "Originate failed")])

    async def _originate_response(self, action: Action, outcome: str) -> None:
        await asyncio.sleep(self.originate_delay)
        response, reason = _OUTCOMES[outcome]
        message = render(self._originate_response_pairs(action, response, reason))
        for client in self._receivers():
            if client.hears({"Privilege": "call,all"}):
                await client.send([message], self.chunking)

    async def _originate_nowhere(self, client: _Connection, action: Action) -> None:
        """A Local channel into a context the dialplan lacks: Asterisk 22 makes both halves,
        sets the Variables on them, finds no such extension when it calls the ;2 half, and
        hangs both up; nothing runs (recorded on the real PBX for `hotline doctor`)."""
        if not _true(action.get("Async")):
            await self._reply(client, action, "Error", [("Message", "Originate failed")])
        else:
            await self._reply(client, action, "Success", [("Message", "Originate successfully queued")])
        if self.originate_events:
            self._spawn(self._emit_each(self._nowhere_events(action)), "pbx.originate-nowhere")

    def _nowhere_events(self, action: Action) -> Iterable[Fields]:
        channel = action.get("Channel")
        self._sequence += 1
        name = f"{channel}-{self._sequence:08x}"
        first = action.get("ChannelId") or f"{int(self._now())}.{self._sequence}"
        second = action.get("OtherChannelId") or f"{first};2"
        exten, _, rest = channel.partition("/")[2].partition("@")
        context = rest.partition("/")[0]
        halves = []
        for suffix, uniqueid, state in ((";1", first, ("0", "Down")), (";2", second, ("4", "Ring"))):
            halves.append({
                "Channel": name + suffix, "ChannelState": state[0], "ChannelStateDesc": state[1],
                "CallerIDNum": _UNKNOWN, "CallerIDName": _UNKNOWN, "ConnectedLineNum": _UNKNOWN,
                "ConnectedLineName": _UNKNOWN, "Language": "en", "AccountCode": "", "Context": context,
                "Exten": exten, "Priority": "1", "Uniqueid": uniqueid, "Linkedid": first,
            })  # fmt: skip
        call, dialplan = "call,all", "dialplan,all"
        yield from ({"Event": "Newchannel", "Privilege": call, **half} for half in halves)
        yield {"Event": "Newexten", "Privilege": dialplan, **halves[0], "Extension": exten, "Application": "AppDial2", "AppData": "(Outgoing Line)"}
        variables = [v.partition("=") for v in action.get("Variable").split(",") if v]
        for half in halves:
            yield from ({"Event": "VarSet", "Privilege": dialplan, **half, "Variable": key, "Value": value} for key, _, value in variables)
        device = {"Event": "DeviceStateChange", "Privilege": call, "Device": channel.rsplit("/", 1)[0] if channel.count("/") > 1 else channel, "State": "INVALID"}
        yield {"Event": "Hangup", "Privilege": call, **halves[1], "Cause": "0", "Cause-txt": "Unknown"}
        yield device
        yield {"Event": "Hangup", "Privilege": call, **halves[0], "Cause": "0", "Cause-txt": "Unknown"}
        target = [("Application", action.get("Application")), ("Data", action.get("Data"))] if action.get("Application") else [("Context", action.get("Context")), ("Exten", action.get("Exten"))]
        yield {
            "Event": "OriginateResponse", "Privilege": call, **dict(action.id_pairs), "Response": "Failure",
            "Channel": channel, **dict(target), "Reason": "0", "Uniqueid": first,
            "CallerIDNum": _UNKNOWN, "CallerIDName": _UNKNOWN,
        }  # fmt: skip
        yield dict(device)

    async def _emit_each(self, events: Iterable[Fields]) -> None:
        """Events made one by one, each stamped just after the one before."""
        for event in events:
            stamped = {"Event": event["Event"], "Privilege": event["Privilege"], "Timestamp": _timestamp(self._event_time()), **event}
            self._apply([stamped])
            await self._emit([stamped])

    def _originate_response_pairs(self, action: Action, response: str, reason: str) -> Pairs:
        self._sequence += 1
        now = self._now()
        channel = action.get("Channel")
        uniqueid = action.get("ChannelId")
        if response == "Success":
            channel = _new_channel_name(channel, self._sequence)
            uniqueid = uniqueid or f"{int(now)}.{self._sequence}"
        number, name = _parse_caller_id(action.get("CallerID"))
        return [
            ("Event", "OriginateResponse"), ("Privilege", "call,all"),
            ("Timestamp", _timestamp(now)), *action.id_pairs, ("Response", response),
            ("Channel", channel), ("Context", action.get("Context")),
            ("Exten", action.get("Exten")), ("Reason", reason),
            ("Uniqueid", uniqueid or _UNKNOWN), ("CallerIDNum", number or _UNKNOWN),
            ("CallerIDName", name or _UNKNOWN),
        ]  # fmt: skip


    # -- queue members: QueueAdd, QueueRemove, QueuePause (answers and events as Asterisk 22's) --

    async def _queue_add(self, client: _Connection, action: Action) -> None:
        queue, interface = action.get("Queue"), action.get("Interface")
        if not queue or not interface:
            missing = "Queue" if not queue else "Interface"
            await self._reply(client, action, "Error", [("Message", f"'{missing}' not specified.")])
            return
        paused = _true(action.get("Paused"))
        made = self.world.add_member(queue, interface, action.get("MemberName"), paused=paused, reason=action.get("Reason"), now=self._event_time())
        await self._member_answer(client, action, made, "Added interface to queue")

    async def _queue_remove(self, client: _Connection, action: Action) -> None:
        queue, interface = action.get("Queue"), action.get("Interface")
        if not queue or not interface:
            await self._reply(client, action, "Error", [("Message", "Need 'Queue' and 'Interface' parameters.")])
            return
        made = self.world.remove_member(queue, interface, now=self._event_time())
        await self._member_answer(client, action, made, "Removed interface from queue")

    async def _queue_pause(self, client: _Connection, action: Action) -> None:
        interface, paused = action.get("Interface"), action.get("Paused")
        if not interface or not paused:
            await self._reply(client, action, "Error", [("Message", "Need 'Interface' and 'Paused' parameters.")])
            return
        events = self.world.pause_member(action.get("Queue") or None, interface, paused=_true(paused), reason=action.get("Reason"), now=self._event_time())
        if not events:
            await self._reply(client, action, "Error", [("Message", "Interface not found")])
            return
        done = "Interface paused successfully" if _true(paused) else "Interface unpaused successfully"
        self._apply(events)
        await self._reply(client, action, "Success", [("Message", done)])
        await self._emit(events)

    async def _member_answer(self, client: _Connection, action: Action, made: Fields | str, done: str) -> None:
        if isinstance(made, str):
            await self._reply(client, action, "Error", [("Message", made)])
            return
        self._apply([made])
        await self._reply(client, action, "Success", [("Message", done)])
        await self._emit([made])

    def pause_from_phone(self, interface: str, *, paused: bool = True, reason: str = "", queue: str | None = None) -> None:
        """A pause (or unpause) nobody asked for over this AMI: from the agent's phone or
        another tool. Its QueueMemberPause events go to every client (lost if none is
        connected, as Asterisk's would be), and the members keep it for QueueStatus."""
        events = self.world.pause_member(queue, interface, paused=paused, reason=reason, now=self._event_time())
        if not events:
            raise ValueError(f"{interface} is in no queue{' ' + queue if queue else ''}")
        self._apply(events)
        self._spawn(self._emit(events), "pbx.member-events")

    def member_status(self, interface: str, status: str, *, in_call: bool | None = None) -> None:
        """The agent's device changed (Asterisk device states: 1 idle, 2 in use, 6 ringing)."""
        events = self.world.member_status(interface, status, in_call=in_call, now=self._event_time())
        self._apply(events)
        self._spawn(self._emit(events), "pbx.member-events")

    def _apply(self, events: list[Fields]) -> None:
        """Asterisk changes its members first, then answers, then sends the events."""
        for event in events:
            self.world.apply(event)

    async def _emit(self, events: list[Fields]) -> None:
        for event in events:
            message = render(event.items())
            for client in self._receivers():
                if client.hears(event):
                    await client.send([message], self.chunking)

    def _event_time(self) -> float:
        """Just after the last event: the double's clock is the events' (Ping says the same)."""
        return self.world.time + 0.000001 if self.world.time is not None else time.time()

def _unknown_command(action: Action) -> str:
    return (
        f"Invalid/unknown command: {action.name}. "
        "Use Action: ListCommands to show available commands."
    )


def _classes(privilege: str) -> frozenset[str]:
    """An event's classes from its Privilege header ("call,all" -> call)."""
    return frozenset(name for name in privilege.split(",") if name and name != "all")


def _privilege(classes: frozenset[str]) -> str:
    """As Asterisk writes an action's classes: in its own order, then all; none: <none>."""
    if not classes:
        return "<none>"
    return ",".join([name for name in _CLASS_ORDER if name in classes] + ["all"])


def _local_context(channel: str) -> str:
    """`Local/8001@agents/n` -> `agents`."""
    return channel.partition("@")[2].partition("/")[0]


def _dialled_number(channel: str) -> str:
    """`Local/13900000486@customers` -> `13900000486`: the key of originate_outcomes."""
    resource = channel.partition("/")[2].partition("@")[0]
    return re.sub(r"\D", "", resource)


def _new_channel_name(requested: str, sequence: int) -> str:
    """Asterisk's name for the channel an Originate created (a Local one's ;1 half)."""
    if requested.lower().startswith("local/"):
        return f"{requested}-{sequence:08x};1"
    return f"{requested.partition('@')[0]}-{sequence:08x}"


def _parse_caller_id(caller_id: str) -> tuple[str, str]:
    """`"Name" <number>` -> (number, name); a bare number is a number."""
    match = re.fullmatch(r'\s*(?:"([^"]*)"|([^<]*?))\s*<([^>]*)>\s*', caller_id)
    if match is not None:
        return match.group(3), (match.group(1) or match.group(2) or "").strip()
    bare = caller_id.strip()
    return (bare, "") if re.fullmatch(r"[\d*#+]+", bare) else ("", bare)


def _true(value: str) -> bool:
    """Asterisk's ast_true."""
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")

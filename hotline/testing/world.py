"""The PBX double's picture of Asterisk (live channels, queues), rebuilt from the events it
plays and read back as the field lists of CoreShowChannels, QueueStatus and QueueSummary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hotline.ami.snapshot import Snapshot

Fields = dict[str, str]

# The channel snapshot every channel event carries, in CoreShowChannel's order.
SNAPSHOT_KEYS = (
    "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
    "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
    "Exten", "Priority", "Uniqueid", "Linkedid",
)  # fmt: skip
_CALLER_KEYS = ("CallerIDNum", "CallerIDName", "ConnectedLineNum", "ConnectedLineName")
# QueueMember* event key -> QueueStatus QueueMember key, in QueueMember's order.
_MEMBER_KEYS = (
    ("MemberName", "Name"), ("Interface", "Location"), ("StateInterface", "StateInterface"),
    ("Membership", "Membership"), ("Penalty", "Penalty"), ("CallsTaken", "CallsTaken"),
    ("LastCall", "LastCall"), ("LastPause", "LastPause"), ("LoginTime", "LoginTime"),
    ("InCall", "InCall"), ("Status", "Status"), ("Paused", "Paused"),
    ("PausedReason", "PausedReason"), ("Wrapuptime", "Wrapuptime"),
)  # fmt: skip
_UNAVAILABLE_STATUSES = frozenset({"4", "5"})  # AST_DEVICE_INVALID, AST_DEVICE_UNAVAILABLE
_AVAILABLE_STATUSES = frozenset({"0", "1"})  # AST_DEVICE_UNKNOWN, AST_DEVICE_NOT_INUSE


@dataclass
class LiveChannel:
    snapshot: Fields
    created: float
    application: str = ""
    application_data: str = ""
    bridge_id: str = ""
    queue_priority: str = "0"  # Queue() reads the channel variable QUEUE_PRIO


@dataclass
class QueueCaller:
    uniqueid: str
    snapshot: Fields
    joined: float
    priority: str


@dataclass
class QueueState:
    """One queue's callers in order, its members by interface, and app_queue's counters."""

    callers: list[QueueCaller] = field(default_factory=list)
    members: dict[str, Fields] = field(default_factory=dict)
    completed: int = 0
    completed_in_sl: int = 0
    abandoned: int = 0
    abandoned_in_sl: int = 0
    holdtime: int = 0
    talktime: int = 0
    service_level: int = 0


class PbxWorld:
    """Live channels and queues as Asterisk would report them; fed events, never the clock."""

    def __init__(self) -> None:
        self.channels: dict[str, LiveChannel] = {}
        self.queues: dict[str, QueueState] = {}
        self.time: float | None = None  # the Timestamp of the last event applied
        # Queues Asterisk has even before an event names them (the recording PBX's).
        self.configured_queues: set[str] = {"hotline", "vip"}
        self._handlers: dict[str, Callable[[Fields], None]] = {
            "Newchannel": self._new_channel,
            "Newexten": self._new_exten,
            "VarSet": self._var_set,
            "BridgeEnter": self._bridge_enter,
            "BridgeLeave": self._bridge_leave,
            "Hangup": self._hangup,
            "QueueCallerJoin": self._caller_join,
            "QueueCallerLeave": self._caller_leave,
            "QueueCallerAbandon": self._caller_abandon,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_complete,
            "QueueMemberAdded": self._member_update,
            "QueueMemberStatus": self._member_update,
            "QueueMemberPause": self._member_update,
            "QueueMemberRemoved": self._member_removed,
        }

    def apply(self, event: Fields) -> None:
        """Update the picture from one event (sent to a client or lost on the way)."""
        if "Timestamp" in event:
            self.time = float(event["Timestamp"])
        live = self.channels.get(event.get("Uniqueid", ""))
        if live is not None and "Channel" in event:
            # Every channel event carries the channel's whole snapshot at that moment:
            # caller id, connected line, state, dialplan position, Linkedid after a bridge.
            live.snapshot.update((key, event[key]) for key in SNAPSHOT_KEYS if key in event)
        handler = self._handlers.get(event.get("Event", ""))
        if handler is not None:
            handler(event)

    # -- snapshots, as the list actions report them -------------------------------------

    def core_show_channels(self, now: float) -> list[Fields]:
        return [_core_show_channel(live, now) for live in self.channels.values()]

    def queue_status(self, now: float, queue: str | None = None) -> list[tuple[str, Fields]]:
        """(event name, fields) per queue: its QueueParams, QueueMembers, QueueEntrys."""
        items: list[tuple[str, Fields]] = []
        for name, state in self._selected(queue):
            items.append(("QueueParams", _queue_params(name, state)))
            items.extend(("QueueMember", _queue_member(name, m)) for m in state.members.values())
            items.extend(
                ("QueueEntry", _queue_entry(name, position, caller, self._caller_ids(caller), now))
                for position, caller in enumerate(state.callers, start=1)
            )
        return items

    def queue_summary(self, now: float, queue: str | None = None) -> list[Fields]:
        return [_queue_summary(name, state, now) for name, state in self._selected(queue)]

    def _selected(self, queue: str | None) -> list[tuple[str, QueueState]]:
        return [(name, state) for name, state in self.queues.items() if queue in (None, name)]

    def _caller_ids(self, caller: QueueCaller) -> Fields:
        live = self.channels.get(caller.uniqueid)
        snapshot = live.snapshot if live is not None else caller.snapshot
        return {key: snapshot.get(key, "") for key in _CALLER_KEYS}

    # -- channels ------------------------------------------------------------------------

    def _new_channel(self, event: Fields) -> None:
        snapshot = {key: event.get(key, "") for key in SNAPSHOT_KEYS}
        created = float(event.get("Timestamp", self.time or 0.0))
        self.channels[snapshot["Uniqueid"]] = LiveChannel(snapshot, created)

    def _new_exten(self, event: Fields) -> None:
        live = self.channels.get(event.get("Uniqueid", ""))
        if live is not None:
            live.application = event.get("Application", "")
            live.application_data = event.get("AppData", "")

    def _var_set(self, event: Fields) -> None:
        live = self.channels.get(event.get("Uniqueid", ""))
        if live is not None and event.get("Variable") == "QUEUE_PRIO":
            live.queue_priority = event.get("Value", "0") or "0"

    def _bridge_enter(self, event: Fields) -> None:
        live = self.channels.get(event.get("Uniqueid", ""))
        if live is not None:
            live.bridge_id = event.get("BridgeUniqueid", "")

    def _bridge_leave(self, event: Fields) -> None:
        live = self.channels.get(event.get("Uniqueid", ""))
        if live is not None:
            live.bridge_id = ""

    def _hangup(self, event: Fields) -> None:
        uniqueid = event.get("Uniqueid", "")
        self.channels.pop(uniqueid, None)
        for state in self.queues.values():
            state.callers = [c for c in state.callers if c.uniqueid != uniqueid]

    # -- queues --------------------------------------------------------------------------

    def _queue(self, event: Fields) -> QueueState:
        return self.queues.setdefault(event.get("Queue", ""), QueueState())

    def _caller_join(self, event: Fields) -> None:
        state = self._queue(event)
        uniqueid = event.get("Uniqueid", "")
        live = self.channels.get(uniqueid)
        # The event's own Priority header is the dialplan priority, not the queue's.
        priority = live.queue_priority if live is not None else "0"
        snapshot = {key: event.get(key, "") for key in SNAPSHOT_KEYS}
        joined = float(event.get("Timestamp", self.time or 0.0))
        position = max(int(event.get("Position", "0") or 0), 1)
        state.callers.insert(position - 1, QueueCaller(uniqueid, snapshot, joined, priority))

    def _caller_leave(self, event: Fields) -> None:
        state = self._queue(event)
        uniqueid = event.get("Uniqueid", "")
        state.callers = [c for c in state.callers if c.uniqueid != uniqueid]

    def _caller_abandon(self, event: Fields) -> None:
        self._caller_leave(event)
        state = self._queue(event)
        state.abandoned += 1
        if int(event.get("HoldTime", "0") or 0) <= state.service_level:
            state.abandoned_in_sl += 1

    def _agent_connect(self, event: Fields) -> None:
        state = self._queue(event)
        state.holdtime = _rolling(state.holdtime, int(event.get("HoldTime", "0") or 0))
        member = state.members.get(event.get("Interface", ""))
        if member is not None:
            member["InCall"] = "1"

    def _agent_complete(self, event: Fields) -> None:
        state = self._queue(event)
        state.completed += 1
        if int(event.get("HoldTime", "0") or 0) <= state.service_level:
            state.completed_in_sl += 1
        state.talktime = _rolling(state.talktime, int(event.get("TalkTime", "0") or 0))
        member = state.members.get(event.get("Interface", ""))
        if member is not None:
            member["InCall"] = "0"

    def _member_update(self, event: Fields) -> None:
        members = self._queue(event).members
        member = members.setdefault(event.get("Interface", ""), {})
        member.update((name, event[key]) for key, name in _MEMBER_KEYS if key in event)

    def _member_removed(self, event: Fields) -> None:
        self._queue(event).members.pop(event.get("Interface", ""), None)

    # -- queue members, as QueueAdd / QueueRemove / QueuePause change them -------------------

    def add_member(self, queue: str, interface: str, name: str, *, paused: bool, reason: str, now: float) -> Fields | str:
        """QueueAdd: the QueueMemberAdded event, or the error message Asterisk 22 answers."""
        if queue not in self.queue_names():
            return "Unable to add interface to queue: No such queue"
        if interface in self.queues.get(queue, QueueState()).members:
            return "Unable to add interface: Already there"
        member = {
            "MemberName": name or interface, "Interface": interface, "StateInterface": interface,
            "Membership": "dynamic", "Penalty": "0", "CallsTaken": "0", "LastCall": "0",
            "LastPause": str(int(now)) if paused else "0", "LoginTime": str(int(now)), "InCall": "0",
            "Status": "1", "Paused": "1" if paused else "0", "PausedReason": reason if paused else "",
            "Ringinuse": "0", "Wrapuptime": "0",
        }  # fmt: skip
        return _member_event("QueueMemberAdded", queue, member, now)

    def remove_member(self, queue: str, interface: str, now: float) -> Fields | str:
        """QueueRemove: the QueueMemberRemoved event, or Asterisk 22's error message."""
        if queue not in self.queue_names():
            return "Unable to remove interface from queue: No such queue"
        member = self.queues.get(queue, QueueState()).members.get(interface)
        if member is None:
            return "Unable to remove interface: Not there"
        if member.get("Membership") == "static":
            return "Member not dynamic"
        return _member_event("QueueMemberRemoved", queue, _as_event_member(member), now)

    def pause_member(self, queue: str | None, interface: str, *, paused: bool, reason: str, now: float) -> list[Fields]:
        """QueuePause (no queue: every queue the interface is in): one QueueMemberPause per
        queue, empty when the interface is in none. Asterisk keeps an unpause's reason too."""
        events = []
        for name, state in self.queues.items():
            member = state.members.get(interface)
            if member is None or queue not in (None, name):
                continue
            changed = {**_as_event_member(member), "Paused": "1" if paused else "0", "PausedReason": reason}
            if paused:
                changed["LastPause"] = str(int(now))
            events.append(_member_event("QueueMemberPause", name, changed, now))
        return events

    def member_status(self, interface: str, status: str, *, in_call: bool | None, now: float) -> list[Fields]:
        """The device behind a member changed: one QueueMemberStatus per queue it is in."""
        events = []
        for name, state in self.queues.items():
            member = state.members.get(interface)
            if member is not None:
                changed = {**_as_event_member(member), "Status": status}
                if in_call is not None:
                    changed["InCall"] = "1" if in_call else "0"
                events.append(_member_event("QueueMemberStatus", name, changed, now))
        return events

    def queue_names(self) -> set[str]:
        return set(self.configured_queues) | set(self.queues)


def _rolling(average: int, sample: int) -> int:
    """app_queue's running average: three parts old value, one part new."""
    return (average * 3 + sample) >> 2


def _as_event_member(member: Fields) -> Fields:
    """A stored member (QueueStatus's names) under the names of the QueueMember* events."""
    return {key: member.get(name, "") for key, name in _MEMBER_KEYS} | {"Ringinuse": "0"}


def _member_event(event: str, queue: str, member: Fields, now: float) -> Fields:
    """A QueueMember* event in Asterisk 22's order (the real PBX's, tests/asterisk)."""
    order = ("MemberName", "Interface", "StateInterface", "Membership", "Penalty", "CallsTaken", "LastCall",
             "LastPause", "LoginTime", "InCall", "Status", "Paused", "PausedReason", "Ringinuse", "Wrapuptime")  # fmt: skip
    return {"Event": event, "Privilege": "agent,all", "Timestamp": f"{now:.6f}", "Queue": queue, **{key: member.get(key, "") for key in order}}


def _elapsed(since: float, now: float) -> int:
    return max(int(now - since), 0)


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole if whole else 0.0:.1f}"


def _core_show_channel(live: LiveChannel, now: float) -> Fields:
    return {
        **live.snapshot,
        "Application": live.application,
        "ApplicationData": live.application_data,
        "Duration": _hms(_elapsed(live.created, now)),
        "BridgeId": live.bridge_id,
    }


def _queue_params(name: str, state: QueueState) -> Fields:
    return {
        "Queue": name,
        "Max": "0",
        "Strategy": "rrmemory",
        "Calls": str(len(state.callers)),
        "Holdtime": str(state.holdtime),
        "TalkTime": str(state.talktime),
        "Completed": str(state.completed),
        "Abandoned": str(state.abandoned),
        "ServiceLevel": str(state.service_level),
        "ServicelevelPerf": _percent(state.completed_in_sl, state.completed),
        "ServicelevelPerf2": _percent(
            state.completed_in_sl + state.abandoned_in_sl, state.completed + state.abandoned
        ),
        "Weight": "0",
    }


def _queue_member(queue: str, member: Fields) -> Fields:
    return {"Queue": queue, **{name: member.get(name, "") for _, name in _MEMBER_KEYS}}


def _queue_entry(
    queue: str, position: int, caller: QueueCaller, caller_ids: Fields, now: float
) -> Fields:
    return {
        "Queue": queue,
        "Position": str(position),
        "Channel": caller.snapshot.get("Channel", ""),
        "Uniqueid": caller.uniqueid,
        **caller_ids,
        "Wait": str(_elapsed(caller.joined, now)),
        "Priority": caller.priority,
    }


def _queue_summary(name: str, state: QueueState, now: float) -> Fields:
    logged_in = [m for m in state.members.values() if m.get("Status") not in _UNAVAILABLE_STATUSES]
    available = [
        m for m in logged_in if m.get("Status") in _AVAILABLE_STATUSES and m.get("Paused") != "1"
    ]
    waits = [_elapsed(caller.joined, now) for caller in state.callers]
    return {
        "Queue": name,
        "LoggedIn": str(len(logged_in)),
        "Available": str(len(available)),
        "Callers": str(len(state.callers)),
        "HoldTime": str(state.holdtime),
        "TalkTime": str(state.talktime),
        "LongestHoldTime": str(max(waits, default=0)),
    }


def snapshot_after(history: list[Fields]) -> Snapshot:
    """What CoreShowChannels and QueueStatus would say after `history` (the tracker's resync input)."""
    world = PbxWorld()
    for event in history:
        world.apply(event)
    now = world.time or 0.0
    status = world.queue_status(now)
    pick = lambda name: [fields for event, fields in status if event == name]  # noqa: E731
    return Snapshot(datetime.fromtimestamp(now, UTC), world.core_show_channels(now), pick("QueueEntry"), pick("QueueMember"), pick("QueueParams"))

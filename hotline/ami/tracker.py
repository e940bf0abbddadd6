"""AMI messages -> call events. A pure state machine keyed on the caller's Linkedid.

Channels are tracked by Uniqueid (stable for a channel's life) and attached to a call when
they appear with its Linkedid, since entering a bridge copies the oldest Linkedid onto
every member. A call ends when its last channel hangs up; a channel that hung up stays
dead (Asterisk may stream an event of a channel after its Hangup: the recordings show a
NewCallerid after it). Resync snapshots
(CoreShowChannels + QueueStatus) are merged idempotently: a call that hung up never comes
back to life, and calls that changed while we were away are brought up to date.
This module is long because it is one state machine; its handlers are small.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from hotline.errors import HotlineError
from hotline.events import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallerIdentified,
    CallEvent,
    CallLeftQueue,
    CallQueued,
    CallState,
    CallTransferred,
    Outcome,
    RouteDecided,
)

from .framing import Message
from .snapshot import Snapshot, SnapshotRequested, interface_of

_UNKNOWN = ("", "<unknown>", "unknown")
_ROUTE_VARIABLES = {
    "HOTLINE_QUEUE": "queue",
    "QUEUE_PRIO": "priority",
    "HOTLINE_TIER": "tier",
    "HOTLINE_CUSTOMER": "customer",
    "HOTLINE_CALL": "route_id",
    "HOTLINE_FIRST_TRY": "first_try",
}
_RECENTLY_ENDED = 10_000
_RECENTLY_HUNG_UP = 40_000  # channels; a late event comes milliseconds after its Hangup
_UNCLAIMED_MAX = 50_000
_DIALED_APPS = frozenset({"AppQueue", "AppDial", "AppDial2"})
# Events handled even when their Uniqueid is not (yet) a channel of a tracked call.
_WITHOUT_CHANNEL = frozenset({"Newchannel", "BlindTransfer", "AttendedTransfer"})


class UntimedEvent(HotlineError):
    """An AMI event about a call came without its Timestamp header (timestampevents = yes?)."""

    error_id = "ami_untimed_event"


def event_time(message: Message) -> datetime:
    raw = message.get("Timestamp")
    if raw is None:
        raise UntimedEvent(event=message.get("Event"))
    try:
        return datetime.fromtimestamp(float(raw), UTC)
    except ValueError:
        raise UntimedEvent(f"bad Timestamp {raw!r}", event=message.get("Event")) from None


def _queue_app_argument(rows: list[Message]) -> str | None:
    """The queue a channel runs Queue() for: "vip,t,,,60" -> "vip"."""
    for row in rows:
        if row.get("Application") == "Queue":
            return row.get("ApplicationData", "").split(",")[0] or None
    return None


def _uniqueid_order(uniqueid: str) -> tuple[int, int]:
    """ "1795532957.12" after "1795532957.9": compare as numbers, not strings."""
    seconds, _, sequence = uniqueid.partition(".")
    try:
        return int(seconds), int(sequence or 0)
    except ValueError:
        return (0, 0)


def _known(value: str | None) -> str | None:
    return None if value is None or value in _UNKNOWN else value


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass(slots=True)
class _Channel:
    uniqueid: str
    name: str
    call_id: str
    caller_side: bool
    in_queue: bool = False


@dataclass(slots=True)
class LiveCall:
    """What the tracker knows of a call that has not ended (also restored from storage)."""

    call_id: str
    state: CallState = CallState.ARRIVING
    caller_number: str | None = None
    caller_name: str | None = None
    queue: str | None = None
    queued_at: datetime | None = None
    agent: str | None = None
    interface: str | None = None
    answered: bool = False
    completed: bool = False  # its AgentComplete seen: Asterisk's Completed counter counted it
    abandoned: bool = False
    left_queue: bool = False
    channels: set[str] = field(default_factory=set)
    # A restored call's channels are unknown until the next snapshot: don't end it early.
    channels_known: bool = True
    route: dict[str, str] = field(default_factory=dict)
    route_sent: bool = False
    # DialEnd ANSWER from the queue: AgentConnect with the member name follows.
    answer_pending: str | None = None
    # Left the queue unanswered: a Hangup next means abandoned, dialplan next means timeout.
    leave_pending: tuple[datetime, str, int | None, str | None, str | None] | None = None


class CallTracker:
    """Feed it AMI messages in order; it returns the hotline's call events."""

    def __init__(self, hotline_numbers: Iterable[str]) -> None:
        self.numbers = frozenset(hotline_numbers)
        self.calls: dict[str, LiveCall] = {}
        self._channels: dict[str, _Channel] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        # Channels that hung up (or that a snapshot showed gone), never attached again.
        self._dead: OrderedDict[str, _Channel] = OrderedDict()
        self._queue_counters: dict[str, tuple[int, int]] | None = None
        # Between SnapshotRequested and its Snapshot: channels seen new.
        self._new_since_request: set[str] | None = None
        self._unclaimed: list[Message] = []
        self._handlers = {
            "Newchannel": self._newchannel,
            "NewCallerid": self._new_callerid,
            "VarSet": self._varset,
            "Newexten": self._newexten,
            "QueueCallerJoin": self._queue_join,
            "AgentCalled": self._agent_called,
            "AgentRingNoAnswer": self._agent_no_answer,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_complete,
            "QueueCallerAbandon": self._queue_abandon,
            "QueueCallerLeave": self._queue_leave,
            "DialEnd": self._dial_end,
            "BlindTransfer": self._blind_transfer,
            "AttendedTransfer": self._attended_transfer,
            "Hangup": self._hangup,
        }

    # -- the stream -------------------------------------------------------------------

    def feed(self, message: Message) -> list[CallEvent]:
        name = message.get("Event", "")
        handler = self._handlers.get(name)
        if handler is None:
            return []
        channel = self._channel_for(message)
        if channel is None and name not in _WITHOUT_CHANNEL:
            if self._new_since_request is not None:
                # Maybe a call the pending snapshot will show us: keep it to replay then.
                if len(self._unclaimed) < _UNCLAIMED_MAX:
                    self._unclaimed.append(message)
                return []
            adopted = self._adopt_from_stream(message)
            if adopted is None:
                return []
            channel, arrived = adopted
            return [arrived, *handler(message, channel)]
        return handler(message, channel)

    def _adopt_from_stream(self, m: Message) -> tuple[_Channel, CallArrived] | None:
        """A caller's channel of a hotline call whose start we missed (it began while we
        were away): take the call up from here, marked reconciled."""
        uniqueid, linkedid, name = m.get("Uniqueid", ""), m.get("Linkedid", ""), m.get("Channel", "")
        if m.get("Exten") not in self.numbers or not linkedid or linkedid in self._ended:
            return None
        if uniqueid != linkedid and not any(f"/{number}@" in name for number in self.numbers):
            return None  # an agent's leg shows the hotline number too; only a caller's starts a call
        at = event_time(m)
        call = LiveCall(linkedid, caller_number=_known(m.get("CallerIDNum")), caller_name=_known(m.get("CallerIDName")))
        self.calls[linkedid] = call
        arrived = CallArrived(linkedid, at, call.caller_number, call.caller_name, name, True)
        return self._attach(call, uniqueid, name, caller_side=True), arrived

    def _channel_for(self, message: Message) -> _Channel | None:
        uniqueid = message.get("Uniqueid")
        if uniqueid is None:
            return None
        channel = self._channels.get(uniqueid)
        if channel is None:
            dead = self._dead.get(uniqueid)
            if dead is not None:
                # A late event of a channel that hung up: heard for its call, not revived.
                return dead if dead.call_id in self.calls else None
            call = self.calls.get(message.get("Linkedid", ""))
            if call is None:
                return None
            channel = self._attach(call, uniqueid, message.get("Channel", ""), caller_side=False, created=message.get("Event") == "Newchannel")
        return channel

    def _attach(self, call: LiveCall, uniqueid: str, name: str, *, caller_side: bool, created: bool = False) -> _Channel:
        channel = _Channel(uniqueid, name, call.call_id, caller_side)
        self._channels[uniqueid] = channel
        call.channels.add(uniqueid)
        # Only a channel born after the request may be missing from the snapshot and live:
        # one first heard of by another event was there before it (a late event after its
        # Hangup, say), and the snapshot says whether it still is.
        if created and self._new_since_request is not None:
            self._new_since_request.add(uniqueid)
        return channel

    def _newchannel(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        if channel is not None:
            call = self.calls[channel.call_id]
            if m.get("Exten") in self.numbers:
                channel.caller_side = True
            return self._identify(call, m, event_time(m)) if channel.caller_side else []
        if m.get("Exten") not in self.numbers:
            return []
        call_id = m.get("Linkedid") or m["Uniqueid"]
        if call_id in self._ended:
            return []
        at = event_time(m)
        call = LiveCall(call_id, caller_number=_known(m.get("CallerIDNum")), caller_name=_known(m.get("CallerIDName")))
        self.calls[call_id] = call
        self._attach(call, m["Uniqueid"], m.get("Channel", ""), caller_side=True, created=True)
        return [CallArrived(call_id, at, call.caller_number, call.caller_name, m.get("Channel", ""))]

    def _new_callerid(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        if not channel.caller_side:
            return []
        return self._identify(self.calls[channel.call_id], m, event_time(m))

    def _identify(self, call: LiveCall, m: Message, at: datetime) -> list[CallEvent]:
        number, name = _known(m.get("CallerIDNum")), _known(m.get("CallerIDName"))
        if (number is None or number == call.caller_number) and (name is None or name == call.caller_name):
            return []
        call.caller_number = number or call.caller_number
        call.caller_name = name or call.caller_name
        return [CallerIdentified(call.call_id, at, call.caller_number, call.caller_name)]

    def _varset(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        key = _ROUTE_VARIABLES.get(m.get("Variable", ""))
        if key is not None and channel.caller_side:
            self.calls[channel.call_id].route[key] = m.get("Value", "")
        return []

    def _route_decided(self, call: LiveCall, at: datetime) -> list[CallEvent]:
        if call.route_sent or not call.route:
            return []
        call.route_sent = True
        r = call.route
        return [RouteDecided(call.call_id, at, queue=r.get("queue") or None, priority=_int(r.get("priority")), tier=r.get("tier") or None, customer=r.get("customer") or None, route_id=r.get("route_id") or None, first_try=r.get("first_try") or None)]

    def _newexten(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        call = self.calls[channel.call_id]
        if call.leave_pending is None or not channel.caller_side:
            return []
        at, queue, position, context, exten = call.leave_pending
        call.leave_pending = None
        call.left_queue = True
        return [CallLeftQueue(call.call_id, at, queue, position, context, exten)]

    def _queue_join(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        call, at = self.calls[channel.call_id], event_time(m)
        channel.in_queue = True
        channel.caller_side = True
        events = self._identify(call, m, at) + self._route_decided(call, at)
        call.queue, call.queued_at, call.state = m.get("Queue"), at, CallState.QUEUED
        call.left_queue = False
        events.append(CallQueued(call.call_id, at, m.get("Queue", ""), _int(m.get("Position"))))
        return events

    def _agent_called(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        call = self.calls[channel.call_id]
        if call.answered:
            return []
        call.state = CallState.RINGING
        return [AgentRinging(call.call_id, event_time(m), m.get("Queue"), m.get("MemberName", ""), m.get("Interface"))]

    def _agent_no_answer(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        call = self.calls[channel.call_id]
        if not call.answered:
            call.state = CallState.QUEUED
        ring = _int(m.get("RingTime"))
        return [AgentNoAnswer(call.call_id, event_time(m), m.get("Queue"), m.get("MemberName", ""), m.get("Interface"), ring / 1000 if ring is not None else None)]

    def _agent_connect(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        return self._answer(self.calls[channel.call_id], m, event_time(m), reconciled=False)

    def _agent_complete(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        call = self.calls[channel.call_id]
        self._count(m.get("Queue", ""), completed=1)
        call.completed = True
        if call.answered:
            return []
        talk = _int(m.get("TalkTime")) or 0
        return self._answer(call, m, event_time(m) - timedelta(seconds=talk), reconciled=True)

    def _answer(self, call: LiveCall, m: Message, at: datetime, *, reconciled: bool) -> list[CallEvent]:
        if call.answered:
            return []
        call.answered, call.answer_pending, call.leave_pending = True, None, None
        call.state = CallState.TALKING
        call.agent, call.interface = m.get("MemberName") or call.agent, m.get("Interface") or call.interface
        call.queue = m.get("Queue") or call.queue
        hold = _int(m.get("HoldTime"))
        return [CallAnswered(call.call_id, at, call.queue, call.agent or "", call.interface, float(hold) if hold is not None else None, reconciled)]

    def _queue_abandon(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        call = self.calls[channel.call_id]
        self._count(m.get("Queue", ""), abandoned=1)
        if call.answered or call.abandoned:
            return []
        call.abandoned, call.leave_pending = True, None
        hold = _int(m.get("HoldTime"))
        return [CallAbandoned(call.call_id, event_time(m), m.get("Queue", ""), _int(m.get("Position")), float(hold) if hold is not None else None)]

    def _count(self, queue: str, *, completed: int = 0, abandoned: int = 0) -> None:
        """Keep the queue counters of the last snapshot current, so a resync's difference
        counts only what happened while we were away."""
        if self._queue_counters is not None and queue in self._queue_counters:
            done, gave_up = self._queue_counters[queue]
            self._queue_counters[queue] = (done + completed, gave_up + abandoned)

    def _queue_leave(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        call = self.calls[channel.call_id]
        channel.in_queue = False
        if call.answered or call.abandoned or call.answer_pending:
            return []
        if not call.answered:
            call.state = CallState.ARRIVING if call.state != CallState.ENDED else call.state
        call.leave_pending = (event_time(m), m.get("Queue", ""), _int(m.get("Position")), m.get("Context"), m.get("Exten"))
        return []

    def _dial_end(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        call = self.calls[channel.call_id]
        if m.get("DialStatus") != "ANSWER" or call.answered or not channel.caller_side:
            return []
        dest = m.get("DestChannel", "")
        if channel.in_queue:
            call.answer_pending = dest  # AgentConnect, with the member's name, follows
            return []
        interface = interface_of(dest)
        return self._answer(call, {"Interface": interface, "MemberName": interface}, event_time(m), reconciled=False)

    def _blind_transfer(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        call = self._call_of(m, "Transferee") or self._call_of(m, "Transferer")
        if call is None or m.get("Result") not in (None, "Success"):
            return []
        target = f"{m.get('Extension', '')}@{m.get('Context', '')}"
        return [CallTransferred(call.call_id, event_time(m), "blind", call.agent, target)]

    def _attended_transfer(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        call = self._call_of(m, "OrigTransferer") or self._call_of(m, "Transferee") or self._call_of(m, "SecondTransferer")
        if call is None or m.get("Result") not in (None, "Success"):
            return []
        target = m.get("TransferTargetChannel") or None
        return [CallTransferred(call.call_id, event_time(m), "attended", call.agent, target, interface_of(target) if target else None)]

    def _call_of(self, m: Message, prefix: str) -> LiveCall | None:
        channel = self._channels.get(m.get(f"{prefix}Uniqueid", ""))
        if channel is not None:
            return self.calls.get(channel.call_id)
        return self.calls.get(m.get(f"{prefix}Linkedid", ""))

    def _hangup(self, m: Message, channel: _Channel | None) -> list[CallEvent]:
        assert channel is not None
        call, at = self.calls[channel.call_id], event_time(m)
        events: list[CallEvent] = []
        if call.leave_pending is not None and channel.caller_side:
            # Left the queue and hung up with no dialplan in between: an abandon whose
            # QueueCallerAbandon we did not see.
            _, queue, position, _, _ = call.leave_pending
            call.leave_pending, call.abandoned = None, True
            events.append(CallAbandoned(call.call_id, at, queue, position, None))
        self._detach(channel)
        if not call.channels and call.channels_known:
            events += self._end(call, at, m.get("Cause"), reconciled=False)
        return events

    def _detach(self, channel: _Channel) -> None:
        self._channels.pop(channel.uniqueid, None)
        self._dead[channel.uniqueid] = channel
        if len(self._dead) > _RECENTLY_HUNG_UP:
            self._dead.popitem(last=False)
        call = self.calls.get(channel.call_id)
        if call is not None:
            call.channels.discard(channel.uniqueid)

    def _end(self, call: LiveCall, at: datetime, cause: str | None, *, reconciled: bool) -> list[CallEvent]:
        events = self._route_decided(call, at)
        if call.answered:
            outcome = Outcome.ANSWERED
        elif call.abandoned:
            outcome = Outcome.ABANDONED
        elif call.left_queue or call.leave_pending:
            outcome = Outcome.TIMEOUT
        elif call.queue is not None:
            outcome = Outcome.ABANDONED
        else:
            outcome = Outcome.FAILED
        for uniqueid in list(call.channels):
            self._channels.pop(uniqueid, None)
        del self.calls[call.call_id]
        self._ended[call.call_id] = None
        if len(self._ended) > _RECENTLY_ENDED:
            self._ended.popitem(last=False)
        events.append(CallEnded(call.call_id, at, outcome, cause, reconciled))
        return events

    # -- restart and resync -------------------------------------------------------------

    def forget(self) -> None:
        """Forget every call and channel (another instance may have stored more since: the
        calls are restored from the store, their channels come with the next snapshot)."""
        self.calls, self._channels, self._ended, self._dead, self._queue_counters = {}, {}, OrderedDict(), OrderedDict(), None
        self._new_since_request, self._unclaimed = None, []

    def restore(self, calls: Iterable[LiveCall], counters: dict[str, tuple[int, int]] | None = None) -> None:
        """Calls that were live when the service stopped; their channels come with the next
        snapshot. `counters`: the queue counters stored with them, the next snapshot's baseline."""
        if counters:
            self._queue_counters = dict(counters)
        for call in calls:
            call.channels_known = False
            call.channels = set()
            self.calls[call.call_id] = call

    def queue_counters(self) -> dict[str, tuple[int, int]] | None:
        """Each queue's (Completed, Abandoned) as of the events tracked so far: stored with
        them, the baseline of the resync after a restart."""
        return dict(self._queue_counters) if self._queue_counters is not None else None

    def snapshot_requested(self, _: SnapshotRequested | None = None) -> None:
        self._new_since_request, self._unclaimed = set(), []

    def resync(self, snapshot: Snapshot) -> list[CallEvent]:
        """Merge what Asterisk says is live now; returns the events that close the gap.
        What the stream showed after the request is newer than the snapshot and wins."""
        fresh = self._new_since_request or set()
        self._new_since_request = None
        # It may still list channels whose Hangup the stream brought first.
        if any(row.get("Uniqueid") in self._dead for row in snapshot.channels):
            snapshot = replace(snapshot, channels=[row for row in snapshot.channels if row.get("Uniqueid") not in self._dead])
        events: list[CallEvent] = []
        by_call = snapshot.channels_by_linkedid()
        outcomes = self._gap_outcomes(snapshot)
        for call in list(self.calls.values()):
            rows = by_call.pop(call.call_id, [])
            rows += [row for row in snapshot.channels if row.get("Uniqueid") in call.channels and row.get("Linkedid") != call.call_id]
            events += self._merge(call, rows, snapshot, outcomes, keep=call.channels & fresh)
        for linkedid, rows in by_call.items():
            if linkedid in self._ended or linkedid in self.calls:
                continue
            if any(row.get("Exten") in self.numbers for row in rows):
                events += self._adopt(linkedid, rows, snapshot)
        self._queue_counters = snapshot.queue_counters()
        # Events that came before the snapshot for calls we learnt of from it: their
        # hangups and answers are newer than (or as old as) the snapshot; replay them.
        unclaimed, self._unclaimed = self._unclaimed, []
        for message in unclaimed:
            events += self.feed(message)
        return events

    def _merge(self, call: LiveCall, rows: list[Message], snapshot: Snapshot, outcomes: dict[str, Outcome], keep: set[str] | frozenset[str] = frozenset()) -> list[CallEvent]:
        live = {row["Uniqueid"] for row in rows if "Uniqueid" in row} | keep
        for uniqueid in call.channels - live:
            channel = self._channels.get(uniqueid)
            if channel is not None:
                self._detach(channel)  # gone by the snapshot: a late event of it revives nothing
        call.channels &= live
        for row in rows:
            if row["Uniqueid"] not in self._channels:
                dialed = row.get("Application") in _DIALED_APPS  # the agent's leg, "(Outgoing Line)"
                caller_side = not dialed and (row.get("Exten") in self.numbers or row.get("Application") == "Queue" or row["Uniqueid"] == call.call_id)
                self._attach(call, row["Uniqueid"], row.get("Channel", ""), caller_side=caller_side)
        call.channels_known = True
        if not call.channels:
            return self._end_in_gap(call, snapshot.at, outcomes.get(call.call_id))
        return self._catch_up(call, rows, snapshot)

    def _end_in_gap(self, call: LiveCall, at: datetime, outcome: Outcome | None) -> list[CallEvent]:
        events: list[CallEvent] = []
        if not call.answered and not call.abandoned and call.queue is not None and not call.left_queue:
            if outcome is Outcome.ANSWERED:
                call.answered = True
                events.append(CallAnswered(call.call_id, at, call.queue, call.agent or "", call.interface, None, True))
            elif outcome is Outcome.TIMEOUT:
                call.left_queue = True
            else:
                # No counters to tell: count it abandoned, so the caller is called back.
                call.abandoned = True
                events.append(CallAbandoned(call.call_id, at, call.queue, None, None))
        return events + self._end(call, at, None, reconciled=True)

    def _catch_up(self, call: LiveCall, rows: list[Message], snapshot: Snapshot) -> list[CallEvent]:
        events: list[CallEvent] = []
        at = snapshot.at
        for row in rows:
            if self._channels[row["Uniqueid"]].caller_side:
                events += self._identify(call, row, at)
        entry = snapshot.entry_for(call.channels)
        if entry is not None and call.queue is None:
            call.queue, call.queued_at, call.state = entry.get("Queue"), at - timedelta(seconds=_int(entry.get("Wait")) or 0), CallState.QUEUED
            self._channels[entry["Uniqueid"]].in_queue = True
            events.append(CallQueued(call.call_id, call.queued_at, entry.get("Queue", ""), _int(entry.get("Position"))))
        if not call.answered:
            agent_row = snapshot.bridged_party(rows, self._caller_uids(call))
            if agent_row is not None:
                interface = interface_of(agent_row.get("Channel", ""))
                member = snapshot.member_by_interface(call.queue, interface)
                queue = call.queue or (member or {}).get("Queue") or _queue_app_argument(rows)
                answer = {"Interface": member.get("Location", interface) if member else interface, "MemberName": (member or {}).get("Name") or interface, "Queue": queue or ""}
                events += self._answer(call, answer, at, reconciled=True)
        return events

    def _caller_uids(self, call: LiveCall) -> set[str]:
        return {uid for uid in call.channels if self._channels[uid].caller_side}

    def _adopt(self, linkedid: str, rows: list[Message], snapshot: Snapshot) -> list[CallEvent]:
        # CoreShowChannels lists channels in no fixed order: the caller's own channel is the
        # call's oldest (its Uniqueid is the Linkedid); else a hotline channel not dialled.
        first = min(rows, key=lambda row: _uniqueid_order(row.get("Uniqueid", "")))
        caller = next((r for r in rows if r.get("Uniqueid") == linkedid), None) or next(
            (r for r in rows if r.get("Exten") in self.numbers and r.get("Application") not in _DIALED_APPS), first
        )
        arrived = snapshot.at - snapshot.age_of(first)
        call = LiveCall(linkedid, caller_number=_known(caller.get("CallerIDNum")), caller_name=_known(caller.get("CallerIDName")))
        self.calls[linkedid] = call
        events: list[CallEvent] = [CallArrived(linkedid, arrived, call.caller_number, call.caller_name, caller.get("Channel", ""), True)]
        return events + self._merge(call, rows, snapshot, {})

    def _gap_outcomes(self, snapshot: Snapshot) -> dict[str, Outcome]:
        """Queue counters since the last snapshot (or since the stored events, after a
        restart) say how many of the calls that vanished from each queue were answered or
        abandoned; oldest first gets answered first.
        Asterisk counts Completed when an answered call ends (AgentComplete), so the
        answered calls that ended unseen are taken off first (the real PBX showed it)."""
        if self._queue_counters is None:
            return {}
        now = snapshot.queue_counters()
        live = {row.get("Linkedid") for row in snapshot.channels}
        outcomes: dict[str, Outcome] = {}
        for queue, (completed, abandoned) in now.items():
            before = self._queue_counters.get(queue)
            if before is None or completed < before[0] or abandoned < before[1]:
                # A queue new to us, or Asterisk restarted (its counters start again at 0):
                # they tell nothing, and its vanished calls count abandoned (called back).
                continue
            gone = [c for c in self.calls.values() if c.queue == queue and c.call_id not in live]
            ended_unseen = sum(1 for c in gone if c.answered and not c.completed)
            answered = max(0, completed - before[0] - ended_unseen)
            gave_up = max(0, abandoned - before[1])
            vanished = sorted((c for c in gone if not c.answered and not c.abandoned), key=lambda c: c.queued_at or snapshot.at)
            for call in vanished:
                if answered:
                    outcomes[call.call_id], answered = Outcome.ANSWERED, answered - 1
                elif gave_up:
                    outcomes[call.call_id], gave_up = Outcome.ABANDONED, gave_up - 1
                else:
                    outcomes[call.call_id] = Outcome.TIMEOUT
        return outcomes

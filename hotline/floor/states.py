"""Agents' states on the floor, read from Asterisk's queue-member events (QueueMemberAdded,
Removed, Pause, Status) and from a QueueStatus snapshot after a reconnect, and the time an
agent spent in each over a day. Pure: messages and moments in, state changes out; the
service (floor/agents.py) stores them, tells the console and sends the actions.

An agent is an extension: the digits of its queue member's interface (PJSIP/8001,
Local/8001@agents/n -> 8001), one member per queue. Its state is read across all the queues
it is in, because that is what decides whether Asterisk may offer it a call:
- no queue: logged_out (签出);
- its device in use, busy or on hold, or in a queue call (InCall): on_call (通话);
- its device ringing: ringing;
- paused in every queue: wrapup (话后整理) when the latest pause's reason is the after-call
  reason, paused (示忙) with that reason otherwise;
- else ready (空闲), even when paused in some of its queues (it can still be offered calls).
Every QueueMember* event carries the member's whole state (Status, InCall, Paused,
PausedReason), so applying one is idempotent and a replayed event never breaks anything.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from hotline.ami.framing import Message
from hotline.ami.presence import extension_of
from hotline.ami.tracker import event_time


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAPUP = "wrapup"
    PAUSED = "paused"


MEMBER_EVENTS = frozenset({"QueueMemberAdded", "QueueMemberRemoved", "QueueMemberPause", "QueueMemberStatus"})
# Asterisk's device states (AST_DEVICE_*) as a member's Status: in use, busy, ringing while
# in use, on hold count as a call; 6 is ringing. 1 idle, 4 invalid, 5 unavailable, 0 unknown.
_ON_CALL_STATUSES = frozenset({"2", "3", "7", "8"})
_RINGING_STATUS = "6"


@dataclass(slots=True)
class _Member:
    """One queue membership of an agent, as Asterisk last reported it."""

    name: str
    interface: str
    status: str
    in_call: bool
    paused: bool
    reason: str
    paused_at: float  # orders pauses across queues: the latest one's reason is the agent's


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """An agent's current state and since when (the event's Timestamp that brought it)."""

    extension: str
    state: AgentState
    reason: str | None
    since: datetime
    member: str | None = None  # Asterisk's member name (agent-8001), as calls name the agent
    interface: str | None = None  # the member's interface, for the actions sent on its behalf
    queues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StateChange:
    extension: str
    state: AgentState
    reason: str | None
    at: datetime
    previous: AgentState | None  # None: the first state this agent was seen in
    member: str | None = None
    queues: tuple[str, ...] = ()


def agent_extension(interface: str) -> str | None:
    return extension_of(interface)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _member(fields: Message, *, name_key: str, interface_key: str, before: _Member | None, paused_at: float) -> _Member:
    """A membership from an event (MemberName/Interface) or a QueueMember row (Name/Location);
    a field the message lacks keeps its earlier value."""
    paused = _flag(fields["Paused"]) if "Paused" in fields else (before.paused if before else False)
    reason = fields.get("PausedReason", before.reason if before else "") if paused else ""
    # A pause keeps the moment it began while it lasts with the same reason.
    still = before is not None and before.paused and paused and before.reason == reason
    return _Member(
        name=fields.get(name_key) or (before.name if before else ""),
        interface=fields.get(interface_key) or (before.interface if before else ""),
        status=fields.get("Status") or (before.status if before else "0"),
        in_call=_flag(fields["InCall"]) if "InCall" in fields else (before.in_call if before else False),
        paused=paused,
        reason=reason,
        paused_at=before.paused_at if still and before is not None else paused_at,
    )


def derive(members: Iterable[_Member], wrapup_reason: str) -> tuple[AgentState, str | None]:
    """The agent's state from its memberships (see the module's docstring)."""
    found = list(members)
    if not found:
        return AgentState.LOGGED_OUT, None
    if any(m.in_call or m.status in _ON_CALL_STATUSES for m in found):
        return AgentState.ON_CALL, None
    if any(m.status == _RINGING_STATUS for m in found):
        return AgentState.RINGING, None
    if all(m.paused for m in found):
        reason = max(found, key=lambda m: m.paused_at).reason or None
        return (AgentState.WRAPUP if reason == wrapup_reason else AgentState.PAUSED), reason
    return AgentState.READY, None


def _epoch(raw: str | None) -> datetime | None:
    try:
        seconds = float(raw or 0)
    except ValueError:
        return None
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


@dataclass
class AgentStates:
    """Fed AMI messages (anything; only queue-member events count) and resync snapshots;
    returns the agents whose state changed."""

    wrapup_reason: str
    _members: dict[str, dict[str, _Member]] = field(default_factory=dict)  # extension -> queue -> member
    _status: dict[str, AgentStatus] = field(default_factory=dict)

    def feed(self, message: Message) -> list[StateChange]:
        """One message; raises UntimedEvent for a member event without its Timestamp."""
        event = message.get("Event")
        if event not in MEMBER_EVENTS:
            return []
        extension = agent_extension(message.get("Interface", ""))
        if extension is None:
            return []
        at = event_time(message)
        queue = message.get("Queue", "")
        memberships = self._members.setdefault(extension, {})
        if event == "QueueMemberRemoved":
            memberships.pop(queue, None)
        else:
            before = memberships.get(queue)
            memberships[queue] = _member(message, name_key="MemberName", interface_key="Interface", before=before, paused_at=at.timestamp())
        return self._settle(extension, at)

    def resync(self, rows: Iterable[Message], at: datetime) -> list[StateChange]:
        """QueueStatus's QueueMember rows, taken at `at`: what they show replaces what was
        known. An agent missing from them has logged out. A pause that began while we were
        away is dated by its LastPause, when that falls inside the gap."""
        fresh: dict[str, dict[str, _Member]] = {}
        for row in rows:
            extension = agent_extension(row.get("Location", ""))
            if extension is None:
                continue
            paused_at = _epoch(row.get("LastPause")) or at
            fresh.setdefault(extension, {})[row.get("Queue", "")] = _member(row, name_key="Name", interface_key="Location", before=None, paused_at=paused_at.timestamp())
        extensions = sorted(set(self._members) | set(fresh) | set(self._status))
        self._members = fresh
        changes: list[StateChange] = []
        for extension in extensions:
            changes += self._settle(extension, self._resync_time(extension, rows_at=at))
        return changes

    def restore(self, statuses: Iterable[AgentStatus]) -> None:
        """What was stored when the service last stopped; the next snapshot corrects it."""
        for status in statuses:
            self._status[status.extension] = status

    def current(self) -> Mapping[str, AgentStatus]:
        return dict(self._status)

    def status(self, extension: str) -> AgentStatus | None:
        return self._status.get(extension)

    def paused_everywhere(self, extension: str) -> bool:
        """Paused in every queue it is in, whatever its state shows now (a pause chosen
        during a call shows only once the call ends)."""
        members = self._members.get(extension, {})
        return bool(members) and all(m.paused for m in members.values())

    def interfaces(self, extension: str) -> dict[str, str]:
        """Queue -> the member's interface, for each queue the agent is in."""
        return {queue: m.interface for queue, m in self._members.get(extension, {}).items()}

    # -- inside -------------------------------------------------------------------------

    def _resync_time(self, extension: str, rows_at: datetime) -> datetime:
        state, _ = derive(self._members.get(extension, {}).values(), self.wrapup_reason)
        before = self._status.get(extension)
        if state in (AgentState.PAUSED, AgentState.WRAPUP) and before is not None:
            last = max((m.paused_at for m in self._members[extension].values()), default=0.0)
            paused = datetime.fromtimestamp(last, UTC)
            if before.since < paused <= rows_at:
                return paused
        return rows_at

    def _settle(self, extension: str, at: datetime) -> list[StateChange]:
        memberships = self._members.get(extension, {})
        state, reason = derive(memberships.values(), self.wrapup_reason)
        before = self._status.get(extension)
        first = next(iter(memberships.values()), None)
        member = first.name if first else (before.member if before else None)
        interface = first.interface if first else (before.interface if before else None)
        queues = tuple(sorted(memberships))
        if before is not None and (before.state, before.reason) == (state, reason):
            self._status[extension] = replace(before, member=member, interface=interface, queues=queues)
            return []
        if before is None and state is AgentState.LOGGED_OUT:
            return []  # never seen in a queue: nothing to say about it
        since = max(at, before.since) if before is not None else at  # never before the state it ends
        self._status[extension] = AgentStatus(extension, state, reason, since, member, interface, queues)
        return [StateChange(extension, state, reason, since, before.state if before else None, member, queues)]


# --- time in each state over a period (the daily report) ----------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    """One stored state interval; ended_at None while it lasts."""

    extension: str
    state: AgentState
    reason: str | None
    started_at: datetime
    ended_at: datetime | None


@dataclass
class Timesheet:
    """Seconds an agent spent in each state within a period; paused per reason ("" when
    the pause had none, e.g. from a phone that sends no reason)."""

    ready: float = 0.0
    ringing: float = 0.0
    on_call: float = 0.0
    wrapup: float = 0.0
    paused: dict[str, float] = field(default_factory=dict)

    @property
    def logged_in(self) -> float:
        return self.ready + self.ringing + self.on_call + self.wrapup + sum(self.paused.values())

    def add(self, state: AgentState, reason: str | None, seconds: float) -> None:
        if state is AgentState.PAUSED:
            key = reason or ""
            self.paused[key] = self.paused.get(key, 0.0) + seconds
        elif state is not AgentState.LOGGED_OUT:
            setattr(self, state.value, getattr(self, state.value) + seconds)


def clipped_seconds(interval: Interval, start: datetime, end: datetime, now: datetime) -> float:
    """How much of the interval lies within [start, end); one still open lasts until now."""
    stop = min(interval.ended_at or now, end, now)
    begin = max(interval.started_at, start)
    return max((stop - begin).total_seconds(), 0.0)


def time_in_states(intervals: Iterable[Interval], start: datetime, end: datetime, now: datetime) -> dict[str, Timesheet]:
    """Extension -> its timesheet for [start, end): intervals cut at both ends (a pause
    across midnight counts on each day for its own part)."""
    sheets: dict[str, Timesheet] = {}
    for interval in intervals:
        seconds = clipped_seconds(interval, start, end, now)
        if seconds > 0:
            sheets.setdefault(interval.extension, Timesheet()).add(interval.state, interval.reason, seconds)
    return sheets

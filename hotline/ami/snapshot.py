"""A resync snapshot: what CoreShowChannels and QueueStatus said, and when (the Ping
reply's Timestamp that closes it: list events carry no Timestamp of their own)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .framing import Message

# "Local/8001@agents-00000001;1" -> "Local/8001@agents"; "PJSIP/8101-0000002a" -> "PJSIP/8101";
# a queue member's "Local/8001@agents/n" -> "Local/8001@agents".
_LOCAL_SUFFIX = re.compile(r"-[0-9a-f]{8};[12]$")
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8,}$")
_DIAL_OPTIONS = re.compile(r"/n$")


def interface_of(channel: str) -> str:
    """The device an agent's channel belongs to, comparable with a queue member's Location."""
    if channel.startswith("Local/"):
        return _DIAL_OPTIONS.sub("", _LOCAL_SUFFIX.sub("", channel))
    return _CHANNEL_SUFFIX.sub("", channel)


def _seconds(duration: str) -> int:
    try:
        h, m, s = (int(part) for part in duration.split(":"))
    except ValueError:
        return 0
    return h * 3600 + m * 60 + s


@dataclass(frozen=True)
class SnapshotRequested:
    """Queued just before the list actions are sent: events between this and the Snapshot
    may be newer than the snapshot (Asterisk answers actions and streams events apart)."""


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    channels: list[Message] = field(default_factory=list)
    entries: list[Message] = field(default_factory=list)  # QueueEntry
    members: list[Message] = field(default_factory=list)  # QueueMember
    params: list[Message] = field(default_factory=list)  # QueueParams

    def channels_by_linkedid(self) -> dict[str, list[Message]]:
        grouped: dict[str, list[Message]] = {}
        for row in self.channels:
            grouped.setdefault(row.get("Linkedid", ""), []).append(row)
        return grouped

    def entry_for(self, uniqueids: Iterable[str]) -> Message | None:
        wanted = set(uniqueids)
        return next((e for e in self.entries if e.get("Uniqueid") in wanted), None)

    def bridged_party(self, rows: list[Message], caller_uids: set[str]) -> Message | None:
        """A non-caller channel sharing a bridge with one of the caller's channels."""
        bridges = {r.get("BridgeId") for r in rows if r.get("Uniqueid") in caller_uids and r.get("BridgeId")}
        return next((r for r in rows if r.get("BridgeId") in bridges and r.get("Uniqueid") not in caller_uids), None)

    def member_by_interface(self, queue: str | None, interface: str) -> Message | None:
        matches = [m for m in self.members if interface_of(m.get("Location", "")) == interface]
        return next((m for m in matches if m.get("Queue") == queue), matches[0] if matches else None)

    def queue_counters(self) -> dict[str, tuple[int, int]]:
        return {p.get("Queue", ""): (int(p.get("Completed") or 0), int(p.get("Abandoned") or 0)) for p in self.params}

    def age_of(self, row: Message) -> timedelta:
        return timedelta(seconds=_seconds(row.get("Duration", "")))

"""Who can take a call now: queue members' device status and pause state, from AMI
(QueueMemberStatus/Pause/Added/Removed events and QueueStatus snapshots). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .framing import Message
from .snapshot import Snapshot

# AST_DEVICE_NOT_INUSE: registered and idle. Anything else (in use, ringing, unavailable,
# unknown) is not free to be tried first.
_IDLE = "1"
_EXTENSION = re.compile(r"^[A-Za-z]+/(\d+)")  # PJSIP/8001, Local/8001@agents/n -> 8001


@dataclass(slots=True)
class _Member:
    status: str
    paused: bool


def extension_of(interface: str) -> str | None:
    match = _EXTENSION.match(interface)
    return match.group(1) if match else None


class AgentPresence:
    def __init__(self) -> None:
        self._members: dict[tuple[str, str], _Member] = {}  # (queue, interface)

    def feed(self, m: Message) -> None:
        event = m.get("Event")
        if event in ("QueueMemberStatus", "QueueMemberAdded", "QueueMemberPause"):
            key = (m.get("Queue", ""), m.get("Interface", ""))
            current = self._members.get(key)
            status = m.get("Status") or (current.status if current else "0")
            paused = m.get("Paused", "1" if current and current.paused else "0") == "1"
            self._members[key] = _Member(status, paused)
        elif event == "QueueMemberRemoved":
            self._members.pop((m.get("Queue", ""), m.get("Interface", "")), None)

    def resync(self, snapshot: Snapshot) -> None:
        self._members = {(m.get("Queue", ""), m.get("Location", "")): _Member(m.get("Status", "0"), m.get("Paused") == "1") for m in snapshot.members}

    def available(self, extension: str) -> bool:
        """Idle and not paused in at least one queue."""
        return any(
            member.status == _IDLE and not member.paused
            for (_, interface), member in self._members.items()
            if extension_of(interface) == extension
        )

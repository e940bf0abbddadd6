"""Agent presence from the real transcripts' queue member events."""

from __future__ import annotations

from datetime import UTC, datetime

from hotline.ami.framing import AmiFramer
from hotline.ami.presence import AgentPresence, extension_of
from hotline.ami.snapshot import Snapshot
from hotline.testing.transcripts import TRACES_DIR


def _messages(name: str) -> list[dict[str, str]]:
    return [f for f in AmiFramer().feed((TRACES_DIR / f"{name}.ami").read_bytes()) if isinstance(f, dict)]


def test_extension_of_interfaces() -> None:
    assert extension_of("Local/8001@agents/n") == "8001"
    assert extension_of("PJSIP/8101") == "8101"
    assert extension_of("SIP/alice") is None


def test_paused_agents_are_not_available_and_unpaused_ones_are() -> None:
    presence = AgentPresence()
    messages = _messages("abandoned-in-queue")
    unpause = next(i for i, m in enumerate(messages) if m.get("Event") == "QueueMemberPause" and m.get("Paused") == "0")
    for m in messages[:unpause]:
        presence.feed(m)
    assert not presence.available("8001")  # paused for lunch while the caller waited
    for m in messages[unpause:]:
        presence.feed(m)
    assert presence.available("8001") and presence.available("8002")


def test_snapshot_replaces_what_we_knew() -> None:
    presence = AgentPresence()
    members = [m for m in _messages("resync-snapshot") if m.get("Event") == "QueueMember"]
    presence.resync(Snapshot(datetime.now(UTC), members=members))
    assert not presence.available("8001")  # paused: meeting
    assert not presence.available("8009")  # in a call (Status 2)
    assert not presence.available("8777")

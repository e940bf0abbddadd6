"""Long AMI streams built from the real transcripts: each copy shifts every Asterisk epoch
(Uniqueid, Linkedid, Timestamp) so that every copy is a new set of calls."""

from __future__ import annotations

import re

from hotline.testing.transcripts import recorded_events

CALL_TRANSCRIPTS = ("answered-regular", "answered-vip", "abandoned-in-queue", "agent-no-answer-then-answer", "chinese-names", "keep-place", "fastagi-callers", "resync-snapshot")
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_EPOCH = re.compile(rb"\b(17955\d{5})\.")


def long_stream(min_events: int) -> tuple[bytes, int]:
    """(stream bytes after the banner, number of events), at least `min_events` events."""
    base = b"".join(b"".join(recorded_events(name)) for name in CALL_TRANSCRIPTS)
    per_copy = sum(len(recorded_events(name)) for name in CALL_TRANSCRIPTS)
    copies = -(-min_events // per_copy)
    parts = [_EPOCH.sub(lambda m, k=k: str(int(m.group(1)) + k * 20_000).encode() + b".", base) for k in range(copies)]
    return b"".join(parts), copies * per_copy


def reads(stream: bytes, size: int = 4096) -> list[bytes]:
    """The stream as TCP reads of `size` bytes: they cut lines and characters anywhere."""
    return [stream[i : i + size] for i in range(0, len(stream), size)]

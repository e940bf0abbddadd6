"""Drive the pure pipeline (framer -> tracker -> projection) from raw AMI bytes; used by
tests and benchmarks to see what a transcript adds up to, under any chunking."""

from __future__ import annotations

from collections.abc import Iterable

from hotline.ami.framing import AmiFramer, Banner, MalformedFrame
from hotline.ami.tracker import CallTracker
from hotline.calls.projection import CallRecord, apply
from hotline.events import CallEvent


def chunks(raw: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(raw)})
    edges = [0, *points, len(raw)]
    return [raw[a:b] for a, b in zip(edges, edges[1:])]


def replay(pieces: Iterable[bytes], tracker: CallTracker | None = None, *, expect_banner: bool = True) -> tuple[list[CallEvent], list[MalformedFrame]]:
    tracker = tracker or CallTracker({"96655"})
    framer = AmiFramer(expect_banner=expect_banner)
    events: list[CallEvent] = []
    malformed: list[MalformedFrame] = []
    for piece in pieces:
        for frame in framer.feed(piece):
            if isinstance(frame, MalformedFrame):
                malformed.append(frame)
            elif not isinstance(frame, Banner):
                events += tracker.feed(frame)
    return events, malformed


def fold(events: Iterable[CallEvent]) -> dict[str, CallRecord]:
    records: dict[str, CallRecord] = {}
    for event in events:
        records[event.call_id] = apply(records.get(event.call_id), event)
    return records


def summary(records: dict[str, CallRecord]) -> list[tuple[str | None, str | None, str | None, str | None, str | None]]:
    """The facts a transcript's README states: caller, name, queue, agent, outcome."""
    return sorted(
        ((r.caller_number, r.caller_name, r.queue, r.agent, r.outcome) for r in records.values()),
        key=lambda row: tuple(x or "" for x in row),
    )

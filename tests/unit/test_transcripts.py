"""Replay tooling: a recording moved to today, and one call picked out of several."""

from __future__ import annotations

from datetime import UTC, datetime

from hotline.events import AgentRinging, CallArrived, CallEnded
from hotline.testing.replay import replay
from hotline.testing.transcripts import headers, of_call, recorded_events, retimed

TODAY = datetime(2026, 11, 25, 2, 0, tzinfo=UTC).timestamp()


def test_retimed_moves_every_timestamp_by_the_same_amount() -> None:
    events = recorded_events("chinese-names")
    moved = retimed(events, TODAY)

    before = [float(headers(e)["Timestamp"]) for e in events if "Timestamp" in headers(e)]
    after = [float(headers(e)["Timestamp"]) for e in moved if "Timestamp" in headers(e)]
    assert after[0] == TODAY
    assert [round(b - a, 6) for a, b in zip(before, after, strict=True)] == [round(TODAY - before[0], 6)] * len(before)
    # Nothing else changed: the same headers, in the same order, with the same other values.
    for old, new in zip(events, moved, strict=True):
        assert {k: v for k, v in headers(old).items() if k != "Timestamp"} == {k: v for k, v in headers(new).items() if k != "Timestamp"}

    calls, malformed = replay([b"Asterisk Call Manager/9.0.0\r\n", *moved])
    assert malformed == []
    assert min(e.at for e in calls) == datetime.fromtimestamp(TODAY, UTC)


def test_of_call_keeps_one_call_of_a_recording_with_two() -> None:
    events = recorded_events("chinese-names")
    both, _ = replay([b"Asterisk Call Manager/9.0.0\r\n", *events])
    first = next(e for e in both if isinstance(e, CallArrived))

    one, malformed = replay([b"Asterisk Call Manager/9.0.0\r\n", *of_call(events, first.call_id)])

    assert malformed == []
    assert {e.call_id for e in one} == {first.call_id}
    assert len({e.call_id for e in both}) == 2
    assert [type(e) for e in one if isinstance(e, (CallArrived, AgentRinging, CallEnded))] == [CallArrived, AgentRinging, CallEnded]

"""The tracker across a restart, on Asterisk 22's real transcripts, wherever it falls:
the service saw the stream up to K and was killed; the stream up to R went by unseen
(Asterisk drops events before a session logs in); the snapshot shows the PBX as it was
at S; it reaches the tracker after the events up to P, P before or after S (Asterisk
answers actions and streams events apart, so either may come first).

Whatever K, R, S and P: no call stays live once the stream is over, no call ends twice,
and a call seen answered before the kill ends answered by the agent who answered it."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.ami.framing import AmiFramer
from hotline.ami.snapshot import Snapshot
from hotline.ami.tracker import CallTracker
from hotline.events import CallAnswered, CallEnded, CallEvent, Outcome
from hotline.testing.transcripts import TRACES_DIR
from hotline.testing.world import snapshot_after

TRACES = ("answered-regular", "answered-vip", "abandoned-in-queue", "agent-no-answer-then-answer", "chinese-names", "blind-transfer", "attended-transfer")


def _messages(name: str) -> list[dict[str, str]]:
    return [f for f in AmiFramer().feed((TRACES_DIR / f"{name}.ami").read_bytes()) if isinstance(f, dict) and "Event" in f]


def _restart(messages: list[dict[str, str]], k: int, r: int, s: int | Snapshot, p: int) -> tuple[list[CallEvent], list[CallEvent], CallTracker]:
    before = CallTracker({"96655"})
    seen = [e for m in messages[:k] for e in before.feed(m)]
    after = CallTracker({"96655"})
    after.restore(copy.deepcopy(list(before.calls.values())))  # what the store gives back
    after.snapshot_requested()
    events = [e for m in messages[r:p] for e in after.feed(m)]
    events += after.resync(s if isinstance(s, Snapshot) else snapshot_after(messages[:s]))
    events += [e for m in messages[p:] for e in after.feed(m)]
    return seen, events, after


@pytest.mark.parametrize("name", TRACES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_restart_anywhere_leaves_no_call_live_and_ends_none_twice(name: str, data: st.DataObject) -> None:
    messages = _messages(name)
    n = len(messages)
    k = data.draw(st.integers(0, n), label="K: seen before the kill")
    r = data.draw(st.integers(k, n), label="R: logged in again")
    s = data.draw(st.integers(r, n), label="S: the snapshot's moment")
    p = data.draw(st.integers(r, n), label="P: the snapshot read after")
    seen, events, tracker = _restart(messages, k, r, s, p)

    assert tracker.calls == {}, "a call stays live after its channels are all gone"
    ended = Counter(e.call_id for e in seen + events if isinstance(e, CallEnded))
    assert all(count == 1 for count in ended.values()), ended
    answered_before = {e.call_id: e.agent for e in seen if isinstance(e, CallAnswered)}
    for call_id, agent in answered_before.items():
        (end,) = [e for e in seen + events if isinstance(e, CallEnded) and e.call_id == call_id]
        assert end.outcome is Outcome.ANSWERED
        assert [e.agent for e in events if isinstance(e, CallAnswered) and e.call_id == call_id] in ([], [agent])


def test_every_restart_point_of_one_call_is_covered_exhaustively() -> None:
    """The same, over every (K, R, S, P) a step of 4 apart in the shortest transcript."""
    messages = _messages("answered-regular")
    n = len(messages)
    points = [*range(0, n, 4), n]
    snapshots = {s: snapshot_after(messages[:s]) for s in points}
    checked = 0
    for k in points:
        for r in (x for x in points if x >= k):
            for s in (x for x in points if x >= r):
                for p in (x for x in points if x >= r):
                    seen, events, tracker = _restart(messages, k, r, snapshots[s], p)
                    assert tracker.calls == {}, (k, r, s, p)
                    assert sum(1 for e in seen + events if isinstance(e, CallEnded)) <= 1, (k, r, s, p)
                    checked += 1
    assert checked > 5000

"""The call tracker on Asterisk 22's real transcripts: the calls each README row describes,
under any chunking, and nothing invented when the stream starts half-way."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.ami.framing import AmiFramer, Banner, MalformedFrame
from hotline.ami.snapshot import Snapshot
from hotline.ami.tracker import CallTracker, UntimedEvent
from hotline.events import CallAnswered, CallEnded, CallTransferred, Outcome
from hotline.testing.replay import chunks, fold, replay, summary
from hotline.testing.transcripts import TRACES_DIR
from hotline.testing.world import snapshot_after
from tests.expected import EXPECTED_CALLS


def _raw(name: str) -> bytes:
    return (TRACES_DIR / f"{name}.ami").read_bytes()


def _messages(name: str) -> list[dict[str, str]]:
    return [f for f in AmiFramer().feed(_raw(name)) if isinstance(f, dict)]


@pytest.mark.parametrize("name", sorted(EXPECTED_CALLS))
def test_transcript_gives_the_calls_its_readme_describes(name: str) -> None:
    events, malformed = replay([_raw(name)])
    assert malformed == []
    assert summary(fold(events)) == sorted(EXPECTED_CALLS[name], key=lambda row: tuple(x or "" for x in row))


@pytest.mark.parametrize("name", ["chinese-names", "fastagi-callers", "keep-place", "agent-no-answer-then-answer"])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_chunking_gives_the_same_calls(name: str, data: st.DataObject) -> None:
    raw = _raw(name)
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=len(raw) - 1), max_size=60))
    events, _ = replay(chunks(raw, cuts))
    assert summary(fold(events)) == summary(fold(replay([raw])[0]))


def test_every_call_ends_and_none_stays_live() -> None:
    for name in EXPECTED_CALLS:
        tracker = CallTracker({"96655"})
        replay([_raw(name)], tracker)
        assert tracker.calls == {}, name


def test_vip_route_decision_is_kept_on_the_call() -> None:
    record = next(iter(fold(replay([_raw("answered-vip")])[0]).values()))
    assert (record.route_queue, record.route_priority, record.tier) == ("vip", 10, "vip")


def test_agent_that_rings_without_answering_is_in_the_timeline() -> None:
    events, _ = replay([_raw("agent-no-answer-then-answer")])
    kinds = [(e.kind, getattr(e, "agent", None)) for e in events]
    assert ("agent_no_answer", "agent-8003") in kinds
    assert kinds.index(("agent_no_answer", "agent-8003")) < kinds.index(("answered", "agent-8002"))


def test_keep_place_caller_leaves_through_the_exit_context() -> None:
    events, _ = replay([_raw("keep-place")])
    left = [e for e in events if e.kind == "left_queue"]
    assert [(e.data()["exit_context"], e.data()["exit_exten"], e.data()["position"]) for e in left] == [("hotline-exit", "1", 2)]


def test_calls_to_other_numbers_are_not_tracked() -> None:
    tracker = CallTracker({"12345"})
    events, _ = replay([_raw("answered-regular")], tracker)
    assert events == []


@pytest.mark.parametrize("name", sorted(n for n, calls in EXPECTED_CALLS.items() if calls))
def test_a_stream_joined_half_way_raises_nothing_and_invents_no_call(name: str) -> None:
    messages = _messages(name)
    full = {r.caller_number for r in fold(replay([_raw(name)])[0]).values()}
    for start in range(len(messages)):
        tracker = CallTracker({"96655"})
        events = [e for m in messages[start:] for e in tracker.feed(m)]
        callers = {r.caller_number for r in fold(events).values()}
        assert callers <= full, (name, start)


def test_an_event_without_timestamp_is_an_error_not_now() -> None:
    tracker = CallTracker({"96655"})
    with pytest.raises(UntimedEvent):
        tracker.feed({"Event": "Newchannel", "Uniqueid": "1.0", "Linkedid": "1.0", "Exten": "96655", "Channel": "PJSIP/x-1"})


# -- resync ---------------------------------------------------------------------------------

def _snapshot_from(name: str, at: float) -> Snapshot:
    frames = [f for f in AmiFramer().feed(_raw(name)) if isinstance(f, dict)]
    pick = lambda event: [f for f in frames if f.get("Event") == event]  # noqa: E731
    return Snapshot(datetime.fromtimestamp(at, UTC), pick("CoreShowChannel"), pick("QueueEntry"), pick("QueueMember"), pick("QueueParams"))


def test_snapshot_alone_rebuilds_the_live_calls() -> None:
    """A service that (re)connects in the middle of resync-snapshot's two calls."""
    tracker = CallTracker({"96655"})
    events = tracker.resync(_snapshot_from("resync-snapshot", 1795533075.986188))
    records = fold(events)
    by_caller = {r.caller_number: r for r in records.values()}
    assert by_caller["13912345678"].state == "queued" and by_caller["13912345678"].queue == "hotline"
    assert by_caller["13800000001"].state == "talking" and by_caller["13800000001"].agent == "vip-agent-8009"
    assert all(r.reconciled for r in records.values())


def test_stream_after_the_snapshot_ends_the_calls_right() -> None:
    messages = _messages("resync-snapshot")
    snapshot_at = next(i for i, m in enumerate(messages) if m.get("Event") == "CoreShowChannelsComplete")
    tracker = CallTracker({"96655"})
    events = tracker.resync(_snapshot_from("resync-snapshot", 1795533075.986188))
    events += [e for m in messages[snapshot_at:] for e in tracker.feed(m)]
    assert summary(fold(events)) == sorted(EXPECTED_CALLS["resync-snapshot"])


def test_a_call_that_ended_while_away_is_ended_once_and_never_revived() -> None:
    messages = _messages("answered-regular")
    answered = next(i for i, m in enumerate(messages) if m.get("Event") == "AgentConnect")
    tracker = CallTracker({"96655"})
    events = [e for m in messages[: answered + 1] for e in tracker.feed(m)]
    empty = Snapshot(datetime.fromtimestamp(1795532990, UTC))
    ended = tracker.resync(empty)
    assert [(type(e), e.outcome) for e in ended if isinstance(e, CallEnded)] == [(CallEnded, Outcome.ANSWERED)]
    late = [e for m in messages[answered + 1 :] for e in tracker.feed(m)]  # old events arriving after the snapshot
    assert late == [] and tracker.calls == {}
    assert tracker.resync(empty) == []


def test_queued_call_gone_in_the_gap_takes_its_outcome_from_the_queue_counters() -> None:
    messages = _messages("answered-regular")
    joined = next(i for i, m in enumerate(messages) if m.get("Event") == "QueueCallerJoin")
    tracker = CallTracker({"96655"})
    before = Snapshot(datetime.fromtimestamp(1795532950, UTC), params=[{"Queue": "hotline", "Completed": "7", "Abandoned": "2"}])
    tracker.resync(before)
    for m in messages[: joined + 1]:
        tracker.feed(m)
    after = Snapshot(datetime.fromtimestamp(1795532990, UTC), params=[{"Queue": "hotline", "Completed": "8", "Abandoned": "2"}])
    events = tracker.resync(after)
    assert [e.kind for e in events][-2:] == ["answered", "ended"]
    assert isinstance(events[-2], CallAnswered) and events[-2].reconciled


def test_restored_call_is_not_ended_before_the_snapshot_names_its_channels() -> None:
    messages = _messages("answered-regular")
    connect = next(i for i, m in enumerate(messages) if m.get("Event") == "AgentConnect")
    first = CallTracker({"96655"})
    for m in messages[: connect + 1]:
        first.feed(m)
    live = list(first.calls.values())
    restarted = CallTracker({"96655"})
    restarted.restore(live)
    hangup_of_agent_leg = next(m for m in messages[connect:] if m.get("Event") == "Hangup")
    assert restarted.feed(hangup_of_agent_leg) == []
    assert list(restarted.calls) == [live[0].call_id]


def test_random_cut_and_resync_gives_the_same_calls() -> None:
    """Drop one message anywhere, resync from what the PBX says then, go on."""
    name = "chinese-names"
    messages = _messages(name)
    expected = summary(fold(replay([_raw(name)])[0]))
    rng = random.Random(7)
    for lost in rng.sample(range(len(messages)), 40):
        tracker = CallTracker({"96655"})
        events = [e for m in messages[:lost] for e in tracker.feed(m)]
        events += tracker.resync(snapshot_after(messages[: lost + 1]))
        events += [e for m in messages[lost + 1 :] for e in tracker.feed(m)]
        assert summary(fold(events)) == expected, lost




@pytest.mark.parametrize(
    "name, expected",
    [
        ("blind-transfer", ("blind", "agent-8001", "8002@agents", None)),
        ("attended-transfer", ("attended", "agent-8001", "Local/8002@agents-00000002;1", "Local/8002@agents")),
    ],
)
def test_transfers_are_in_the_timeline_and_the_call_keeps_its_first_responder(name: str, expected: tuple[str, ...]) -> None:
    events, _ = replay([_raw(name)])
    transfers = [e for e in events if isinstance(e, CallTransferred)]
    assert [(t.kind_of_transfer, t.from_agent, t.to, t.to_agent) for t in transfers] == [expected]
    (record,) = fold(events).values()
    assert (record.agent, record.outcome) == ("agent-8001", "answered")


def test_hangups_streamed_before_the_snapshot_arrives_are_not_revived_by_it() -> None:
    """After a restart Asterisk streams events at once; the snapshot answered later may
    still list channels whose Hangup we already saw, for a call we did not know yet."""
    messages = _messages("answered-regular")
    connect = next(i for i, m in enumerate(messages) if m.get("Event") == "AgentConnect")
    snapshot = snapshot_after(messages[: connect + 1])
    tracker = CallTracker({"96655"})
    tracker.snapshot_requested()
    events = [e for m in messages[connect + 1 :] for e in tracker.feed(m)]  # unknown call: nothing yet
    assert events == []
    events = tracker.resync(snapshot)
    assert tracker.calls == {}
    assert [e.kind for e in events][-1] == "ended"


def test_a_call_that_began_while_away_and_ended_before_the_snapshot_is_still_recorded() -> None:
    messages = _messages("answered-regular")
    connect = next(i for i, m in enumerate(messages) if m.get("Event") == "AgentConnect")
    tracker = CallTracker({"96655"})
    tracker.snapshot_requested()
    for m in messages[connect + 1 :]:
        tracker.feed(m)
    events = tracker.resync(Snapshot(datetime.fromtimestamp(1795532990, UTC)))  # nothing live by then
    (record,) = fold(events).values()
    assert (record.caller_number, record.agent, record.outcome, record.reconciled) == ("13912345678", "agent-8001", "answered", True)


def test_an_answered_call_ending_unseen_does_not_make_a_waiting_caller_answered() -> None:
    """Real Asterisk 22 counts Completed when the answered call ends, not at the answer:
    A answered and B waiting, both gone in the gap, counters Completed +1 Abandoned +1."""
    tracker = CallTracker({"96655"})
    tracker.resync(Snapshot(datetime.fromtimestamp(1795532950, UTC), params=[{"Queue": "hotline", "Completed": "0", "Abandoned": "0"}]))
    answered = _messages("answered-regular")
    waiting = _messages("abandoned-in-queue")
    connect = next(i for i, m in enumerate(answered) if m.get("Event") == "AgentConnect")
    join = next(i for i, m in enumerate(waiting) if m.get("Event") == "QueueCallerJoin")
    events = [e for m in answered[: connect + 1] + waiting[: join + 1] for e in tracker.feed(m)]
    after = Snapshot(datetime.fromtimestamp(1795533000, UTC), params=[{"Queue": "hotline", "Completed": "1", "Abandoned": "1"}])
    records = fold(events + tracker.resync(after))
    outcomes = {r.id: r.outcome for r in records.values()}
    assert outcomes == {"1795532957.0": "answered", "1795532985.8": "abandoned"}


def test_the_person_tried_first_is_kept_with_the_route() -> None:
    """The service's answer sets HOTLINE_FIRST_TRY with the other route variables (one
    VarSet each, as Asterisk 22 reports an EXEC Set ARRAY); the call keeps it."""
    messages = _messages("answered-vip")
    tier = next(i for i, m in enumerate(messages) if m.get("Event") == "VarSet" and m.get("Variable") == "HOTLINE_TIER")
    first_try = {**messages[tier], "Variable": "HOTLINE_FIRST_TRY", "Value": "8001"}
    tracker = CallTracker({"96655"})
    events = [e for m in messages[: tier + 1] + [first_try] + messages[tier + 1 :] for e in tracker.feed(m)]
    (record,) = fold(events).values()
    assert (record.tier, record.route_queue, record.route_first_try) == ("vip", "vip", "8001")


def test_an_event_streamed_after_a_channels_hangup_does_not_keep_its_call_live() -> None:
    """attended-transfer's recording has a NewCallerid of the caller's ;1 after its Hangup.
    Played with that half hanging up before the ;2 half (as when the caller hangs up first),
    the late event must not bring ;1 back: the call ends at ;2's Hangup, answered, once."""
    messages = _messages("attended-transfer")
    one = "Local/96655@hotline-in-00000000;1"
    hangup_one = next(i for i, m in enumerate(messages) if m.get("Event") == "Hangup" and m.get("Channel") == one)
    late = messages[hangup_one + 1]
    assert (late.get("Event"), late.get("Channel")) == ("NewCallerid", one)  # as recorded
    hangup_two = next(i for i, m in enumerate(messages) if m.get("Event") == "Hangup" and m.get("Channel") == one.replace(";1", ";2"))
    reordered = messages[:hangup_two] + [messages[hangup_one], late] + [m for m in messages[hangup_two:] if m is not messages[hangup_one] and m is not late]
    tracker = CallTracker({"96655"})
    events = [e for m in reordered for e in tracker.feed(m)]
    assert tracker.calls == {}
    assert [e.outcome for e in events if isinstance(e, CallEnded)] == [Outcome.ANSWERED]


def _queued_then_restarted(counters: dict[str, tuple[int, int]] | None) -> CallTracker:
    """A service that saw answered-regular's caller join the queue, was killed, and comes
    back with the call and (maybe) the queue counters its store kept."""
    messages = _messages("answered-regular")
    joined = next(i for i, m in enumerate(messages) if m.get("Event") == "QueueCallerJoin")
    before = CallTracker({"96655"})
    for m in messages[: joined + 1]:
        before.feed(m)
    after = CallTracker({"96655"})
    after.restore(list(before.calls.values()), counters)
    return after


def test_after_a_restart_the_stored_counters_say_a_call_that_vanished_was_answered() -> None:
    tracker = _queued_then_restarted({"hotline": (7, 2)})
    events = tracker.resync(Snapshot(datetime.fromtimestamp(1795532990, UTC), params=[{"Queue": "hotline", "Completed": "8", "Abandoned": "2"}]))
    assert [e.kind for e in events][-2:] == ["answered", "ended"]
    assert tracker.queue_counters() == {"hotline": (8, 2)}


def test_after_a_restart_with_no_stored_counters_a_call_that_vanished_counts_abandoned() -> None:
    tracker = _queued_then_restarted(None)
    events = tracker.resync(Snapshot(datetime.fromtimestamp(1795532990, UTC), params=[{"Queue": "hotline", "Completed": "8", "Abandoned": "2"}]))
    assert [e.kind for e in events][-2:] == ["abandoned", "ended"]  # so the caller is called back


def test_counters_lower_than_stored_mean_asterisk_restarted_and_tell_nothing() -> None:
    """Not 'left the queue unanswered' (no callback): abandoned, so the caller is called back."""
    tracker = _queued_then_restarted({"hotline": (7, 2)})
    events = tracker.resync(Snapshot(datetime.fromtimestamp(1795532990, UTC), params=[{"Queue": "hotline", "Completed": "0", "Abandoned": "0"}]))
    assert [e.kind for e in events][-2:] == ["abandoned", "ended"]


def test_the_counters_follow_the_stream_between_snapshots() -> None:
    tracker = CallTracker({"96655"})
    assert tracker.queue_counters() is None
    tracker.resync(Snapshot(datetime.fromtimestamp(1795532950, UTC), params=[{"Queue": "hotline", "Completed": "7", "Abandoned": "2"}]))
    for m in _messages("answered-regular") + _messages("abandoned-in-queue"):
        tracker.feed(m)
    assert tracker.queue_counters() == {"hotline": (8, 3)}

"""Agents' states from the real Asterisk 22 transcripts: QueueMemberPause with PausedReason
(QueuePause with Reason), QueueMemberAdded/Removed, QueueMemberStatus around calls, and the
QueueStatus QueueMember rows a reconnecting service reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline.ami.framing import AmiFramer
from hotline.ami.tracker import UntimedEvent
from hotline.floor.states import AgentState, AgentStates, AgentStatus, StateChange
from hotline.testing.replay import chunks
from hotline.testing.transcripts import TRACES_DIR, recorded_events

READY, PAUSED, ON_CALL, WRAPUP, OUT, RINGING = (AgentState.READY, AgentState.PAUSED, AgentState.ON_CALL, AgentState.WRAPUP, AgentState.LOGGED_OUT, AgentState.RINGING)
ALL_TRANSCRIPTS = sorted(path.stem for path in TRACES_DIR.glob("*.ami"))


def _messages(name: str) -> list[dict[str, str]]:
    return [f for f in AmiFramer().feed((TRACES_DIR / f"{name}.ami").read_bytes()) if isinstance(f, dict)]


def _t(epoch: str) -> datetime:
    return datetime.fromtimestamp(float(epoch), UTC)


def _changes(messages: list[dict[str, str]], machine: AgentStates | None = None) -> list[StateChange]:
    machine = machine or AgentStates("话后整理")
    return [change for m in messages for change in machine.feed(m)]


def _of(changes: list[StateChange], extension: str) -> list[tuple[AgentState, str | None]]:
    return [(c.state, c.reason) for c in changes if c.extension == extension]


def _member_event(event: str, *, queue: str = "hotline", interface: str = "PJSIP/8001", at: float = 1795540000.0, status: str = "1", in_call: str = "0", paused: str = "0", reason: str = "", last_pause: str = "0") -> dict[str, str]:
    """A QueueMember* event as Asterisk 22 sends it (tests/asterisk recorded the shape)."""
    return {
        "Event": event, "Privilege": "agent,all", "Timestamp": f"{at:.6f}", "Queue": queue, "MemberName": f"agent-{interface[-4:]}",
        "Interface": interface, "StateInterface": interface, "Membership": "dynamic", "Penalty": "0", "CallsTaken": "0",
        "LastCall": "0", "LastPause": last_pause, "LoginTime": "1795539000", "InCall": in_call, "Status": status,
        "Paused": paused, "PausedReason": reason, "Ringinuse": "0", "Wrapuptime": "0",
    }  # fmt: skip


# --- the recordings -------------------------------------------------------------------------


def test_a_pause_with_a_reason_and_the_unpause_come_back_as_the_agents_states() -> None:
    changes = _changes(_messages("abandoned-in-queue"))

    for extension in ("8001", "8002"):
        assert _of(changes, extension) == [(PAUSED, "lunch"), (READY, None)]
    first = next(c for c in changes if c.extension == "8001")
    assert (first.at, first.previous, first.member, first.queues) == (_t("1795532985.903037"), None, "agent-8001", ("hotline",))
    back = [c for c in changes if c.extension == "8001"][1]
    assert (back.at, back.previous) == (_t("1795532992.906242"), PAUSED)


def test_keep_place_agents_are_busy_then_ready_then_on_a_call() -> None:
    changes = _changes(_messages("keep-place"))

    assert _of(changes, "8001")[:3] == [(PAUSED, "busy"), (READY, None), (ON_CALL, None)]
    assert _of(changes, "8001")[-1] == (READY, None)  # the call is over
    assert _of(changes, "8002") == [(PAUSED, "busy"), (READY, None)]


def test_an_added_agent_rings_answers_nobody_and_is_removed() -> None:
    changes = _changes(_messages("agent-no-answer-then-answer"))

    # The lab's agents are Local channels: the device is in use as soon as it is rung.
    assert _of(changes, "8003") == [(READY, None), (ON_CALL, None), (READY, None), (OUT, None)]
    assert _of(changes, "8002")[:3] == [(PAUSED, "training"), (READY, None), (ON_CALL, None)]
    assert _of(changes, "8001") == [(PAUSED, "training"), (READY, None)]


def test_an_answered_call_is_on_call_from_ring_to_hang_up() -> None:
    changes = _changes(_messages("answered-regular"))

    assert [(c.state, c.at) for c in changes if c.extension == "8001"] == [(ON_CALL, _t("1795532957.797231")), (READY, _t("1795532962.303087"))]


def test_the_queue_status_snapshot_gives_every_member_its_state() -> None:
    rows = [m for m in _messages("resync-snapshot") if m.get("Event") == "QueueMember"]
    taken = _t("1795533075.986188")  # the Ping after the QueueStatus

    changes = AgentStates("话后整理").resync(rows, taken)

    assert [(c.extension, c.state, c.reason, c.at) for c in changes] == [
        ("8001", PAUSED, "meeting", taken),
        ("8002", PAUSED, "meeting", taken),
        ("8009", ON_CALL, None, taken),  # InCall 1 in queue vip
    ]


def test_a_snapshot_dates_a_pause_made_while_away_by_its_last_pause() -> None:
    machine = AgentStates("话后整理")
    machine.feed(_member_event("QueueMemberAdded", at=1795540000.0))
    row = {"Event": "QueueMember", "Queue": "hotline", "Name": "agent-8001", "Location": "PJSIP/8001", "Status": "1", "InCall": "0", "Paused": "1", "PausedReason": "就餐", "LastPause": "1795540100"}

    [change] = machine.resync([row], _t("1795540200"))

    assert (change.state, change.reason, change.at) == (PAUSED, "就餐", _t("1795540100"))


def test_an_agent_missing_from_the_snapshot_has_logged_out() -> None:
    machine = AgentStates("话后整理")
    machine.restore([AgentStatus("8005", READY, None, _t("1795530000"))])

    [change] = machine.resync([], _t("1795540000"))

    assert (change.extension, change.state, change.previous, change.at) == ("8005", OUT, READY, _t("1795540000"))


def test_an_event_read_twice_changes_nothing_the_second_time() -> None:
    """Each QueueMember* event carries the member's whole state: a repeat is harmless."""
    once, twice = AgentStates("话后整理"), AgentStates("话后整理")
    expected, got = [], []
    for message in _messages("keep-place"):
        expected += once.feed(message)
        got += twice.feed(message)
        assert twice.feed(message) == []
    assert got == expected


@pytest.mark.parametrize("name", ALL_TRANSCRIPTS)
def test_a_stream_joined_at_any_point_raises_nothing(name: str) -> None:
    """Like the tracker's partial replays: the service may start mid-stream."""
    raw = b"".join(recorded_events(name))
    for cut in range(0, len(raw), max(len(raw) // 40, 1)):
        framer = AmiFramer(expect_banner=False)
        machine = AgentStates("话后整理")
        for piece in chunks(raw[cut:], [97, 1000, 5000]):
            for frame in framer.feed(piece):
                if isinstance(frame, dict):
                    machine.feed(frame)


# --- reading across queues, and the rules ----------------------------------------------------


def test_paused_in_one_of_two_queues_is_still_ready_and_the_latest_reason_wins() -> None:
    machine = AgentStates("话后整理")
    _changes([_member_event("QueueMemberAdded", queue="hotline"), _member_event("QueueMemberAdded", queue="vip", at=1795540001)], machine)

    half = machine.feed(_member_event("QueueMemberPause", queue="hotline", paused="1", reason="小休", at=1795540010))
    both = machine.feed(_member_event("QueueMemberPause", queue="vip", paused="1", reason="培训", at=1795540011))

    assert half == []
    assert [(c.state, c.reason, c.at, c.queues) for c in both] == [(PAUSED, "培训", _t("1795540011"), ("hotline", "vip"))]


def test_the_after_call_reason_is_wrapup() -> None:
    machine = AgentStates("话后整理")
    machine.feed(_member_event("QueueMemberAdded"))

    [change] = machine.feed(_member_event("QueueMemberPause", paused="1", reason="话后整理", at=1795540005))

    assert (change.state, change.reason) == (WRAPUP, "话后整理")


def test_a_paused_agent_on_a_call_is_on_call_then_paused_again() -> None:
    machine = AgentStates("话后整理")
    machine.feed(_member_event("QueueMemberAdded", paused="1", reason="就餐"))

    calling = machine.feed(_member_event("QueueMemberStatus", status="2", paused="1", reason="就餐", at=1795540005))
    done = machine.feed(_member_event("QueueMemberStatus", status="1", paused="1", reason="就餐", at=1795540065))

    assert [(c.state, c.reason) for c in calling + done] == [(ON_CALL, None), (PAUSED, "就餐")]


def test_a_ringing_phone_is_ringing_and_an_unpause_keeps_no_reason() -> None:
    machine = AgentStates("话后整理")
    machine.feed(_member_event("QueueMemberAdded", paused="1", reason="小休"))

    back = machine.feed(_member_event("QueueMemberPause", paused="0", reason="回来", at=1795540002))  # Asterisk keeps an unpause's Reason
    ringing = machine.feed(_member_event("QueueMemberStatus", status="6", at=1795540003))

    assert [(c.state, c.reason) for c in back + ringing] == [(READY, None), (RINGING, None)]


def test_an_event_older_than_the_state_it_ends_is_dated_at_that_state() -> None:
    machine = AgentStates("话后整理")
    machine.restore([AgentStatus("8001", READY, None, _t("1795540100"))])

    [change] = machine.feed(_member_event("QueueMemberPause", paused="1", reason="小休", at=1795540050))

    assert change.at == _t("1795540100")


def test_a_member_event_without_its_timestamp_is_an_error() -> None:
    event = _member_event("QueueMemberPause")
    del event["Timestamp"]
    with pytest.raises(UntimedEvent):
        AgentStates("话后整理").feed(event)


def test_members_of_no_extension_and_other_events_are_ignored() -> None:
    machine = AgentStates("话后整理")
    assert machine.feed(_member_event("QueueMemberAdded", interface="SIP/alice")) == []
    assert machine.feed({"Event": "Newchannel", "Timestamp": "1795540000.0"}) == []
    assert machine.current() == {}

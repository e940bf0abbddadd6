"""Kept places (keep your place) in the call-handling figures, against examples worked out by hand.

Wednesday 2026-11-25 (threshold 15 s). The calls:

    call  queue    then                                              fate
    A     hotline  answered after 10 s                               answered within
    K1    hotline  pressed 1, left the queue (stored as timeout)     kept; its callback reached the customer (done)
    K2    hotline  pressed 1                                         kept; the callback's tries used up (failed)
    K3    hotline  pressed 1                                         kept; rang again and was answered (cancelled)
    K4    vip      pressed 1                                         kept; still waiting for its turn
    K5    vip      pressed 1, still hearing the confirmation         kept (not a live waiting caller)
    T     hotline  left the queue unanswered (timeout)               timed out: lost
    X     hotline  hung up after 40 s                                abandoned: lost

人工请求 = 8 (every one of them); answered on the call 1 (A); kept 5, reached 1 (K1); lost 2.
接通率 (A + K1) 2/8 = 0.25; 接通率 without callbacks 1/8 = 0.125; 15秒接通率 1/8 (a callback
is no answer within 15 s); 呼损率 2/8 = 0.25 (7/8 if the kept places were counted lost).

The requests (press 1 -> callback answered):

    R1 hotline  done       09:05 -> 09:25    1200 s
    R2 hotline  done       10:00 -> 10:05     300 s
    R3 vip      done       10:10 -> 10:11      60 s
    R4 hotline  failed
    R5 hotline  cancelled
    R6 vip      waiting
    R7 hotline  calling

All: 7 requests, reached 3, failed 1, cancelled 1, open 2; callbacks reached 3/(3+1) = 0.75;
waits 60 300 1200: mean 520, p90 (nearest rank: the 3rd of 3) 1200, longest 1200.
"""

from __future__ import annotations

import pytest

from hotline.floor import figures as f
from hotline.floor.figures import CallRow, KeptRow, Rules
from hotline.keepplace.tables import RequestState
from tests.unit.tickets.moments import at

RULES = Rules()


def rate(part: int, whole: int, value: float | None, target: float | None = None, met: bool | None = None) -> dict:
    return {"value": value, "part": part, "whole": whole, "target": target, "met": met}


def pressed_1(call_id: str, queue: str, minute: int, kept: str | None, *, ended: bool = True) -> CallRow:
    """A call that waited a minute and pressed 1: the capture stores it as a timeout."""
    joined = at(f"2026-11-25 09:{minute:02d}")
    left = at(f"2026-11-25 09:{minute + 1:02d}")
    return CallRow(call_id, joined, f"139000000{minute:02d}", queue, None, joined, ended_at=left if ended else None, outcome="timeout" if ended else None, kept=kept)


A = CallRow("A", at("2026-11-25 09:00"), "13800000001", "hotline", "agent-8001", at("2026-11-25 09:00"), at("2026-11-25 09:00:10"), ended_at=at("2026-11-25 09:03"), outcome="answered")
K1 = pressed_1("K1", "hotline", 4, RequestState.DONE)
K2 = pressed_1("K2", "hotline", 10, RequestState.FAILED)
K3 = pressed_1("K3", "hotline", 12, RequestState.CANCELLED)
K4 = pressed_1("K4", "vip", 14, RequestState.WAITING)
K5 = pressed_1("K5", "vip", 16, RequestState.CALLING, ended=False)
T = CallRow("T", at("2026-11-25 09:20"), "13800000002", "hotline", None, at("2026-11-25 09:20"), ended_at=at("2026-11-25 09:25"), outcome="timeout")
X = CallRow("X", at("2026-11-25 09:30"), "13800000003", "hotline", None, at("2026-11-25 09:30"), abandoned_at=at("2026-11-25 09:30:40"), ended_at=at("2026-11-25 09:30:40"), outcome="abandoned")
CALLS = [A, K1, K2, K3, K4, K5, T, X]


def figures(calls: list[CallRow]) -> dict:
    return f.call_figures("all", calls, RULES, set())


def request(id_: int, queue: str, state: str, pressed: str, answered: str | None = None) -> KeptRow:
    return KeptRow(id_, queue, at(f"2026-11-25 {pressed}"), state, at(f"2026-11-25 {answered}") if answered else None, f"K{id_}")


R1 = request(1, "hotline", RequestState.DONE, "09:05", "09:25")
R2 = request(2, "hotline", RequestState.DONE, "10:00", "10:05")
R3 = request(3, "vip", RequestState.DONE, "10:10", "10:11")
R4 = request(4, "hotline", RequestState.FAILED, "10:20", "11:20")
R5 = request(5, "hotline", RequestState.CANCELLED, "10:30", "10:40")
R6 = request(6, "vip", RequestState.WAITING, "11:00")
R7 = request(7, "hotline", RequestState.CALLING, "11:10")
REQUESTS = [R1, R2, R3, R4, R5, R6, R7]


# --- the calls that pressed 1 --------------------------------------------------------------------


def test_a_call_that_pressed_1_is_kept_not_lost_nor_waiting() -> None:
    assert [f.fate(call, RULES) for call in CALLS] == [
        f.Fate.ANSWERED, f.Fate.KEPT, f.Fate.KEPT, f.Fate.KEPT, f.Fate.KEPT, f.Fate.KEPT, f.Fate.TIMED_OUT, f.Fate.ABANDONED,
    ]  # fmt: skip


def test_without_its_kept_place_the_same_call_would_be_lost() -> None:
    """What the report said before: the capture's `timeout` alone makes K1 lost."""
    plain = CallRow(K1.id, K1.arrived_at, K1.caller_number, K1.queue, None, K1.queued_at, ended_at=K1.ended_at, outcome=K1.outcome)

    assert f.fate(plain, RULES) is f.Fate.TIMED_OUT
    assert figures([plain])["lost_rate"] == rate(1, 1, 1.0, 0.05, False)
    assert figures([K1])["lost_rate"] == rate(0, 1, 0.0, 0.05, True)


def test_the_morning_with_kept_places_worked_by_hand() -> None:
    got = figures(CALLS)

    assert (got["calls"], got["requests"], got["waiting"], got["answered"], got["kept"], got["kept_reached"]) == (8, 8, 0, 1, 5, 1)
    assert (got["abandoned"], got["timed_out"], got["lost"]) == (1, 1, 2)
    assert got["answer_rate"] == rate(2, 8, 0.25, 0.95, False)  # A + K1's callback reached
    assert got["answer_rate_live"] == rate(1, 8, 0.125)  # A alone, no target
    assert got["service_level"] == rate(1, 8, 0.125, 0.8, False)  # a callback is no answer within 15 s
    assert got["service_level_of_answered"] == rate(1, 1, 1.0)
    assert got["lost_rate"] == rate(2, 8, 0.25, 0.05, False)
    assert (got["average_wait_seconds"], got["longest_wait_seconds"]) == (10.0, 10.0)  # the answered calls' queue waits only
    assert got["requests"] == got["answered"] + got["kept"] + got["lost"]


def test_a_kept_place_counts_as_answered_once_its_callback_reaches_the_customer() -> None:
    waiting = figures([A, K4])
    reached = figures([A, pressed_1("K4", "vip", 14, RequestState.DONE)])

    assert (waiting["answer_rate"]["part"], waiting["kept_reached"]) == (1, 0)
    assert (reached["answer_rate"]["part"], reached["kept_reached"]) == (2, 1)
    assert reached["answer_rate_live"] == waiting["answer_rate_live"] == rate(1, 2, 0.5)
    assert reached["lost"] == waiting["lost"] == 0


def test_a_kept_place_counts_even_for_a_call_rebuilt_without_its_queue_time() -> None:
    rebuilt = CallRow("R", at("2026-11-25 09:00"), "1", "hotline", ended_at=at("2026-11-25 09:02"), outcome="timeout", kept=RequestState.WAITING)

    assert f.fate(rebuilt, RULES) is f.Fate.KEPT
    assert figures([rebuilt])["requests"] == 1


def test_kept_places_are_counted_in_their_queue() -> None:
    queues = f.grouped_calls(CALLS, lambda c: c.queue, RULES, set())

    assert [(q["group"], q["requests"], q["answered"], q["kept"], q["kept_reached"], q["lost"]) for q in queues] == [
        ("hotline", 6, 1, 3, 1, 2),
        ("vip", 2, 0, 2, 0, 0),
    ]
    assert [q["answer_rate"]["value"] for q in queues] == [0.3333, 0.0]


# --- the kept places themselves ------------------------------------------------------------------


def test_the_kept_places_worked_by_hand() -> None:
    assert f.kept_figures("all", REQUESTS) == {
        "group": "all",
        "requests": 7,
        "reached": 3,
        "failed": 1,
        "cancelled": 1,
        "open": 2,
        "reached_rate": rate(3, 4, 0.75),
        "average_wait_seconds": 520.0,
        "p90_wait_seconds": 1200.0,
        "longest_wait_seconds": 1200.0,
    }


def test_the_kept_places_per_queue() -> None:
    queues = f.grouped_kept(REQUESTS)

    assert [(q["group"], q["requests"], q["reached"], q["failed"], q["cancelled"], q["open"]) for q in queues] == [("hotline", 5, 2, 1, 1, 1), ("vip", 2, 1, 0, 0, 1)]
    assert [q["reached_rate"] for q in queues] == [rate(2, 3, 0.6667), rate(1, 1, 1.0)]
    assert [(q["average_wait_seconds"], q["p90_wait_seconds"], q["longest_wait_seconds"]) for q in queues] == [(750.0, 1200.0, 1200.0), (60.0, 60.0, 60.0)]


def test_only_a_callback_answered_has_a_wait() -> None:
    assert [f.kept_wait_seconds(r) for r in REQUESTS] == [1200.0, 300.0, 60.0, None, None, None, None]


def test_no_kept_places_means_no_figures_rather_than_zeros() -> None:
    none = f.kept_figures("all", [])
    open_only = f.kept_figures("vip", [R6])

    assert (none["requests"], none["reached_rate"], none["average_wait_seconds"], none["p90_wait_seconds"]) == (0, rate(0, 0, None), None, None)
    assert (open_only["open"], open_only["reached_rate"]["value"], open_only["longest_wait_seconds"]) == (1, None, None)


@pytest.mark.parametrize(
    "values, expected",
    [([5.0], 5.0), ([float(n) for n in range(1, 11)], 9.0), ([float(n) for n in range(1, 12)], 10.0), ([float(n) for n in range(20, 0, -1)], 18.0)],
)
def test_p90_is_the_nearest_rank(values: list[float], expected: float) -> None:
    assert f.p90(values) == expected


def test_a_call_takes_the_state_of_its_latest_kept_place() -> None:
    first = KeptRow(1, "hotline", at("2026-11-25 09:00"), RequestState.CANCELLED, call_id="c1")
    again = KeptRow(2, "hotline", at("2026-11-25 09:01"), RequestState.WAITING, call_id="c1")
    other = KeptRow(3, "vip", at("2026-11-25 09:02"), RequestState.DONE, call_id="c2")

    assert f.kept_by_call([again, other, first]) == {"c1": RequestState.WAITING, "c2": RequestState.DONE}

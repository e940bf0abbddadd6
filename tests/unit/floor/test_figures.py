"""The floor's figures (kpis.md) against examples worked out by hand.

One morning in Bazhong, Wednesday 2026-11-25, queue `hotline` (threshold 15 s):

    call  number        arrived   queued    then                                   wait  fate
    A     13800000001   09:00:00  09:00:02  answered 09:00:12 (HoldTime 10)          10  answered within
    B     13800000003   09:10:00  09:10:00  answered 09:10:15 (no HoldTime)          15  answered within (15 s is within)
    C     13800000001   09:20:00  09:20:00  answered 09:20:16                        16  answered over 15 s; A's number again: a repeat
    D     13800000004   10:00:00  10:00:00  hung up 10:00:03 (HoldTime 3)             3  abandoned (short when the threshold is over 3 s)
    E     13800000002   10:05:00  10:05:00  hung up 10:05:40 (HoldTime 40)           40  abandoned
    F     anonymous     11:00:00  11:00:00  left the queue 11:05:00 (timeout)       300  timed out (lost)
    G     13800000002   11:30:00  -         hung up during routing (failed)           -  never queued; E's number again: a repeat
    H     13800000005   11:59:00  11:59:00  still waiting                             -  waiting

13800000002 also called 4 days before (outside the 3 days): E is not a repeat.

人工请求 = A B C D E F = 6; answered 3, within 15 s 2 (A, B); lost = D E F = 3.
接通率 3/6 = 0.5 (target 0.95: not met); 15秒接通率 2/6 = 0.3333 (target 0.8: not met);
Asterisk's SL 2/3 = 0.6667; 呼损率 3/6 = 0.5 (target <= 0.05: not met);
平均等待 (10 + 15 + 16) / 3 = 13.7 s, 最长 16 s; 重复来电率 C, G of 8 calls = 0.25.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hotline.callbacks.sampling import SampleGroup
from hotline.config import FloorSettings
from hotline.floor import figures as f
from hotline.floor.figures import CallRow, Rules, TicketRow
from hotline.tickets.report import NOT_FORWARDED, DeadlineTimes
from hotline.tickets.workdays import LOCAL_ZONE
from tests.unit.tickets.moments import at

RULES = Rules()
EARLIER = {"+8613800000002": at("2026-11-21 10:00")}  # 4 days before E (numbers compared canonical)


def s(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)


A = CallRow("A", at("2026-11-25 09:00"), "13800000001", "hotline", "agent-8001", at("2026-11-25 09:00:02"), at("2026-11-25 09:00:12"), ended_at=at("2026-11-25 09:03:12"), outcome="answered", hold_seconds=10)
B = CallRow("B", at("2026-11-25 09:10"), "13800000003", "hotline", "agent-8002", at("2026-11-25 09:10"), at("2026-11-25 09:10:15"), ended_at=at("2026-11-25 09:12:15"), outcome="answered")
C = CallRow("C", at("2026-11-25 09:20"), "13800000001", "hotline", "agent-8001", at("2026-11-25 09:20"), at("2026-11-25 09:20:16"), ended_at=at("2026-11-25 09:21:16"), outcome="answered")
D = CallRow("D", at("2026-11-25 10:00"), "13800000004", "hotline", None, at("2026-11-25 10:00"), abandoned_at=at("2026-11-25 10:00:03"), ended_at=at("2026-11-25 10:00:03"), outcome="abandoned", hold_seconds=3)
E = CallRow("E", at("2026-11-25 10:05"), "13800000002", "hotline", None, at("2026-11-25 10:05"), abandoned_at=at("2026-11-25 10:05:40"), ended_at=at("2026-11-25 10:05:40"), outcome="abandoned", hold_seconds=40)
F = CallRow("F", at("2026-11-25 11:00"), "anonymous", "hotline", None, at("2026-11-25 11:00"), ended_at=at("2026-11-25 11:05:10"), outcome="timeout")
G = CallRow("G", at("2026-11-25 11:30"), "13800000002", None, None, None, ended_at=at("2026-11-25 11:30:05"), outcome="failed")
H = CallRow("H", at("2026-11-25 11:59"), "13800000005", "hotline", None, at("2026-11-25 11:59"))
MORNING = [A, B, C, D, E, F, G, H]


def figures(calls: list[CallRow], rules: Rules = RULES) -> dict:
    return f.call_figures("all", calls, rules, f.repeat_calls(calls, rules.repeat_days, EARLIER))


def rate(part: int, whole: int, value: float | None, target: float | None = None, met: bool | None = None) -> dict:
    return {"value": value, "part": part, "whole": whole, "target": target, "met": met}


def test_each_call_has_its_fate() -> None:
    assert [f.fate(call, RULES) for call in MORNING] == [
        f.Fate.ANSWERED, f.Fate.ANSWERED, f.Fate.ANSWERED, f.Fate.ABANDONED, f.Fate.ABANDONED, f.Fate.TIMED_OUT, f.Fate.NOT_QUEUED, f.Fate.WAITING,
    ]
    assert [f.wait_seconds(call) for call in (A, B, C, D, E)] == [10, 15.0, 16.0, 3, 40]


def test_the_morning_worked_by_hand() -> None:
    assert figures(MORNING) == {
        "group": "all",
        "calls": 8,
        "requests": 6,
        "waiting": 1,
        "answered": 3,
        "answered_within": 2,
        "abandoned": 2,
        "short_abandoned": 0,
        "timed_out": 1,
        "lost": 3,
        "kept": 0,
        "kept_reached": 0,
        "answer_rate": rate(3, 6, 0.5, 0.95, False),
        "answer_rate_live": rate(3, 6, 0.5),
        "service_level": rate(2, 6, 0.3333, 0.8, False),
        "service_level_of_answered": rate(2, 3, 0.6667),
        "lost_rate": rate(3, 6, 0.5, 0.05, False),
        "average_wait_seconds": 13.7,
        "longest_wait_seconds": 16.0,
        "repeat_calls": 2,
        "repeat_rate": rate(2, 8, 0.25),
    }


def test_exactly_the_threshold_is_within_and_a_second_more_is_not() -> None:
    within = figures([B])
    over = figures([C])

    assert (within["answered_within"], within["service_level"]["value"]) == (1, 1.0)
    assert (over["answered_within"], over["service_level"]["value"]) == (0, 0.0)


def test_a_short_abandon_is_left_out_of_the_requests_not_counted_lost() -> None:
    """Threshold 5 s: D (3 s) is a short abandon; E (40 s) is still lost. 人工请求 5:
    接通率 3/5, 15秒接通率 2/5, 呼损率 (E + F) 2/5."""
    rules = Rules(short_abandon_seconds=5)

    got = figures(MORNING, rules)

    assert (got["requests"], got["short_abandoned"], got["abandoned"], got["lost"]) == (5, 1, 1, 2)
    assert got["answer_rate"] == rate(3, 5, 0.6, 0.95, False)
    assert got["service_level"] == rate(2, 5, 0.4, 0.8, False)
    assert got["lost_rate"] == rate(2, 5, 0.4, 0.05, False)
    assert got["calls"] == 8  # still a call, for 重复来电率


def test_an_abandon_as_long_as_the_short_threshold_is_lost() -> None:
    """Shorter than the threshold is short: D waited exactly 3 s, the threshold is 3 s."""
    got = figures([D], Rules(short_abandon_seconds=3))

    assert (got["requests"], got["short_abandoned"], got["lost"]) == (1, 0, 1)


def test_with_the_default_threshold_no_abandon_is_short() -> None:
    instant = CallRow("I", at("2026-11-25 10:00"), "1", "hotline", queued_at=at("2026-11-25 10:00"), abandoned_at=at("2026-11-25 10:00"), ended_at=at("2026-11-25 10:00"), outcome="abandoned", hold_seconds=0)

    assert f.fate(instant, RULES) is f.Fate.ABANDONED


def test_a_timeout_is_lost_and_a_call_that_never_queued_is_no_request() -> None:
    timed_out, never = figures([F]), figures([G])

    assert (timed_out["requests"], timed_out["timed_out"], timed_out["lost_rate"]["value"]) == (1, 1, 1.0)
    assert (never["calls"], never["requests"], never["lost"]) == (1, 0, 0)
    assert never["answer_rate"] == rate(0, 0, None, 0.95, None)  # no data: neither met nor missed


def test_an_answered_call_counts_before_it_ends() -> None:
    talking = CallRow("T", at("2026-11-25 09:00"), "1", "hotline", "agent-8001", at("2026-11-25 09:00"), at("2026-11-25 09:00:05"))

    got = figures([talking])

    assert (got["requests"], got["answered"], got["answered_within"], got["waiting"]) == (1, 1, 1, 0)


def test_targets_are_compared_exactly() -> None:
    assert f.rate(19, 20, 0.95)["met"] is True
    assert f.rate(18, 20, 0.95)["met"] is False
    assert f.rate(1, 20, 0.05, at_most=True)["met"] is True
    assert f.rate(2, 20, 0.05, at_most=True)["met"] is False


def test_targets_come_from_the_settings() -> None:
    rules = Rules.of(FloorSettings(answer_threshold_seconds=20, short_abandon_seconds=5, repeat_days=7, target_answer_rate=0.9, target_service_level=0.85, target_lost_rate=0.03))

    assert rules == Rules(20, 5, 7, 0.9, 0.85, 0.03)
    assert figures([C], rules)["answered_within"] == 1  # 16 s is within 20 s
    assert figures([C], rules)["answer_rate"]["target"] == 0.9


# --- repeats ---------------------------------------------------------------------------------


def test_repeats_are_the_same_number_again_within_the_days() -> None:
    assert f.repeat_calls(MORNING, 3, EARLIER) == {"C", "G"}
    assert f.repeat_calls(MORNING, 5, EARLIER) == {"C", "E", "G"}  # 4 days before is within 5


@pytest.mark.parametrize("after, repeat", [(timedelta(days=3), True), (timedelta(days=3, seconds=1), False)])
def test_the_repeat_window_is_rolling_days_from_the_latest_call(after: timedelta, repeat: bool) -> None:
    first = CallRow("1", at("2026-11-25 09:00"), "13800000001")
    again = CallRow("2", at("2026-11-25 09:00") + after, "13800000001")

    assert f.repeat_calls([first, again], 3) == ({"2"} if repeat else set())


def test_a_withheld_number_is_never_a_repeat() -> None:
    calls = [CallRow(str(n), at("2026-11-25 09:00") + s(n), number) for n, number in enumerate(["anonymous", "anonymous", "", None, " <unknown> "])]

    assert f.repeat_calls(calls, 3) == set()


# --- groups, and the day boundary at midnight Asia/Shanghai -------------------------------------

LATE = CallRow("X", at("2026-11-25 23:59:50"), "13800000009", "hotline", "agent-8001", at("2026-11-25 23:59:50"), at("2026-11-26 00:00:10"), ended_at=at("2026-11-26 00:02"), outcome="answered")
EARLY = CallRow("Y", at("2026-11-26 00:00:05"), "13800000008", "vip", "agent-8002", at("2026-11-26 00:00:05"), at("2026-11-26 00:00:09"), ended_at=at("2026-11-26 00:01"), outcome="answered")


def test_a_call_belongs_to_the_local_day_and_hour_it_arrived_in() -> None:
    """X arrives 23:59:50 on the 25th (15:59:50 UTC) and is answered 00:00:10 on the 26th:
    the 25th's call, in hour 23, answered after 20 s (over 15 s)."""
    days = f.grouped_calls([LATE, EARLY], f.local_day(LOCAL_ZONE), RULES, set(), ["2026-11-25", "2026-11-26"])
    hours = f.grouped_calls([LATE, EARLY], f.local_hour(LOCAL_ZONE), RULES, set(), f.HOURS)

    assert [(d["group"], d["answered"], d["answered_within"]) for d in days] == [("2026-11-25", 1, 0), ("2026-11-26", 1, 1)]
    assert len(hours) == 24
    assert [(h["group"], h["answered"]) for h in hours if h["calls"]] == [("00", 1), ("23", 1)]
    assert f.wait_seconds(LATE) == 20.0


def test_groups_by_queue_leave_out_calls_that_never_queued() -> None:
    queues = f.grouped_calls([*MORNING, EARLY], lambda c: c.queue, RULES, set())

    assert [(q["group"], q["calls"], q["requests"]) for q in queues] == [("hotline", 7, 6), ("vip", 1, 1)]


def test_agents_are_credited_with_the_calls_they_answered() -> None:
    agents = f.agent_figures([*MORNING, LATE], RULES)

    assert agents == [
        {
            "group": "agent-8001", "answered": 3, "answered_within": 1, "service_level_of_answered": rate(1, 3, 0.3333),
            "average_wait_seconds": 15.3, "longest_wait_seconds": 20.0, "average_talk_seconds": 116.7, "talk_seconds": 350.0,
        },  # A waited 10 s and talked 180 s, C 16 s and 60 s, X 20 s and 110 s
        {
            "group": "agent-8002", "answered": 1, "answered_within": 1, "service_level_of_answered": rate(1, 1, 1.0),
            "average_wait_seconds": 15.0, "longest_wait_seconds": 15.0, "average_talk_seconds": 120.0, "talk_seconds": 120.0,
        },
    ]


# --- tickets -----------------------------------------------------------------------------------

NOW = at("2026-11-25 14:00")


def d(kind: str, state: str, started: str, due: str, met: str | None = None) -> DeadlineTimes:
    return DeadlineTimes(kind, state, at(f"2026-11-25 {started}"), at(f"2026-11-25 {due}"), at(f"2026-11-25 {met}") if met else None, None)


# T1 an inquiry resolved on the spot at 10:03 (its forward cancelled, its reply met).
# T2 a complaint to 维修部: forwarded 10:06, acknowledged 10:08, replied 10:20, all on time.
# T3 a VIP's fault to 维修部: forwarded 10:15 (due 10:10), acknowledged 10:25 (due 10:20),
#    fixed 13:00 (due 12:00): three late, the repair's extension request said 配件缺货.
# T4 a complaint to 营业厅: forwarded 10:09 on time, never acknowledged (due 10:14) nor
#    replied (due 10:30): two late without a reason.
# T5 a complaint taken 13:50, nothing due yet at 14:00 (forward due 14:00 is not past).
TICKETS = [
    TicketRow(1, at("2026-11-25 10:00"), at("2026-11-25 10:03"), None, "inquiry", "urban", (d("forward", "cancelled", "10:00", "10:10"), d("reply", "met", "10:00", "10:30", "10:03"))),
    TicketRow(2, at("2026-11-25 10:00"), at("2026-11-25 11:00"), "维修部", "complaint", "urban", (d("forward", "met", "10:00", "10:10", "10:06"), d("acknowledge", "met", "10:06", "10:11", "10:08"), d("reply", "met", "10:00", "10:30", "10:20"))),
    TicketRow(3, at("2026-11-25 10:00"), at("2026-11-25 13:00"), "维修部", "fault_report", "suburban", (d("forward", "met", "10:00", "10:10", "10:15"), d("acknowledge", "met", "10:15", "10:20", "10:25"), d("repair_fix", "met", "10:00", "12:00", "13:00")), {"repair_fix": "配件缺货"}),
    TicketRow(4, at("2026-11-25 10:00"), None, "营业厅", "complaint", "rural", (d("forward", "met", "10:00", "10:10", "10:09"), d("acknowledge", "pending", "10:09", "10:14"), d("reply", "pending", "10:00", "10:30"))),
    TicketRow(5, at("2026-11-25 13:50"), None, None, "complaint", "urban", (d("forward", "pending", "13:50", "14:00"), d("reply", "pending", "13:50", "14:20"))),
]


def test_the_ticket_figures_worked_by_hand() -> None:
    got = f.ticket_figures("合计", TICKETS, NOW)

    assert (got["tickets"], got["met"], got["breached"], got["open"]) == (5, 5, 5, 2)  # the SLA report's counts: met T1 1 + T2 3 + T4 1
    assert got["resolved_on_spot"] == rate(1, 5, 0.2)  # T1
    assert got["on_time"] == {
        "forward": rate(2, 3, 0.6667),  # T2, T4 on time, T3 late; T1 cancelled, T5 running
        "acknowledge": rate(1, 3, 0.3333),  # T2; T3 late, T4 overdue
        "reply": rate(2, 3, 0.6667),  # T1, T2; T4 overdue; T5 running
        "complete": rate(0, 1, 0.0),  # T3's repair
    }
    assert got["overdue"] == rate(2, 5, 0.4)  # T3, T4
    assert got["late"] == {
        "by_kind": {"acknowledge": 2, "forward": 1, "repair_fix": 1, "reply": 1},
        "reasons": [{"reason": "配件缺货", "count": 1}],
        "without_reason": 4,
    }


def test_departments_are_ranked_by_deadlines_met_on_time() -> None:
    """维修部 met 3 of 6 (T2's three; T3's three late) = 0.5; 营业厅 1 of 3."""
    groups = f.grouped_tickets(TICKETS, f.department_of, NOW)

    ranked = f.ranked_departments(groups)

    assert [g["group"] for g in groups] == [NOT_FORWARDED, "维修部", "营业厅"]  # by code point
    assert [(g["rank"], g["group"], g["on_time_rate"]) for g in ranked] == [(1, "维修部", rate(3, 6, 0.5)), (2, "营业厅", rate(1, 3, 0.3333))]
    assert ranked[0]["late"]["reasons"] == [{"reason": "配件缺货", "count": 1}]


def test_a_department_with_nothing_decided_comes_last_unranked() -> None:
    fresh = TicketRow(6, at("2026-11-25 13:55"), None, "安装部", "complaint", "urban", (d("acknowledge", "pending", "13:55", "14:00"),))

    ranked = f.ranked_departments(f.grouped_tickets([*TICKETS, fresh], f.department_of, NOW))

    assert [(g["rank"], g["group"]) for g in ranked] == [(1, "维修部"), (2, "营业厅"), (None, "安装部")]


# --- follow-ups and satisfaction ------------------------------------------------------------------


def test_the_24_hour_follow_ups_must_all_be_on_time() -> None:
    deadlines = [
        d("follow_up", "met", "08:00", "12:00", "11:00"),  # on time
        d("follow_up", "met", "08:00", "12:00", "12:30"),  # late
        d("follow_up", "pending", "08:00", "13:00"),  # overdue at 14:00
        d("follow_up", "pending", "08:00", "20:00"),  # still running
    ]

    assert f.follow_up_figures(deadlines, NOW) == {"within_limit": rate(1, 3, 0.3333, 1.0, False), "running": 1}


@pytest.mark.parametrize("reached, met", [(3, True), (2, False)])
def test_a_weekly_sample_needs_a_tenth_of_the_contacts(reached: int, met: bool) -> None:
    got = f.sample_figures(SampleGroup.INQUIRY, candidates=30, drawn=3, reached=reached)

    assert got["rate"] == rate(reached, 30, round(reached / 30, 4), 0.1, met)
    assert (got["cadence"], got["recorded"]) == ("weekly", True)


def test_a_sample_without_a_list_is_shown_as_not_recorded() -> None:
    got = f.sample_figures(SampleGroup.DIGITAL_TV, candidates=None, drawn=0, reached=0)

    assert (got["recorded"], got["rate"]) == (False, rate(0, 0, None, 0.2, None))


def test_satisfaction_is_the_five_and_four_keys_of_the_valid_answers() -> None:
    """Keypad 5 非常满意, 4 满意, 3 一般, 2 不满意, 1 非常不满意: (2 + 1) / 6 valid = 0.5; a
    survey answered without a valid key is not counted."""
    got = f.satisfaction("合计", [5, 5, 4, 3, 2, 1, None])

    assert got == {
        "group": "合计",
        "answers": 6,
        "no_answer": 1,
        "levels": {"very_satisfied": 2, "satisfied": 1, "neutral": 1, "dissatisfied": 1, "very_dissatisfied": 1},
        "satisfaction_rate": rate(3, 6, 0.5),
    }


def test_the_same_caller_in_any_spelling_is_a_repeat() -> None:
    first = CallRow("X1", at("2026-11-25 09:00"), "13912345678", "hotline", None, None, None, ended_at=at("2026-11-25 09:01"), outcome="failed")
    again = CallRow("X2", at("2026-11-25 10:00"), "+8613912345678", "hotline", None, None, None, ended_at=at("2026-11-25 10:01"), outcome="failed")
    assert f.repeat_calls([first, again], 3) == {"X2"}


def test_the_wait_counts_from_the_first_queue_not_the_last_queues_hold_time() -> None:
    """Joined vip at 09:00:00, vip emptied, answered in hotline 45 s after joining: Asterisk's
    HoldTime (5 s) counts the last queue only."""
    moved = CallRow("M", at("2026-11-25 09:00"), "13900000009", "hotline", "agent-8001", at("2026-11-25 09:00:00"), at("2026-11-25 09:00:45"), ended_at=at("2026-11-25 09:02"), outcome="answered", hold_seconds=5)
    assert f.wait_seconds(moved) == 45
    assert f.call_figures("all", [moved], RULES, set())["answered_within"] == 0

"""The floor's figures (kpis.md), pure: stored call rows -> call-handling figures per group;
keep-your-place requests -> 保留排位 figures; ticket rows -> on-time rates per stage;
follow-ups -> 回访率; survey scores -> 满意率. reports.py queries the rows; nothing here reads
a clock or a database. Past 400 lines: every figure the reports show is defined here, in
one place, so the definitions can be read (and tested) side by side.

How each call counts (its "fate"), in this order:
- kept (保留排位: the caller pressed 1 in a queue and left it to be called back in their
  turn; there is a keep_place_requests row with the call's id) and not answered: a
  人工请求, never lost (呼损) however the capture stored its end (as `timeout`); it counts
  as served (in 接通率) once its callback reached the customer (the request is `done`);
  failed, cancelled (they rang again: that call counts on its own) or still open, it is
  neither answered nor lost. `answer_rate_live` is the plain 接通率 without callbacks;
- never queued (queued_at null: hung up during routing, or answered on the first-try
  extension without a queue): not a 人工请求; counted in `calls` and 重复来电率 only;
- answered (answered_at set): a 人工请求, answered; counted as soon as it is answered,
  not when it ends, so the wallboard moves at the answer;
- waiting (in a queue, not answered, not ended): not yet a 人工请求 (shown as `waiting`);
  it counts once it is answered or ends;
- short abandon (outcome abandoned after a wait strictly shorter than
  short_abandon_seconds; none with the default 0 s): left out of 人工请求 altogether, so it
  is neither answered nor lost and no rate's denominator holds it; shown as
  `short_abandoned`;
- abandoned (the caller hung up waiting, any longer wait): a 人工请求, lost;
- timed out (left the queue unanswered without hanging up: queue timeout, exit key, the
  queue empty (Asterisk's leaveempty), or any other unanswered end after queueing): a
  人工请求, lost.

接通率 (answer_rate, the one with the target) = (answered + kept places reached) / 人工请求;
the plain variant (answer_rate_live) = answered on the call / 人工请求. 15秒接通率 and
Asterisk's SL count answers on the call only: a callback is no answer within 15 s.

A call's wait is Asterisk's HoldTime when stored (calls.hold_seconds), else from queued_at
to the answer (or the abandon, or the end). 15秒接通率 counts an answer with wait <= the
threshold: exactly 15 s is within. A call belongs to the day, hour and period of its
arrival on the local clock (Asia/Shanghai): one arriving 23:59:50 and answered 00:00:10 is
the earlier day's. A call is a repeat (重复来电) when the same number called before within
repeat_days x 24 h (rolling, from the latest earlier call); a withheld number never is.

Every rate is {value (4 decimals, null when its denominator is 0), part, whole, target,
met}; targets are compared exactly (19/20 meets 0.95), met is null without data or target.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from fractions import Fraction
from math import ceil
from statistics import mean
from typing import Any

from hotline.callbacks.sampling import SAMPLE_RULES, SampleGroup
from hotline.config import FloorSettings
from hotline.keepplace.tables import RequestState
from hotline.routing.numbers import BadNumber, is_withheld, normalise
from hotline.tickets.report import NOT_FORWARDED, DeadlineTimes, TicketTimes, outcome
from hotline.tickets.report import figures as sla_figures

Rate = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rules:
    """The figures' settings and targets ([floor] in the configuration)."""

    answer_threshold_seconds: int = 15
    short_abandon_seconds: int = 0
    repeat_days: int = 3
    target_answer_rate: float = 0.95
    target_service_level: float = 0.80
    target_lost_rate: float = 0.05

    @classmethod
    def of(cls, floor: FloorSettings) -> Rules:
        return cls(
            floor.answer_threshold_seconds, floor.short_abandon_seconds, floor.repeat_days,
            floor.target_answer_rate, floor.target_service_level, floor.target_lost_rate,
        )  # fmt: skip

    def data(self) -> dict[str, Any]:
        return {
            "answer_threshold_seconds": self.answer_threshold_seconds,
            "short_abandon_seconds": self.short_abandon_seconds,
            "repeat_days": self.repeat_days,
            "targets": {"answer_rate": self.target_answer_rate, "service_level": self.target_service_level, "lost_rate": self.target_lost_rate},
        }


def rate(part: int, whole: int, target: float | None = None, *, at_most: bool = False) -> Rate:
    """part / whole against a target (at least it, or at most it when `at_most`)."""
    met = None
    if whole and target is not None:
        share, goal = Fraction(part, whole), Fraction(str(target))
        met = share <= goal if at_most else share >= goal
    return {"value": round(part / whole, 4) if whole else None, "part": part, "whole": whole, "target": target, "met": met}


# --- calls ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallRow:
    id: str
    arrived_at: datetime
    caller_number: str | None = None
    queue: str | None = None
    agent: str | None = None
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    abandoned_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    hold_seconds: float | None = None
    kept: str | None = None  # the state of the kept place the call asked for (pressed 1); None: it did not


class Fate(StrEnum):
    NOT_QUEUED = "not_queued"
    WAITING = "waiting"
    ANSWERED = "answered"
    KEPT = "kept"
    SHORT_ABANDON = "short_abandoned"
    ABANDONED = "abandoned"
    TIMED_OUT = "timed_out"


REQUESTS = frozenset({Fate.ANSWERED, Fate.KEPT, Fate.ABANDONED, Fate.TIMED_OUT})
LOST = frozenset({Fate.ABANDONED, Fate.TIMED_OUT})


def wait_seconds(call: CallRow) -> float | None:
    """The queue wait: first queued -> answered / abandoned / ended. Asterisk's HoldTime only
    when that is not known (a call rebuilt after a reconnect): it counts the last queue
    alone, and a caller moved from an emptied vip queue to hotline waited in both."""
    until = call.answered_at or call.abandoned_at or call.ended_at
    if call.queued_at is None or until is None:
        return call.hold_seconds
    return max(0.0, (until - call.queued_at).total_seconds())


def fate(call: CallRow, rules: Rules) -> Fate:
    if call.kept is not None and call.answered_at is None:
        return Fate.KEPT  # one presses 1 only while queued, so even a call rebuilt without queued_at
    if call.queued_at is None:
        return Fate.NOT_QUEUED
    if call.answered_at is not None:
        return Fate.ANSWERED
    if call.ended_at is None and call.outcome is None:
        return Fate.WAITING
    if call.outcome == "abandoned":
        waited = wait_seconds(call) or 0.0
        return Fate.SHORT_ABANDON if waited < rules.short_abandon_seconds else Fate.ABANDONED
    return Fate.TIMED_OUT


def repeat_calls(calls: Iterable[CallRow], repeat_days: int, earlier: Mapping[str, datetime] | None = None, *, default_area_code: str = "0827") -> set[str]:
    """The ids of the calls whose number called before within repeat_days; `earlier` gives
    each number's latest call before the first of `calls` (the look-back)."""
    last_seen: dict[str, datetime] = dict(earlier or {})
    within = timedelta(days=repeat_days)
    repeats = set()
    for call in sorted(calls, key=lambda c: (c.arrived_at, c.id)):
        number = number_key(call.caller_number, default_area_code)
        if number is None:
            continue
        before = last_seen.get(number)
        if before is not None and call.arrived_at - before <= within:
            repeats.add(call.id)
        last_seen[number] = call.arrived_at
    return repeats


def number_key(raw: str | None, default_area_code: str = "0827") -> str | None:
    """The number as compared for repeats, canonical (013912345678, 13912345678 and
    +8613912345678 are one caller); as given when it is no phone number; None withheld."""
    if raw is None or is_withheld(raw):
        return None
    try:
        return normalise(raw, default_area_code=default_area_code)
    except BadNumber:
        return raw.strip()


def _seconds(values: Sequence[float], pick: Callable[[Sequence[float]], float]) -> float | None:
    return round(pick(values), 1) if values else None


def call_figures(group: str, calls: Sequence[CallRow], rules: Rules, repeats: set[str]) -> dict[str, Any]:
    """One group's call-handling figures (the module's docstring says how calls count)."""
    fated = [(c, fate(c, rules)) for c in calls]
    fates = Counter(f for _, f in fated)
    waits = [w for c, f in fated if f is Fate.ANSWERED and (w := wait_seconds(c)) is not None]
    within = sum(1 for w in waits if w <= rules.answer_threshold_seconds)
    requests = sum(fates[f] for f in REQUESTS)
    lost = sum(fates[f] for f in LOST)
    reached = sum(1 for c, f in fated if f is Fate.KEPT and c.kept == RequestState.DONE)
    repeated = sum(1 for c in calls if c.id in repeats)
    return {
        "group": group,
        "calls": len(calls),
        "requests": requests,
        "waiting": fates[Fate.WAITING],
        "answered": fates[Fate.ANSWERED],
        "answered_within": within,
        "abandoned": fates[Fate.ABANDONED],
        "short_abandoned": fates[Fate.SHORT_ABANDON],
        "timed_out": fates[Fate.TIMED_OUT],
        "lost": lost,
        "kept": fates[Fate.KEPT],
        "kept_reached": reached,
        # 接通率: answered on the call, or called back in their turn and reached.
        "answer_rate": rate(fates[Fate.ANSWERED] + reached, requests, rules.target_answer_rate),
        "answer_rate_live": rate(fates[Fate.ANSWERED], requests),
        "service_level": rate(within, requests, rules.target_service_level),
        # Asterisk's `servicelevel` (QueueStatus ServicelevelPerf): within / answered.
        "service_level_of_answered": rate(within, fates[Fate.ANSWERED]),
        "lost_rate": rate(lost, requests, rules.target_lost_rate, at_most=True),
        "average_wait_seconds": _seconds(waits, mean),
        "longest_wait_seconds": _seconds(waits, max),
        "repeat_calls": repeated,
        "repeat_rate": rate(repeated, len(calls)),
    }


def grouped_calls(calls: Sequence[CallRow], key: Callable[[CallRow], str | None], rules: Rules, repeats: set[str], names: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Figures per value of key(call) (calls whose key is None are left out), sorted by
    name; every name in `names` gets a row even without calls (the 24 hours)."""
    by_key: dict[str, list[CallRow]] = {name: [] for name in names}
    for call in calls:
        if (name := key(call)) is not None:
            by_key.setdefault(name, []).append(call)
    return [call_figures(name, by_key[name], rules, repeats) for name in sorted(by_key)]


def local_hour(tz: tzinfo) -> Callable[[CallRow], str]:
    return lambda call: f"{call.arrived_at.astimezone(tz).hour:02d}"


def local_day(tz: tzinfo) -> Callable[[CallRow], str]:
    return lambda call: call.arrived_at.astimezone(tz).date().isoformat()


HOURS = tuple(f"{hour:02d}" for hour in range(24))


def agent_figures(calls: Sequence[CallRow], rules: Rules) -> list[dict[str, Any]]:
    """Per agent (the first responder), the calls they answered: how many; how many of
    those answered from a queue were within the threshold (and that share: Asterisk's
    servicelevel for the agent); the waits callers had; the talk time (answer to end)."""
    by_agent: dict[str, list[CallRow]] = defaultdict(list)
    for call in calls:
        if call.answered_at is not None and call.agent:
            by_agent[call.agent].append(call)
    return [_agent(name, by_agent[name], rules) for name in sorted(by_agent)]


def _agent(name: str, answered: Sequence[CallRow], rules: Rules) -> dict[str, Any]:
    waits = [w for c in answered if c.queued_at is not None and (w := wait_seconds(c)) is not None]
    within = sum(1 for w in waits if w <= rules.answer_threshold_seconds)
    talks = [(c.ended_at - c.answered_at).total_seconds() for c in answered if c.ended_at is not None and c.answered_at is not None]
    return {
        "group": name,
        "answered": len(answered),
        "answered_within": within,
        "service_level_of_answered": rate(within, len(waits)),
        "average_wait_seconds": _seconds(waits, mean),
        "longest_wait_seconds": _seconds(waits, max),
        "average_talk_seconds": _seconds(talks, mean),
        "talk_seconds": round(sum(talks), 1),
    }


# --- kept places (keep your place) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeptRow:
    """A keep-your-place request (keep_place_requests) as the reports read it."""

    id: int
    queue: str
    requested_at: datetime  # when 1 was pressed
    state: str  # RequestState
    ended_at: datetime | None = None  # for `done`: when the callback was answered
    call_id: str | None = None  # the call that pressed 1


OPEN_KEPT = frozenset({RequestState.WAITING, RequestState.CALLING})


def kept_wait_seconds(row: KeptRow) -> float | None:
    """Press 1 -> the callback answered by the customer; None unless it was (done)."""
    if row.state != RequestState.DONE or row.ended_at is None:
        return None
    return max(0.0, (row.ended_at - row.requested_at).total_seconds())


def p90(values: Sequence[float]) -> float:
    """The 90th percentile, nearest rank: the smallest value at least 90 % are not above."""
    ordered = sorted(values)
    return ordered[ceil(0.9 * len(ordered)) - 1]


def kept_figures(group: str, rows: Sequence[KeptRow]) -> dict[str, Any]:
    """The group's kept places: requests; reached (called back, the customer answered:
    done), failed (the callback's tries used up), cancelled (they rang again and were
    answered, or a person cancelled it), open (waiting or being called); the callbacks
    reached of those decided (reached / (reached + failed): a cancelled one needed none);
    press 1 -> callback answered (mean, p90, longest) over the reached ones."""
    states = Counter(r.state for r in rows)
    waits = [w for r in rows if (w := kept_wait_seconds(r)) is not None]
    reached, failed = states[RequestState.DONE], states[RequestState.FAILED]
    return {
        "group": group,
        "requests": len(rows),
        "reached": reached,
        "failed": failed,
        "cancelled": states[RequestState.CANCELLED],
        "open": sum(states[s] for s in OPEN_KEPT),
        "reached_rate": rate(reached, reached + failed),
        "average_wait_seconds": _seconds(waits, mean),
        "p90_wait_seconds": _seconds(waits, p90),
        "longest_wait_seconds": _seconds(waits, max),
    }


def grouped_kept(rows: Sequence[KeptRow]) -> list[dict[str, Any]]:
    """kept_figures per queue (the queue the caller pressed 1 in), by name."""
    by_queue: dict[str, list[KeptRow]] = defaultdict(list)
    for row in rows:
        by_queue[row.queue].append(row)
    return [kept_figures(name, by_queue[name]) for name in sorted(by_queue)]


def kept_by_call(rows: Iterable[KeptRow]) -> dict[str, str]:
    """call id -> the state of the kept place it asked for (the latest, should there be two)."""
    return {r.call_id: r.state for r in sorted(rows, key=lambda r: r.id) if r.call_id is not None}


# --- tickets -------------------------------------------------------------------------------

# The four on-time rates, each over its stage's deadlines that are decided (met on time or
# breached; running and cancelled ones are not counted). 签收 takes the private network's
# 10-minute repair response too: both are the receiving side's first answer.
STAGES: Mapping[str, frozenset[str]] = {
    "forward": frozenset({"forward"}),  # 按时转出率 (10 min)
    "acknowledge": frozenset({"acknowledge", "repair_respond"}),  # 及时签收率 (5 min)
    "reply": frozenset({"reply"}),  # 按时答复率 (30 min)
    "complete": frozenset({"repair_fix", "restoration", "installation"}),  # 按时办结率
}
WORK_KINDS = frozenset().union(*STAGES.values())
MOST_REASONS = 5


@dataclass(frozen=True, slots=True)
class TicketRow:
    id: int
    opened_at: datetime
    resolved_at: datetime | None
    department: str | None  # forwarded to; None: never forwarded
    category: str
    area: str
    deadlines: tuple[DeadlineTimes, ...] = ()
    # deadline kind -> the reason given for its lateness (its extension request's)
    late_reasons: Mapping[str, str] = field(default_factory=dict)

    @property
    def resolved_on_spot(self) -> bool:
        """直接答复: resolved by the first responder, never forwarded to a department."""
        return self.resolved_at is not None and self.department is None


def _breached(row: TicketRow, now: datetime) -> list[DeadlineTimes]:
    return [d for d in row.deadlines if d.kind in WORK_KINDS and outcome(d, now) == "breached"]


def ticket_figures(group: str, rows: Sequence[TicketRow], now: datetime) -> dict[str, Any]:
    """The SLA report's figures for the group, plus 直接答复率, the four on-time rates,
    工单超时率 (tickets with a breached work deadline / tickets; follow-ups are 回访率's) and
    the late items by kind with the reasons given."""
    times = [TicketTimes(group, r.opened_at, r.resolved_at, r.deadlines) for r in rows]
    overdue = [r for r in rows if _breached(r, now)]
    return {
        **sla_figures(group, times, now),
        "resolved_on_spot": rate(sum(r.resolved_on_spot for r in rows), len(rows)),
        "on_time": {stage: _stage_rate(rows, kinds, now) for stage, kinds in STAGES.items()},
        "overdue": rate(len(overdue), len(rows)),
        "late": _late(rows, now),
    }


def _stage_rate(rows: Sequence[TicketRow], kinds: frozenset[str], now: datetime) -> Rate:
    results = Counter(outcome(d, now) for r in rows for d in r.deadlines if d.kind in kinds)
    return rate(results["met"], results["met"] + results["breached"])


def _late(rows: Sequence[TicketRow], now: datetime) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    reasons: Counter[str | None] = Counter()
    for row in rows:
        for d in _breached(row, now):
            kinds[d.kind] += 1
            reasons[row.late_reasons.get(d.kind)] += 1
    given = sorted(((n, r) for r, n in reasons.items() if r is not None), key=lambda item: (-item[0], item[1]))
    return {
        "by_kind": dict(sorted(kinds.items())),
        "reasons": [{"reason": r, "count": n} for n, r in given[:MOST_REASONS]],
        "without_reason": reasons[None],
    }


def grouped_tickets(rows: Sequence[TicketRow], key: Callable[[TicketRow], str], now: datetime) -> list[dict[str, Any]]:
    by_key: dict[str, list[TicketRow]] = defaultdict(list)
    for row in rows:
        by_key[key(row)].append(row)
    return [ticket_figures(name, by_key[name], now) for name in sorted(by_key)]


def department_of(row: TicketRow) -> str:
    return row.department or NOT_FORWARDED


# The hotline's own clocks, not the department's: forwarding within 10 minutes is the first
# responder's, the follow-up the hotline's.
HOTLINE_KINDS = frozenset({"forward", "follow_up"})


def departments_work(rows: Sequence[TicketRow]) -> list[TicketRow]:
    """The rows as a department is judged on them: its own deadlines only (a late forward
    by the hotline does not count against the department that acknowledged in time)."""
    return [replace(row, deadlines=tuple(d for d in row.deadlines if d.kind not in HOTLINE_KINDS)) if row.department else row for row in rows]



def ranked_departments(groups: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Departments (not the never-forwarded tickets) best first: by the share of their
    decided deadlines met on time, then fewer breaches, then name; each with `rank` and
    `on_time_rate`. A department with nothing decided yet comes last, unranked."""
    rows = [{**g, "on_time_rate": rate(g["met"], g["met"] + g["breached"])} for g in groups if g["group"] != NOT_FORWARDED]
    decided = sorted((r for r in rows if r["on_time_rate"]["whole"]), key=lambda r: (-Fraction(r["met"], r["on_time_rate"]["whole"]), r["breached"], r["group"]))
    ranked = [{**r, "rank": i} for i, r in enumerate(decided, start=1)]
    return ranked + [{**r, "rank": None} for r in rows if not r["on_time_rate"]["whole"]]


# --- follow-ups and satisfaction -----------------------------------------------------------

FOLLOW_UP_TARGET = 1.0  # 四.4(2): every install, repair and complaint within 24 h


def follow_up_figures(deadlines: Iterable[DeadlineTimes], now: datetime) -> dict[str, Any]:
    """The tickets' own follow-ups (回访 within 24 h): met on time / decided (met or late)."""
    results = Counter(outcome(d, now) for d in deadlines if d.kind == "follow_up")
    return {
        "within_limit": rate(results["met"], results["met"] + results["breached"], FOLLOW_UP_TARGET),
        "running": results["open"],
    }


def sample_figures(group: SampleGroup, *, candidates: int | None, drawn: int, reached: int) -> dict[str, Any]:
    """A sample's 回访率: candidates reached (a follow-up call answered) / candidates, against
    the standard's share. `candidates` None: the service keeps no list to draw from."""
    rule = SAMPLE_RULES[group]
    result = rate(reached if candidates else 0, candidates or 0, rule.fraction)
    return {"group": group.value, "cadence": rule.cadence.value, "recorded": candidates is not None, "candidates": candidates, "drawn": drawn, "reached": reached, "rate": result}


# The survey's keypad score on the five-level scale (五级满意度).
LEVELS: Mapping[int, str] = {
    5: "very_satisfied",  # 非常满意
    4: "satisfied",  # 满意
    3: "neutral",  # 一般
    2: "dissatisfied",  # 不满意
    1: "very_dissatisfied",  # 非常不满意
}
SATISFIED = frozenset({5, 4})


def satisfaction(group: str, scores: Iterable[int | None]) -> dict[str, Any]:
    """满意率 = (非常满意 + 满意) / valid answers: keypad 5 and 4 over every 1-5 score; a
    survey that ended without a valid key (None, or anything else) is `no_answer`."""
    scores = list(scores)
    valid = [s for s in scores if s in LEVELS]
    counted = Counter(valid)
    return {
        "group": group,
        "answers": len(valid),
        "no_answer": len(scores) - len(valid),
        "levels": {name: counted[score] for score, name in LEVELS.items()},
        "satisfaction_rate": rate(sum(counted[s] for s in SATISFIED), len(valid)),
    }

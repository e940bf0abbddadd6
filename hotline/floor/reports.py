"""The floor's reports (日报 / 周报 / 月报) and today's figures for the wallboard: the rows
are read here and the figures computed by floor/figures.py (its docstring defines them).

Periods are local (the `tz` given, Asia/Shanghai): a day starts at local midnight, a week
runs Monday to Sunday, a month is the calendar month. Calls belong to the period of their
arrival, and a kept place (keep your place: a press of 1) to its call's (one whose call was
never stored: to the period 1 was pressed in); tickets to the period they were opened in
(as in the SLA report); a ticket's own follow-up to the period its 24 h limit falls in; a
sample's contacts to the period they were resolved in; survey answers to the period the
survey call ended in.

Past 400 lines because the CSV writer (to_csv, which belongs with the report's shape) is
here too; the figures themselves are all in figures.py.
"""

from __future__ import annotations

import calendar
import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.callbacks.followups import ticket_sample_group
from hotline.callbacks.planner import NO_CANDIDATES, OTHER_TYPES
from hotline.callbacks.sampling import SAMPLE_RULES, Cadence, SampleGroup
from hotline.callbacks.tables import callbacks
from hotline.clock import Clock
from hotline.config import FloorSettings
from hotline.db.tables import calls
from hotline.floor import figures as f
from hotline.keepplace.tables import keep_place_requests as kept_places
from hotline.routing.numbers import BadNumber, is_withheld, normalise
from hotline.routing.tables import customer_numbers, customers
from hotline.tickets import repository as repo
from hotline.tickets.report import NOT_FORWARDED, DeadlineTimes
from hotline.tickets.standard import DEFAULT_POLICY, Category, InstallKind, Policy
from hotline.tickets.tables import deadlines, departments, extension_requests, ticket_calls, ticket_events, tickets

__all__ = ["PERIODS", "FloorReports", "period_range", "to_csv"]

PERIODS = ("day", "week", "month")
_CALL_COLUMNS = (
    calls.c.id, calls.c.arrived_at, calls.c.caller_number, calls.c.queue, calls.c.agent, calls.c.queued_at,
    calls.c.answered_at, calls.c.abandoned_at, calls.c.ended_at, calls.c.outcome, calls.c.hold_seconds,
)  # fmt: skip
_KEPT_COLUMNS = (kept_places.c.id, kept_places.c.queue, kept_places.c.requested_at, kept_places.c.state, kept_places.c.ended_at, kept_places.c.call_id)
_DEADLINE_TIMES = ("kind", "state", "started_at", "due_at", "met_at", "breached_at")
_WEEKLY_SAMPLES = tuple(g for g, rule in SAMPLE_RULES.items() if rule.cadence is Cadence.WEEKLY)


def period_range(period: str, day: date) -> tuple[date, date]:
    """The first and last local day of the day, week (Monday-Sunday) or month holding `day`."""
    if period == "day":
        return day, day
    if period == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    if period == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")


class FloorReports:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        settings_floor: FloorSettings,
        tz: tzinfo,
        *,
        default_area_code: str = "0827",
        policy: Policy = DEFAULT_POLICY,
    ) -> None:
        self.engine, self.clock, self.tz = engine, clock, tz
        self.rules = f.Rules.of(settings_floor)
        self.default_area_code, self.policy = default_area_code, policy
        self._earlier: tuple[datetime, dict[str, datetime]] | None = None

    # --- today, for the wallboard ----------------------------------------------------------

    async def today(self) -> dict[str, Any]:
        """Today's call figures so far (local day). Cheap enough to call every few seconds:
        one indexed query (today's calls, by arrived_at) and arithmetic over its rows;
        the look-back for 重复来电 (each number's latest call in the repeat_days before
        midnight) is a second query once a day, then kept. Nothing about tickets.

        {"date": "2026-11-25", "as_of": ISO (UTC), "timezone": "Asia/Shanghai",
         "rules": {answer_threshold_seconds, short_abandon_seconds, repeat_days,
                   "targets": {answer_rate, service_level, lost_rate}},
         "total": CALL FIGURES of every call today (group "all"),
         "queues": [CALL FIGURES per queue, by name],
         "hours": [CALL FIGURES per local hour "00".."23", all 24]}
        CALL FIGURES: group, calls, requests (人工请求), waiting, answered, answered_within,
        abandoned, short_abandoned, timed_out, lost, kept (保留排位: pressed 1, not lost),
        kept_reached (their callback reached the customer), answer_rate (接通率: answered +
        kept_reached), answer_rate_live (answered on the call only), service_level
        (15秒接通率), service_level_of_answered (Asterisk's servicelevel), lost_rate (呼损率),
        average_wait_seconds, longest_wait_seconds (null without answers), repeat_calls,
        repeat_rate (重复来电率); each rate {value, part, whole, target, met}."""
        now = self.clock.now()
        day = now.astimezone(self.tz).date()
        start, end = self._bounds(day, day)
        async with self.engine.connect() as conn:
            rows, earlier, _ = await self._calls(conn, start, end, keep=True)
        repeats = f.repeat_calls(rows, self.rules.repeat_days, earlier, default_area_code=self.default_area_code)
        return {
            "date": day.isoformat(),
            "as_of": now.astimezone(UTC).isoformat(),
            "timezone": str(self.tz),
            "rules": self.rules.data(),
            "total": f.call_figures("all", rows, self.rules, repeats),
            "queues": f.grouped_calls(rows, lambda c: c.queue, self.rules, repeats),
            "hours": f.grouped_calls(rows, f.local_hour(self.tz), self.rules, repeats, f.HOURS),
        }

    # --- the reports -------------------------------------------------------------------------

    async def report(self, period: str, day: date) -> dict[str, Any]:
        """The day's, week's or month's report holding `day`: calls per queue, agent, hour
        and day, and the kept places per queue (calls.kept_places: figures.kept_figures);
        tickets per department (ranked, with the reasons for late items), category and area;
        回访率 and 满意率."""
        first, last = period_range(period, day)
        start, end = self._bounds(first, last)
        now = self.clock.now()
        async with self.engine.connect() as conn:
            call_rows, earlier, kept = await self._calls(conn, start, end)
            ticket_rows = await self._tickets(conn, start, end)
            follow_ups = await self._follow_up_deadlines(conn, start, end)
            samples = await self._samples(conn, start, end, last.year)
            scores = await self._surveys(conn, start, end)
        return {
            "period": period,
            "date": day.isoformat(),
            "from": first.isoformat(),
            "to": last.isoformat(),
            "timezone": str(self.tz),
            "as_of": now.astimezone(UTC).isoformat(),
            "rules": self.rules.data(),
            "calls": {**self._call_section(call_rows, earlier, first, last), "kept_places": _kept_section(kept)},
            "tickets": _ticket_section(ticket_rows, now),
            "follow_ups": {**f.follow_up_figures(follow_ups, now), "samples": samples},
            "satisfaction": _satisfaction_section(scores),
        }

    def _call_section(self, rows: list[f.CallRow], earlier: Mapping[str, datetime], first: date, last: date) -> dict[str, Any]:
        repeats = f.repeat_calls(rows, self.rules.repeat_days, earlier, default_area_code=self.default_area_code)
        days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        return {
            "total": f.call_figures("all", rows, self.rules, repeats),
            "queues": f.grouped_calls(rows, lambda c: c.queue, self.rules, repeats),
            "agents": f.agent_figures(rows, self.rules),
            "hours": f.grouped_calls(rows, f.local_hour(self.tz), self.rules, repeats, f.HOURS),
            "days": f.grouped_calls(rows, f.local_day(self.tz), self.rules, repeats, days),
        }

    # --- repeat callers ------------------------------------------------------------------------

    async def repeat_of(self, number: str | None, now: datetime) -> int | None:
        """The open ticket a caller calls again about: the caller's newest open ticket (by
        customer, else by number: tickets/opening.py's rule, which links the call to it when
        answered) whose last contact (opened, or a call linked to it) before `now` is within
        repeat_days. `now`: when the call arrived. None: not a repeat."""
        canonical = self._canonical(number)
        if canonical is None:
            return None
        async with self.engine.connect() as conn:
            owner = select(customer_numbers.c.customer_id).where(customer_numbers.c.number == canonical)
            customer_id = (await conn.execute(owner)).scalar_one_or_none()
            ticket = await repo.open_ticket_of_caller(conn, customer_id, canonical)
            if ticket is None or ticket.opened_at >= now:
                return None
            linked = select(func.max(ticket_calls.c.linked_at)).where(ticket_calls.c.ticket_id == ticket.id, ticket_calls.c.linked_at < now.astimezone(UTC))
            last_call = repo.utc((await conn.execute(linked)).scalar_one_or_none())
        last = max(ticket.opened_at, last_call) if last_call else ticket.opened_at
        return ticket.id if now - last <= timedelta(days=self.rules.repeat_days) else None

    def _canonical(self, number: str | None) -> str | None:
        """The number as tickets keep it (opening.py's _caller): canonical when it is one."""
        if is_withheld(number):
            return None
        assert number is not None
        try:
            return normalise(number, default_area_code=self.default_area_code)
        except BadNumber:
            return number.strip()[:40]

    # --- reading rows --------------------------------------------------------------------------

    def _bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        """Local days first..last as [start, end) in UTC (SQLite compares stored UTC text)."""
        start = datetime.combine(first, time(0), tzinfo=self.tz)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=self.tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    async def _calls(self, conn: AsyncConnection, start: datetime, end: datetime, *, keep: bool = False) -> tuple[list[f.CallRow], dict[str, datetime], list[f.KeptRow]]:
        """The calls that arrived in [start, end) (each with the state of the kept place it
        asked for, if it pressed 1), the look-back for their repeats, and the kept places."""
        kept = await _kept_places(conn, start, end)
        states = f.kept_by_call(kept)
        query = select(*_CALL_COLUMNS).where(calls.c.arrived_at >= start, calls.c.arrived_at < end)
        rows = [_call_row(row, states.get(row.id)) for row in (await conn.execute(query)).all()]
        return rows, await self._look_back(conn, start, keep=keep), kept

    async def _look_back(self, conn: AsyncConnection, start: datetime, *, keep: bool) -> dict[str, datetime]:
        """Each number's latest call in the repeat_days before `start`. today() keeps it for
        its day: those calls are over, so it is read once a day (a call of yesterday stored
        only after a resync counts from tomorrow's look-back on, not in today's)."""
        if keep and self._earlier is not None and self._earlier[0] == start:
            return self._earlier[1]
        since = start - timedelta(days=self.rules.repeat_days)
        latest = func.max(calls.c.arrived_at)
        look_back = select(calls.c.caller_number, latest).where(calls.c.arrived_at >= since, calls.c.arrived_at < start).group_by(calls.c.caller_number)
        earlier: dict[str, datetime] = {}
        for number, at in (await conn.execute(look_back)).all():
            if (key := f.number_key(number, self.default_area_code)) is not None:
                earlier[key] = max(repo.utc(at), earlier.get(key, repo.utc(at)))
        if keep:
            self._earlier = (start, earlier)
        return earlier

    async def _tickets(self, conn: AsyncConnection, start: datetime, end: datetime) -> list[f.TicketRow]:
        in_range = (tickets.c.opened_at >= start, tickets.c.opened_at < end)
        query = (
            select(tickets.c.id, tickets.c.opened_at, tickets.c.resolved_at, tickets.c.category, tickets.c.area, departments.c.name.label("department"))
            .outerjoin(departments, departments.c.id == tickets.c.department_id)
            .where(*in_range)
            .order_by(tickets.c.id)
        )
        times: dict[int, list[DeadlineTimes]] = defaultdict(list)
        for d in (await conn.execute(select(deadlines).join(tickets, tickets.c.id == deadlines.c.ticket_id).where(*in_range))).mappings():
            times[d["ticket_id"]].append(_deadline_times(d))
        reasons: dict[int, dict[str, str]] = defaultdict(dict)
        asked = (
            select(deadlines.c.ticket_id, deadlines.c.kind, extension_requests.c.reason)
            .join(deadlines, deadlines.c.id == extension_requests.c.deadline_id)
            .join(tickets, tickets.c.id == deadlines.c.ticket_id)
            .where(*in_range)
            .order_by(extension_requests.c.requested_at, extension_requests.c.id)
        )
        for ticket_id, kind, reason in (await conn.execute(asked)).all():
            reasons[ticket_id][kind] = reason  # the latest request's reason wins
        return [
            f.TicketRow(r.id, repo.utc(r.opened_at), repo.utc(r.resolved_at), r.department, r.category, r.area, tuple(times[r.id]), reasons[r.id])
            for r in (await conn.execute(query)).all()
        ]

    async def _follow_up_deadlines(self, conn: AsyncConnection, start: datetime, end: datetime) -> list[DeadlineTimes]:
        query = select(deadlines).where(deadlines.c.kind == "follow_up", deadlines.c.due_at >= start, deadlines.c.due_at < end)
        return [_deadline_times(d) for d in (await conn.execute(query)).mappings()]

    async def _samples(self, conn: AsyncConnection, start: datetime, end: datetime, year: int) -> list[dict[str, Any]]:
        """Each sample's contacts in the period (tickets resolved in it, by sample group;
        the yearly one: the customers of its types), how many were drawn and reached."""
        resolved = select(ticket_events.c.ticket_id).where(ticket_events.c.kind == "resolved", ticket_events.c.at >= start, ticket_events.c.at < end)
        contacts = select(tickets.c.id, tickets.c.category, tickets.c.source, tickets.c.install_kind).where(tickets.c.id.in_(resolved))
        candidates: dict[SampleGroup, int] = defaultdict(int)
        for row in (await conn.execute(contacts)).all():
            install = InstallKind(row.install_kind) if row.install_kind else None
            group = ticket_sample_group(Category(row.category), source=row.source, install_kind=install, policy=self.policy)
            if group is not None:
                candidates[group] += 1
        drawn = select(callbacks.c.source_key, callbacks.c.state, callbacks.c.outcome).where(callbacks.c.kind == "sampled")
        weekly = (await conn.execute(drawn.where(callbacks.c.ticket_id.in_(resolved)))).all()
        yearly = (await conn.execute(drawn.where(callbacks.c.source_key.like(f"sampled:{SampleGroup.OTHER.value}.%:{year}:%")))).all()
        customers_of_types = select(func.count()).select_from(customers).where(customers.c.tier.in_(OTHER_TYPES))
        candidates[SampleGroup.OTHER] = int((await conn.execute(customers_of_types)).scalar_one())
        tally = _sample_tally([*weekly, *yearly])
        return [
            f.sample_figures(group, candidates=None if group in NO_CANDIDATES else candidates[group], drawn=tally[group][0], reached=tally[group][1])
            for group in (*_WEEKLY_SAMPLES, SampleGroup.OTHER)
        ]

    async def _surveys(self, conn: AsyncConnection, start: datetime, end: datetime) -> list[tuple[str, int | None]]:
        """(department of the ticket or the never-forwarded label, score) of each survey
        call answered in the period."""
        query = (
            select(departments.c.name, callbacks.c.score)
            .select_from(callbacks)
            .outerjoin(tickets, tickets.c.id == callbacks.c.ticket_id)
            .outerjoin(departments, departments.c.id == tickets.c.department_id)
            .where(callbacks.c.mode == "survey", callbacks.c.state == "done", callbacks.c.outcome == "answered")
            .where(callbacks.c.updated_at >= start, callbacks.c.updated_at < end)
        )
        return [(name or NOT_FORWARDED, score) for name, score in (await conn.execute(query)).all()]


async def _kept_places(conn: AsyncConnection, start: datetime, end: datetime) -> list[f.KeptRow]:
    """The kept places of the calls that arrived in [start, end), and those made in it whose
    call was never stored (the desk keeps the id it was given)."""
    arrived = select(calls.c.id).where(calls.c.arrived_at >= start, calls.c.arrived_at < end)
    stored = exists().where(calls.c.id == kept_places.c.call_id)
    unstored = and_(kept_places.c.requested_at >= start, kept_places.c.requested_at < end, ~stored)
    query = select(*_KEPT_COLUMNS).where(or_(kept_places.c.call_id.in_(arrived), unstored)).order_by(kept_places.c.requested_at, kept_places.c.id)
    u = repo.utc
    return [f.KeptRow(r.id, r.queue, u(r.requested_at), r.state, u(r.ended_at), r.call_id) for r in (await conn.execute(query)).all()]


def _call_row(row: Any, kept: str | None = None) -> f.CallRow:
    (id_, arrived, number, queue, agent, queued, answered, abandoned, ended, outcome, hold) = row
    u = repo.utc
    return f.CallRow(id_, u(arrived), number, queue, agent, u(queued), u(answered), u(abandoned), u(ended), outcome, hold, kept)


def _kept_section(rows: list[f.KeptRow]) -> dict[str, Any]:
    return {"total": f.kept_figures("all", rows), "queues": f.grouped_kept(rows)}


def _deadline_times(d: Mapping[str, Any]) -> DeadlineTimes:
    return DeadlineTimes(*(repo.utc(d[name]) for name in _DEADLINE_TIMES))


def _sample_tally(rows: Iterable[Any]) -> dict[SampleGroup, tuple[int, int]]:
    """(drawn, reached) per sample group, from the callbacks' source keys
    ("sampled:inquiry:2026-W48:17", "sampled:other.regular:2026:42")."""
    drawn: dict[SampleGroup, int] = defaultdict(int)
    reached: dict[SampleGroup, int] = defaultdict(int)
    for key, state, outcome in rows:
        name = (key or "").split(":")[1:2]
        group = name[0].split(".")[0] if name else ""
        if group not in {g.value for g in SampleGroup}:
            continue
        drawn[SampleGroup(group)] += 1
        reached[SampleGroup(group)] += state == "done" and outcome == "answered"
    return {g: (drawn[g], reached[g]) for g in SampleGroup}


def _ticket_section(rows: list[f.TicketRow], now: datetime) -> dict[str, Any]:
    return {
        "total": f.ticket_figures("合计", rows, now),
        "departments": f.ranked_departments(f.grouped_tickets(f.departments_work(rows), f.department_of, now)),
        "not_forwarded": f.ticket_figures(NOT_FORWARDED, [r for r in rows if r.department is None], now),
        "categories": f.grouped_tickets(rows, lambda r: r.category, now),
        "areas": f.grouped_tickets(rows, lambda r: r.area, now),
    }


def _satisfaction_section(scores: list[tuple[str, int | None]]) -> dict[str, Any]:
    by_department: dict[str, list[int | None]] = defaultdict(list)
    for name, score in scores:
        by_department[name].append(score)
    return {
        "total": f.satisfaction("合计", [score for _, score in scores]),
        "departments": [f.satisfaction(name, by_department[name]) for name in sorted(by_department)],
    }


# --- CSV ------------------------------------------------------------------------------------

Label = Callable[[str, str], str]
PERIOD_NAMES = {"day": "日报", "week": "周报", "month": "月报"}
_CALL_HEADERS = ("分组", "来电", "人工请求", "等待中", "接通", "{t}秒内接通", "放弃", "短时放弃", "超时", "呼损",
                 "接通率%", "{t}秒接通率%", "SL(占接通)%", "呼损率%", "平均等待秒", "最长等待秒", "重复来电", "重复来电率%",
                 "保留排位", "保留排位回呼接通", "接通率(不含回呼)%")  # fmt: skip
# The kept places' columns come last, so the columns a spreadsheet already reads stay where they were.
_CALL_KEYS = ("calls", "requests", "waiting", "answered", "answered_within", "abandoned", "short_abandoned", "timed_out", "lost",
              "answer_rate", "service_level", "service_level_of_answered", "lost_rate", "average_wait_seconds", "longest_wait_seconds",
              "repeat_calls", "repeat_rate", "kept", "kept_reached", "answer_rate_live")  # fmt: skip
_KEPT_HEADERS = ("队列", "保留排位", "回呼接通", "回呼失败", "已取消", "未完成", "回呼接通率%", "平均回呼等待秒", "P90回呼等待秒", "最长回呼等待秒")
_KEPT_KEYS = ("requests", "reached", "failed", "cancelled", "open", "reached_rate", "average_wait_seconds", "p90_wait_seconds", "longest_wait_seconds")
KEPT_DEFINITION = (
    "保留排位：排队中按1选择回呼、离开队列的来电，计入人工请求，不计呼损；回呼接通（客户接听）计入接通率；"
    "回呼失败、已取消（再次来电已接通，该来电另计）或未完成的不计接通。接通率(不含回呼)为不含回呼的原口径；"
    "{t}秒接通率与SL只计来电接通。回呼等待：按1至回呼接通；回呼接通率 = 回呼接通 / (回呼接通 + 回呼失败)；"
    "保留排位·按队列另含来电未被采集（与PBX断开时）的按1请求。"
)
_AGENT_HEADERS = ("坐席", "接通", "{t}秒内接通", "SL(占接通)%", "平均等待秒", "最长等待秒", "平均通话秒", "通话总秒")
_AGENT_KEYS = ("answered", "answered_within", "service_level_of_answered", "average_wait_seconds", "longest_wait_seconds", "average_talk_seconds", "talk_seconds")
_TICKET_HEADERS = ("分组", "排名", "工单数", "时限数", "按时完成", "超时", "未到期", "准时率%", "直接答复率%", "按时转出率%", "及时签收率%",
                   "按时答复率%", "按时办结率%", "工单超时率%", "转办中位分钟", "响应中位分钟", "办结中位分钟", "超时原因")  # fmt: skip
_SATISFACTION_HEADERS = ("分组", "有效回答", "未作答", "非常满意", "满意", "一般", "不满意", "非常不满意", "满意率%")
_NO_REASON = "未填写原因"


def to_csv(report: Mapping[str, Any], label: Label | None = None) -> str:
    """The report as one CSV of titled sections (a blank line between), Chinese headers,
    rates in per cent with one decimal; `label(group, value)` names categories, areas and
    samples (the console's words), else their values are written as they are."""
    name = label or (lambda _group, value: value)
    rows: list[list[Any]] = [["报表", PERIOD_NAMES[report["period"]], report["from"], report["to"], report["timezone"]]]
    rows += _rules_rows(report["rules"])
    calls_part, threshold = report["calls"], report["rules"]["answer_threshold_seconds"]
    call_headers = [h.format(t=threshold) for h in _CALL_HEADERS]
    for title, groups in (("通话·合计", [calls_part["total"]]), ("通话·按队列", calls_part["queues"]), ("通话·按小时", calls_part["hours"]), ("通话·按日", calls_part["days"])):
        rows += _section(title, call_headers, ([g["group"], *(_cell(g[k]) for k in _CALL_KEYS)] for g in groups))
    agent_headers = [h.format(t=threshold) for h in _AGENT_HEADERS]
    rows += _section("坐席", agent_headers, ([g["group"], *(_cell(g[k]) for k in _AGENT_KEYS)] for g in calls_part["agents"]))
    kept = calls_part["kept_places"]
    rows += _section("保留排位·按队列", _KEPT_HEADERS, ([g["group"], *(_cell(g[k]) for k in _KEPT_KEYS)] for g in [*kept["queues"], kept["total"]]))
    t = report["tickets"]
    for title, groups, group in (("工单·按部门", t["departments"], None), ("工单·未转办", [t["not_forwarded"]], None), ("工单·按类别", t["categories"], "category"), ("工单·按区域", t["areas"], "area"), ("工单·合计", [t["total"]], None)):
        rows += _section(title, _TICKET_HEADERS, (_ticket_row(g, name(group, g["group"]) if group else g["group"]) for g in groups))
    rows += _follow_up_rows(report["follow_ups"], name)
    s = report["satisfaction"]
    rows += _section("满意度", _SATISFACTION_HEADERS, (_satisfaction_row(g) for g in [*s["departments"], s["total"]]))
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([[_inert(cell) for cell in row] for row in rows])
    return out.getvalue()


def _inert(cell: Any) -> Any:
    """A text a spreadsheet would run as a formula (=, +, -, @ first: a late reason typed by
    anyone) gets a leading apostrophe; numbers stay numbers."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def _rules_rows(rules: Mapping[str, Any]) -> list[list[Any]]:
    targets = rules["targets"]
    return [
        ["接通阈值秒", rules["answer_threshold_seconds"], "短时放弃秒", rules["short_abandon_seconds"], "重复来电天数", rules["repeat_days"]],
        ["目标接通率%", _percent(targets["answer_rate"]), "目标15秒接通率%", _percent(targets["service_level"]), "目标呼损率%(以下)", _percent(targets["lost_rate"])],
        ["口径", KEPT_DEFINITION.format(t=rules["answer_threshold_seconds"])],
    ]


def _section(title: str, headers: Iterable[str], body: Iterable[list[Any]]) -> list[list[Any]]:
    return [[], [title], list(headers), *body]


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _cell(value: Any) -> Any:
    if isinstance(value, dict):  # a rate
        return _percent(value["value"])
    return "" if value is None else value


def _ticket_row(g: Mapping[str, Any], group_name: str) -> list[Any]:
    on_time = g["on_time"]
    return [
        group_name, _cell(g.get("rank")), g["tickets"], g["deadlines"], g["met"], g["breached"], g["open"], _cell(g.get("on_time_rate")),
        _cell(g["resolved_on_spot"]), *(_cell(on_time[stage]) for stage in f.STAGES), _cell(g["overdue"]),
        _cell(g["median_minutes_to_forward"]), _cell(g["median_minutes_to_acknowledge"]), _cell(g["median_minutes_to_resolve"]), _reasons(g["late"]),
    ]  # fmt: skip


def _reasons(late: Mapping[str, Any]) -> str:
    given = [f"{r['reason']}×{r['count']}" for r in late["reasons"]]
    if late["without_reason"]:
        given.append(f"{_NO_REASON}×{late['without_reason']}")
    return "; ".join(given)


def _follow_up_rows(part: Mapping[str, Any], name: Label) -> list[list[Any]]:
    own = part["within_limit"]
    body = [["24小时回访", own["whole"], "", own["part"], _percent(own["value"]), _percent(own["target"])]]
    for s in part["samples"]:
        candidates = "" if s["candidates"] is None else s["candidates"]
        body.append([f"抽样·{name('sample_group', s['group'])}", candidates, s["drawn"], s["reached"], _percent(s["rate"]["value"]), _percent(s["rate"]["target"])])
    return _section("回访", ("项目", "应回访", "抽取", "回访成功", "回访率%", "标准%"), body)


def _satisfaction_row(g: Mapping[str, Any]) -> list[Any]:
    levels = g["levels"]
    return [g["group"], g["answers"], g["no_answer"], *(levels[level] for level in f.LEVELS.values()), _cell(g["satisfaction_rate"])]

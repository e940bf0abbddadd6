"""Keeps a ticket's deadline rows in step with its plan: starts new clocks, moves pending ones
when a correction or an approved extension changes their due time, meets and cancels them.
Every change goes through the row's version, so the scheduler's claims are never overwritten."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.tickets import repository as repo
from hotline.tickets.plan import Planned
from hotline.tickets.repository import Deadline
from hotline.tickets.standard import Policy, warn_at
from hotline.tickets.timers import next_fire_at


@dataclass
class DeadlineBook:
    """One ticket's deadline rows inside a use case's transaction, and what happened to them
    (for the timeline's data)."""

    conn: AsyncConnection
    ticket_id: int
    policy: Policy
    escalate_every: timedelta
    rows: dict[str, Deadline]
    extended: dict[int, datetime] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def load(cls, conn: AsyncConnection, ticket_id: int, policy: Policy, escalate_every: timedelta) -> DeadlineBook:
        rows = await repo.deadlines_of(conn, ticket_id)
        return cls(conn, ticket_id, policy, escalate_every, rows, await repo.approved_extensions(conn, ticket_id))

    async def meet(self, kinds: Iterable[str], at: datetime) -> None:
        for kind in kinds:
            if kind in self.rows and self.rows[kind].open:
                await self._change(kind, lambda row: _closed(row, "met", at), "met", at)

    async def cancel_open(self, at: datetime, kinds: Iterable[str] | None = None) -> None:
        for kind in list(self.rows) if kinds is None else kinds:
            if kind in self.rows and self.rows[kind].open:
                await self._change(kind, lambda row: _closed(row, "cancelled", at), "cancelled", at)

    async def follow(self, planned: Mapping[str, Planned], now: datetime) -> None:
        """Start what the plan has and the rows lack, move what changed, cancel what no
        longer applies. A met row stays met unless its clock restarts (a new forward)."""
        for kind, plan in planned.items():
            row = self.rows.get(kind)
            if row is None:
                await repo.insert_deadline(self.conn, self._new_row(plan, now))
                self._note(kind, "started", plan.due_at, now)
            elif row.open and (row.started_at, row.due_at, row.rule) != (plan.started_at, self._due(row, plan), plan.rule):
                due = self._due(row, plan)
                await self._change(kind, lambda r, p=plan, d=due: self._moved(r, p.started_at, d, p.rule, now), "moved", now)
            elif not row.open and (row.state == "cancelled" or row.started_at != plan.started_at):
                await self._change(kind, lambda r, p=plan: self._restarted(p, now), "started", now)
        await self.cancel_open(now, [kind for kind in self.rows if kind not in planned])
        self.rows = await repo.deadlines_of(self.conn, self.ticket_id)

    async def extend(self, kind: str, new_due: datetime, now: datetime) -> None:
        row = self.rows[kind]
        await self._change(kind, lambda r: self._moved(r, r.started_at, new_due, r.rule, now), "extended", now)
        self.extended[row.id] = new_due

    def _due(self, row: Deadline, plan: Planned) -> datetime:
        # An approved extension outlives a correction that would bring the due time forward;
        # a clock that restarts (a new forward) starts without it.
        if row.id not in self.extended or row.started_at != plan.started_at:
            return plan.due_at
        return max(plan.due_at, self.extended[row.id])

    def _new_row(self, plan: Planned, now: datetime) -> dict[str, Any]:
        return {"ticket_id": self.ticket_id, "kind": plan.kind.value, **self._restarted(plan, now)}

    def _restarted(self, plan: Planned, now: datetime) -> dict[str, Any]:
        values = {
            "rule": plan.rule,
            "started_at": plan.started_at,
            "warn_at": plan.warn_at,
            "due_at": plan.due_at,
            "state": "pending",
            "met_at": None,
            "warned_at": None,
            "breached_at": None,
            "escalation_level": 0,
        }
        return {**values, "next_fire_at": self._next(values)}

    def _moved(self, row: Deadline, started: datetime, due: datetime, rule: str, now: datetime) -> dict[str, Any]:
        """A new due time. Still ahead: the warning and the breach start over (the warning
        kept if its moment has passed and it was given). Already past: the breach stands."""
        warn = warn_at(started, due, policy=self.policy)
        values: dict[str, Any] = {"rule": rule, "started_at": started, "due_at": due, "warn_at": warn}
        if due > now:
            kept_warning = row.warned_at if warn <= now else None
            values.update(state="pending", warned_at=kept_warning, breached_at=None, escalation_level=0)
        merged = {"state": row.state, "warned_at": row.warned_at, "breached_at": row.breached_at, "escalation_level": row.escalation_level, **values}
        return {**values, "next_fire_at": self._next(merged)}

    def _next(self, values: Mapping[str, Any]) -> datetime | None:
        return next_fire_at(
            state=values["state"],
            warn_at=values["warn_at"],
            due_at=values["due_at"],
            warned_at=values["warned_at"],
            breached_at=values["breached_at"],
            escalation_level=values["escalation_level"],
            escalate_every=self.escalate_every,
        )

    async def _change(self, kind: str, change: Any, what: str, now: datetime) -> None:
        row, values = await repo.change_deadline(self.conn, self.rows[kind].id, lambda r: change(r) if r.open or what == "started" else None)
        if values is not None:
            self._note(kind, what, values.get("due_at", row.due_at), values.get("met_at") or now)

    def _note(self, kind: str, what: str, due: datetime, at: datetime) -> None:
        entry: dict[str, Any] = {"deadline": kind, "change": what, "due_at": repo.iso(due)}
        if what == "met":
            entry["late_seconds"] = max(0.0, (at - due).total_seconds())
        self.changes.append(entry)


def _closed(row: Deadline, state: str, at: datetime) -> dict[str, Any]:
    return {"state": state, "met_at": at if state == "met" else None, "next_fire_at": None}

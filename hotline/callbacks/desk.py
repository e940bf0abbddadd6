"""The people's side of callbacks: who sees which, booking one for the time a customer asked
for, cancelling one not yet placed, recording a visit or a reply letter, and a supervisor's
retry of a failed one. Each write is one transaction, conditional on the row's state and
version (several instances may act on the same row), and on_change() runs after the commit.

The dispatcher (dispatcher.py) places the calls; this module never talks to Asterisk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Select, case, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.clock import Clock
from hotline.db.engine import write_transaction
from hotline.errors import BadRequest, HotlineError, NotFound
from hotline.routing.numbers import BadNumber, normalise
from hotline.routing.tables import customer_numbers, customers
from hotline.tickets import departments
from hotline.tickets import repository as repo
from hotline.tickets.service import may_work_on
from hotline.tickets.tables import tickets
from hotline.users.store import Role, User

from .book import Owed, schedule
from .model import NOT_CALLED, CallbackKind, CallbackState, Mode, Outcome, is_called, move
from .owed import OPEN, dialled
from .tables import callback_attempts, callbacks

log = structlog.get_logger(__name__)

S = CallbackState
WATCHERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
LOST = (CallbackKind.ABANDONED.value, CallbackKind.AFTER_HOURS.value)
# The standard's own checks on people's work: cancelled by supervisors only.
SUPERVISED = (CallbackKind.FOLLOW_UP.value, CallbackKind.SAMPLED.value, CallbackKind.VIP_MONTHLY.value)
# A customer asks for "tomorrow afternoon" or "after the holiday", not for next season.
BOOKING_HORIZON = timedelta(days=90)
_NOTE_LIMIT = 4000


ComplaintFound = Callable[[User, int, int, str], Awaitable[int]]


class CallbackForbidden(HotlineError):
    """这个回呼不归您处理 / this callback is not yours to see or change."""

    error_id = "forbidden"


class CallbackNotWaiting(HotlineError):
    """这个回呼已在拨打或已结束，不能再更改 / this callback is being placed or is finished: it can no longer be changed."""

    error_id = "callback_not_waiting"


class CallbackIsCalled(HotlineError):
    """电话回呼由系统拨打并自行记录结果；只有上门回访和回函由人工记录 / a call records its own outcome; only a visit or a reply letter is recorded by hand."""

    error_id = "callback_is_called"


class CallbackNotFailed(HotlineError):
    """只有失败的回呼可以重新安排 / only a failed callback can be retried."""

    error_id = "callback_not_failed"


class CallbackChanged(HotlineError):
    """这个回呼刚被更改（也许是另一个人或拨号程序），请刷新后再试 / this callback changed meanwhile (someone else, or the dialer); reload and try again."""

    error_id = "callback_changed"


class CallbackWithoutTicket(HotlineError):
    """只有对工单的回访才能转回部门；请另开工单 / only a callback about a ticket can send a complaint back to its department; open a ticket instead."""

    error_id = "callback_without_ticket"


class CallbackNotAnswered(HotlineError):
    """客户尚未接通这次回访 / the customer has not been reached on this callback."""

    error_id = "callback_not_answered"


class CallbackAlreadyOwed(HotlineError):
    """这个号码已有一个待回呼 / an open callback for this number exists already."""

    error_id = "callback_already_owed"


# --- checking what a person typed (pure): each returns what is wrong, or None ----------------


def number_problem(number: str, default_area_code: str) -> str | None:
    """Why `number` cannot be called back, phrased to follow the field's name."""
    try:
        # An extension first: owed.dialled refuses it too, but with a broken BadNumber call.
        if normalise(number, default_area_code=default_area_code).startswith("ext:"):
            return "is an internal extension, not a customer's number"
        dialled(number, default_area_code)
    except BadNumber as exc:
        return f"is not a phone number: {exc.reason}"
    return None


def time_problem(at: datetime, now: datetime) -> str | None:
    """Why a customer's asked-for time cannot be booked, phrased to follow the field's name."""
    if at.tzinfo is None or at.utcoffset() is None:
        return 'must be a time with its zone, e.g. "2026-11-25T18:00:00+08:00"'
    if at <= now:
        return "must be in the future"
    if at > now + BOOKING_HORIZON:
        return f"must be at most {BOOKING_HORIZON.days} days ahead"
    return None


def _text(value: str | None, limit: int = _NOTE_LIMIT) -> str | None:
    return None if value is None else value.strip()[:limit] or None


def _by(text: str, actor: User) -> str:
    """A note says who wrote it: the callbacks table keeps no user of its own."""
    return f"{text}（{actor.name}）"[:_NOTE_LIMIT]


# --- reading ---------------------------------------------------------------------------------

_COLUMNS = (
    callbacks.c.id, callbacks.c.kind, callbacks.c.mode, callbacks.c.number, callbacks.c.customer_id,
    customers.c.name.label("customer_name"), callbacks.c.ticket_id, tickets.c.number.label("ticket_number"),
    callbacks.c.call_id, callbacks.c.tier, callbacks.c.priority, callbacks.c.state, callbacks.c.due_at,
    callbacks.c.deadline_at, callbacks.c.next_attempt_at, callbacks.c.attempts.label("attempts_made"),
    callbacks.c.max_attempts, callbacks.c.agent_extension, callbacks.c.outcome, callbacks.c.score,
    callbacks.c.note, callbacks.c.created_at, callbacks.c.updated_at, callbacks.c.version,
)  # fmt: skip
_JOINED = callbacks.outerjoin(tickets, tickets.c.id == callbacks.c.ticket_id).outerjoin(customers, customers.c.id == callbacks.c.customer_id)
_ATTEMPT_COLUMNS = ("attempt", "started_at", "ended_at", "outcome", "data")


async def _visible(conn: AsyncConnection, actor: User) -> ColumnElement[bool] | None:
    """None (everything) for supervisors and admins; otherwise the callbacks that ring the
    user's extension, lost callers for agents (agents call them back), and the callbacks of
    tickets forwarded to the user's department (as tickets.service decides who sees a ticket)."""
    if actor.role in WATCHERS:
        return None
    mine: list[ColumnElement[bool]] = []
    if actor.extension:
        mine.append(callbacks.c.agent_extension == actor.extension)
    if actor.role is Role.AGENT:
        mine.append(callbacks.c.kind.in_(LOST))
    department = await departments.department_of(conn, actor.id)
    if department is not None:
        mine.append(tickets.c.department_id == department)
    return or_(*mine) if mine else false()


def _listed(query: Select[Any], where: ColumnElement[bool] | None) -> Select[Any]:
    return query if where is None else query.where(where)


def _order() -> tuple[Any, ...]:
    """Open ones first, soonest due first (the next attempt's time, else the due time);
    then finished ones, latest first."""
    waiting = callbacks.c.state.in_(OPEN)
    return (
        case((waiting, 0), else_=1),
        case((waiting, func.coalesce(callbacks.c.next_attempt_at, callbacks.c.due_at)), else_=None),
        callbacks.c.updated_at.desc(),
        callbacks.c.priority.desc(),
        callbacks.c.id,
    )


def _json(row: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    item = {name: repo.utc(value) for name, value in row.items()}
    item["called"] = is_called(CallbackKind(row["kind"]))
    item["attempts"] = [{name: repo.utc(attempt[name]) for name in _ATTEMPT_COLUMNS} for attempt in attempts]
    return item


async def _with_attempts(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    ids = [row["id"] for row in rows]
    by_callback: dict[int, list[Mapping[str, Any]]] = {i: [] for i in ids}
    if ids:
        query = select(callback_attempts).where(callback_attempts.c.callback_id.in_(ids)).order_by(callback_attempts.c.callback_id, callback_attempts.c.attempt)
        for attempt in (await conn.execute(query)).mappings():
            by_callback[attempt["callback_id"]].append(attempt)
    return [_json(row, by_callback[row["id"]]) for row in rows]


# --- the desk --------------------------------------------------------------------------------


class CallbackDesk:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, mode_of: Callable[[CallbackKind], Mode], max_attempts: int, default_area_code: str, on_change: Callable[[], None] | None = None, complaint_found: ComplaintFound | None = None) -> None:
        self.engine, self.clock = engine, clock
        self.complaint_found = complaint_found
        self.mode_of, self.max_attempts, self.default_area_code = mode_of, max_attempts, default_area_code
        self.on_change = on_change

    def number_problem(self, number: str) -> str | None:
        return number_problem(number, self.default_area_code)

    def time_problem(self, at: datetime) -> str | None:
        return time_problem(at, self.clock.now())

    async def list(self, actor: User, *, states: set[str] | None, limit: int) -> list[dict[str, Any]]:
        """The callbacks `actor` may see, in `states` (all when None), open ones soonest due first."""
        async with self.engine.connect() as conn:
            query = select(*_COLUMNS).select_from(_JOINED).order_by(*_order()).limit(limit)
            if states is not None:
                query = query.where(callbacks.c.state.in_(sorted(states)))
            rows = (await conn.execute(_listed(query, await _visible(conn, actor)))).mappings().all()
            return await _with_attempts(conn, rows)

    async def get(self, actor: User, callback_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            await self._load(conn, actor, callback_id)
            row = (await conn.execute(select(*_COLUMNS).select_from(_JOINED).where(callbacks.c.id == callback_id))).mappings().one()
            return (await _with_attempts(conn, [row]))[0]

    async def book(self, actor: User, *, number: str, at: datetime, ticket_id: int | None = None, note: str | None = None) -> dict[str, Any]:
        """A manual callback at the time the customer asked for, ringing the actor's own
        phone first (agent-first mode by default); BadRequest naming every problem, and
        nothing written, when the number or the time will not do."""
        if not actor.extension and actor.role not in WATCHERS:
            raise CallbackForbidden(f"a callback {actor.name} books rings their own extension, and they have none", user=actor.name)
        now = self.clock.now()
        problems = [f"{name} {problem}" for name, problem in (("number", self.number_problem(number)), ("at", time_problem(at, now))) if problem]
        if problems:
            raise BadRequest("; ".join(problems), problems=problems)
        digits = dialled(number, self.default_area_code)
        async with write_transaction(self.engine) as conn:
            customer_id, tier = await self._customer(conn, actor, number, ticket_id)
            owed = Owed(
                kind=CallbackKind.MANUAL, mode=self.mode_of(CallbackKind.MANUAL), number=digits, tier=tier,
                due_at=at.astimezone(UTC), max_attempts=self.max_attempts, customer_id=customer_id, ticket_id=ticket_id,
                agent_extension=actor.extension, note=_by(_text(note) or "客户约定时间回呼 / at the customer's asked time", actor),
            )  # fmt: skip
            created = await schedule(conn, owed, now)
            if created is None:  # a manual callback has neither key: this cannot collide
                raise CallbackAlreadyOwed(number=digits)
        log.info("callback.booked", callback=created, by=actor.name, number=digits, at=owed.due_at.isoformat(), ticket=ticket_id)
        self._changed()
        return await self.get(actor, created)

    async def cancel(self, actor: User, callback_id: int, reason: str) -> dict[str, Any]:
        """Only one not yet placed: a call that is ringing is let finish. The standard's
        follow-ups, samples and VIPs' monthly calls check the work of the people who could
        see them: only a supervisor cancels those."""
        if actor.role not in WATCHERS:
            async with self.engine.connect() as conn:
                row = await self._load(conn, actor, callback_id)
            if row["kind"] in SUPERVISED:
                raise CallbackForbidden(f"only a supervisor cancels a {row['kind']} callback", kind=row["kind"])
        return await self._waiting_to(actor, callback_id, S.CANCELLED, {"note": _by(f"取消 / cancelled: {reason.strip()}", actor)}, "cancel")

    async def record(self, actor: User, callback_id: int, result: str, note: str | None = None) -> dict[str, Any]:
        """A visit made or a reply letter sent: done, with the outcome `answered` (the customer
        was reached), so the dispatcher's report puts it on its ticket as it does an answered
        follow-up call."""
        text = result.strip() + (f"；{note.strip()}" if note and note.strip() else "")
        return await self._waiting_to(actor, callback_id, S.DONE, {"outcome": Outcome.ANSWERED.value, "note": _by(text, actor)}, "record")

    async def complaint(self, actor: User, callback_id: int, note: str) -> dict[str, Any]:
        """A complaint the customer made on this callback (an agent-first follow-up): back to
        the department that worked its ticket as a new forwarded complaint (tickets'
        complaint_found). Whoever may see the callback may report it."""
        async with self.engine.connect() as conn:
            row = await self._load(conn, actor, callback_id)
        if row["ticket_id"] is None or self.complaint_found is None:
            raise CallbackWithoutTicket(id=callback_id)
        if row["outcome"] != Outcome.ANSWERED.value:
            raise CallbackNotAnswered(id=callback_id, state=row["state"])
        new_ticket = await self.complaint_found(actor, row["ticket_id"], callback_id, note.strip())
        log.info("callback.complaint_found", callback=callback_id, by=actor.name, new_ticket=new_ticket)
        self._changed()
        return {**await self.get(actor, callback_id), "new_ticket_id": new_ticket}

    async def retry(self, actor: User, callback_id: int) -> dict[str, Any]:
        """A failed callback scheduled again now, with a new budget of attempts. The attempt
        count goes on (each attempt's ChannelId, cb-ID-N, must stay unique); the budget is
        raised instead. A lost caller's callback takes its number's open place back."""
        if actor.role not in WATCHERS:
            raise CallbackForbidden(f"only a supervisor retries a failed callback; {actor.name} is {actor.role.value}", role=actor.role.value)
        now = self.clock.now()
        try:
            async with write_transaction(self.engine) as conn:
                row = await self._load(conn, actor, callback_id)
                if row["state"] != S.FAILED.value:
                    raise CallbackNotFailed(id=callback_id, state=row["state"])
                values: dict[str, Any] = {
                    "state": S.SCHEDULED.value, "next_attempt_at": now, "max_attempts": row["attempts"] + self.max_attempts, "reported_at": None,
                    "note": _by(f"重新安排 / retried; 上次 / before: {row['note'] or row['outcome'] or '-'}", actor),
                }  # fmt: skip
                if row["kind"] in LOST:
                    values["open_key"] = await self._open_place(conn, row)
                await self._write(conn, row, values, now)
        except IntegrityError:  # the caller was lost again, and owed anew, in the meantime
            raise CallbackAlreadyOwed(id=callback_id) from None
        log.info("callback.retried", callback=callback_id, by=actor.name, max_attempts=values["max_attempts"])
        self._changed()
        return await self.get(actor, callback_id)

    # -- the parts ----------------------------------------------------------------------------

    async def _load(self, conn: AsyncConnection, actor: User, callback_id: int) -> Mapping[str, Any]:
        row = (await conn.execute(select(callbacks).where(callbacks.c.id == callback_id))).mappings().first()
        if row is None:
            raise NotFound("no such callback", id=callback_id)
        where = await _visible(conn, actor)
        if where is not None:
            seen = await conn.execute(select(callbacks.c.id).select_from(_JOINED).where(callbacks.c.id == callback_id, where))
            if seen.first() is None:
                raise CallbackForbidden(id=callback_id)
        return row

    async def _customer(self, conn: AsyncConnection, actor: User, number: str, ticket_id: int | None) -> tuple[int | None, str]:
        """The customer and tier: the ticket's when one is given (the actor must be allowed to
        work on it), else the directory's owner of the number, else a regular caller."""
        if ticket_id is not None:
            ticket = await repo.ticket(conn, ticket_id)
            if ticket is None:
                raise BadRequest(f"ticket_id: no ticket {ticket_id}", problems=[f"ticket_id: no ticket {ticket_id}"])
            await may_work_on(conn, actor, ticket)
            return ticket.customer_id, ticket.tier
        canonical = normalise(number, default_area_code=self.default_area_code)
        query = select(customers.c.id, customers.c.tier).join(customer_numbers, customer_numbers.c.customer_id == customers.c.id).where(customer_numbers.c.number == canonical)
        found = (await conn.execute(query)).first()
        return (found.id, found.tier) if found else (None, "regular")

    async def _open_place(self, conn: AsyncConnection, row: Mapping[str, Any]) -> str:
        """A lost caller has one open callback per number (ux_callbacks_open_key)."""
        other = (await conn.execute(select(callbacks.c.id).where(callbacks.c.open_key == row["number"], callbacks.c.id != row["id"]))).scalar()
        if other is not None:
            raise CallbackAlreadyOwed(f"这个号码已有待回呼 #{other} / callback #{other} for this number is open already", id=row["id"], open_callback=other)
        return str(row["number"])

    async def _waiting_to(self, actor: User, callback_id: int, to: CallbackState, values: dict[str, Any], action: str) -> dict[str, Any]:
        now = self.clock.now()
        async with write_transaction(self.engine) as conn:
            row = await self._load(conn, actor, callback_id)
            if action == "record" and CallbackKind(row["kind"]) not in NOT_CALLED:
                raise CallbackIsCalled(id=callback_id, kind=row["kind"])
            if row["state"] != S.SCHEDULED.value:
                raise _not_waiting(row["state"], action, callback_id)
            move(S(row["state"]), to)  # the model's table agrees: scheduled -> cancelled, done
            await self._write(conn, row, {"state": to.value, "next_attempt_at": None, "open_key": None, **values}, now)
        log.info(f"callback.{to.value}", callback=callback_id, by=actor.name)
        self._changed()
        return await self.get(actor, callback_id)

    async def _write(self, conn: AsyncConnection, row: Mapping[str, Any], values: dict[str, Any], now: datetime) -> None:
        """The change, only if nobody (another instance, the dialer) changed the row since it was read."""
        where = (callbacks.c.id == row["id"], callbacks.c.state == row["state"], callbacks.c.version == row["version"])
        result = await conn.execute(update(callbacks).where(*where).values(**values, updated_at=now, version=row["version"] + 1))
        if result.rowcount != 1:
            raise CallbackChanged(id=row["id"])

    def _changed(self) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change()
        except Exception:  # the change is committed: a listener's fault must not undo the answer
            log.exception("callbacks.on_change_failed")


_VERB = {"cancel": ("取消", "cancel"), "record": ("记录", "record")}


def _not_waiting(state: str, action: str, callback_id: int) -> CallbackNotWaiting:
    if state in (S.PLACING.value, S.IN_FLIGHT.value):
        message = "这个回呼正在拨打，不能更改，请等通话结束 / this callback is being placed right now: let the call finish"
    else:
        zh, en = _VERB[action]
        message = f"这个回呼已是 {state}，不能再{zh} / this callback is {state} already: too late to {en} it"
    return CallbackNotWaiting(message, id=callback_id, state=state, action=action)

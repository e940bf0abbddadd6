"""Ticket use cases after opening: each runs in one transaction, records who, when and why on
the ticket's timeline, moves the deadlines, and publishes TicketChanged after the commit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.errors import BadRequest, NotFound
from hotline.tickets import departments, report, views
from hotline.tickets import repository as repo
from hotline.tickets.deadline_sync import DeadlineBook
from hotline.tickets.errors import ComplaintReported, DeadlineNotOpen, ExtensionDecided, ExtensionPending, FollowUpRequired, Forbidden
from hotline.tickets.events import TicketChanged, TicketOpened
from hotline.tickets.lifecycle import TicketAction, TicketStatus, transition
from hotline.tickets.opening import TicketOpening, facts_of
from hotline.tickets.plan import DeadlineKind, needs_follow_up
from hotline.tickets.standard import Category
from hotline.tickets.tables import tickets
from hotline.tickets.views import TicketFilter
from hotline.users.store import Role, User
from hotline.db.engine import write_transaction

A, K = TicketAction, DeadlineKind
# The service itself acting on a ticket (a callback's result): no user, every right.
SERVICE = User(id=None, name="系统 / the service", role=Role.SUPERVISOR)  # type: ignore[arg-type]
EVERYONE_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
# Resolving settles the work's own clocks; the forward clock of a ticket resolved on the
# spot is cancelled instead (nothing was left to forward).
SETTLED_BY_RESOLVING = (K.REPLY, K.REPAIR_RESPOND, K.REPAIR_FIX, K.RESTORATION, K.INSTALLATION)
CLASSIFIABLE = ("category", "fault_kind", "install_kind", "tier", "area")

Check = Callable[[AsyncConnection, User, repo.Ticket], Awaitable[None]]


@dataclass
class _Step:
    """One action inside its transaction: what it changes on the ticket and records."""

    conn: AsyncConnection
    ticket: repo.Ticket
    actor: User
    now: datetime
    book: DeadlineBook
    reason: str | None
    changes: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


async def may_work_on(conn: AsyncConnection, actor: User, ticket: repo.Ticket) -> None:
    """Supervisors and admins on every ticket, the owner on theirs, a department's staff on
    the tickets forwarded to it."""
    if actor.role in EVERYONE_ROLES or ticket.owner_user_id == actor.id:
        return
    if ticket.department_id is not None and await departments.department_of(conn, actor.id) == ticket.department_id:
        return
    raise Forbidden(f"{actor.name} is neither the owner of {ticket.number}, nor staff of its department, nor a supervisor", ticket=ticket.number)


async def _visible(conn: AsyncConnection, actor: User) -> ColumnElement[bool] | None:
    if actor.role in EVERYONE_ROLES:
        return None
    department = await departments.department_of(conn, actor.id)
    mine = tickets.c.owner_user_id == actor.id
    return mine if department is None else or_(mine, tickets.c.department_id == department)


async def _department_staff(conn: AsyncConnection, actor: User, ticket: repo.Ticket) -> None:
    if ticket.department_id is None or await departments.department_of(conn, actor.id) != ticket.department_id:
        raise Forbidden(f"only staff of the department {ticket.number} was forwarded to may acknowledge it", ticket=ticket.number)


async def _supervisor(conn: AsyncConnection, actor: User, ticket: repo.Ticket) -> None:
    if actor.role not in EVERYONE_ROLES:
        raise Forbidden(f"only a supervisor approves or rejects extensions; {actor.name} is {actor.role.value}", role=actor.role.value)


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """What a callback placed for a ticket found (hotline.callbacks): its outcome
    (answered, busy, no_answer ...), the survey's score if one was keyed, and whether the
    callback is done or failed after its attempts."""

    callback_id: int
    kind: str
    state: str
    outcome: str | None
    score: int | None
    attempts: int
    low: bool  # a low score: back to the department as a new forwarded item


class TicketService(TicketOpening):
    """The ticket use cases; opening (by call or by hand) comes from TicketOpening."""

    async def report_callback(self, ticket_id: int, result: CallbackResult) -> int | None:
        """A callback's result on the ticket's timeline, once per callback (the service is
        the actor). An answered follow-up of a resolved ticket starts its follow-up and
        meets the follow-up deadline; a low score opens a new complaint ticket for the same
        customer, owned by the same agent, and hands it to the department that worked the
        first (四.4: 回访中发现的问题转相关部门). Returns that new ticket's id."""
        now = self.clock.now()
        async with write_transaction(self.engine) as conn:
            # The ticket's row lock first: two instances reporting the same result wait for
            # each other, and the second finds the first's line.
            if not await repo.touch(conn, ticket_id, now):
                return None
            ticket = await repo.ticket(conn, ticket_id)
            if ticket is None or await repo.has_callback_result(conn, ticket_id, result.callback_id, result.attempts):
                return None
            data = {"callback_id": result.callback_id, "kind": result.kind, "state": result.state, "outcome": result.outcome, "score": result.score, "attempts": result.attempts}
            changes: dict[str, Any] = {"updated_at": now}
            answered = result.outcome == "answered"
            if answered and ticket.status == TicketStatus.RESOLVED:
                book = await DeadlineBook.load(conn, ticket_id, self.policy, self.escalate_every)
                await book.meet([K.FOLLOW_UP], now)
                changes["status"] = transition(TicketStatus.RESOLVED, A.START_FOLLOW_UP).value
                if book.changes:
                    data["deadlines"] = book.changes
            new_ticket: tuple[int, str] | None = None
            if answered and result.low:
                score = f"{result.score}/5" if result.score is not None else "-"
                summary = f"回访不满意（评分 {score}），原工单 {ticket.number} / unhappy in the follow-up (score {score}) of {ticket.number}"
                new_ticket = await self._send_back(conn, ticket, summary, None, now, result.callback_id)
                data["new_ticket"] = new_ticket[1]
            await repo.change_ticket(conn, ticket_id, changes)
            reason = f"回访 {result.outcome or '-'}" + (f"，评分 {result.score}" if result.score is not None else "")
            await repo.record(conn, ticket_id, "callback_result", now, None, reason, data)
        status = changes.get("status", ticket.status)
        await self.bus.publish(TicketChanged(ticket_id, ticket.number, now, "callback_result", None, status))
        if new_ticket is None:
            return None
        await self._hand_back(ticket, new_ticket, now, SERVICE)
        return new_ticket[0]

    async def complaint_found(self, actor: User, ticket_id: int, callback_id: int, note: str) -> int:
        """A complaint heard on a follow-up call (the agent who made it reports it): a new
        complaint ticket for the same customer, owned by the first ticket's owner and
        handed to the department that worked it, as for a low score. Returns its id."""
        now = self.clock.now()
        async with write_transaction(self.engine) as conn:
            if not await repo.touch(conn, ticket_id, now) or (ticket := await repo.ticket(conn, ticket_id)) is None:
                raise NotFound("no such ticket", id=ticket_id)
            if await repo.has_complaint_from(conn, ticket_id, callback_id):
                raise ComplaintReported(ticket=ticket.number, callback_id=callback_id)
            summary = f"回访发现投诉，原工单 {ticket.number}：{note} / a complaint in the follow-up of {ticket.number}: {note}"
            new_ticket = await self._send_back(conn, ticket, summary, actor.id, now, callback_id)
            await repo.record(conn, ticket_id, "complaint_found", now, actor.id, note, {"callback_id": callback_id, "new_ticket": new_ticket[1]})
        await self.bus.publish(TicketChanged(ticket_id, ticket.number, now, "complaint_found", actor.id, ticket.status))
        await self._hand_back(ticket, new_ticket, now, actor if actor.role in EVERYONE_ROLES else SERVICE)
        return new_ticket[0]

    async def _send_back(self, conn: AsyncConnection, ticket: repo.Ticket, summary: str, actor: int | None, now: datetime, callback_id: int) -> tuple[int, str]:
        """The new complaint ticket a follow-up found (四.4: 回访中发现的问题转相关部门)."""
        values = {
            "source": "other", "category": Category.COMPLAINT.value, "tier": ticket.tier, "area": ticket.area,
            "customer_id": ticket.customer_id, "caller_number": ticket.caller_number, "caller_name": ticket.caller_name,
            "owner_user_id": ticket.owner_user_id, "summary": summary,
        }  # fmt: skip
        return await self._create(conn, values, actor, now, {"from_ticket": ticket.number, "callback_id": callback_id})

    async def _hand_back(self, ticket: repo.Ticket, new_ticket: tuple[int, str], now: datetime, actor: User) -> None:
        """Published once committed, then forwarded to the first ticket's department (its
        own transaction: a crash in between leaves it open with its owner, whose 10-minute
        forward clock runs and escalates as for any ticket)."""
        await self.bus.publish(TicketOpened(new_ticket[0], new_ticket[1], now, ticket.owner_user_id, None))
        if ticket.department_id is not None:
            await self.forward(actor, new_ticket[0], ticket.department_id, f"回访发现问题，原工单 {ticket.number}")

    async def list_tickets(self, actor: User, wanted: TicketFilter) -> tuple[list[dict[str, Any]], int]:
        """The tickets `actor` may see (a department only its own), filtered, newest first."""
        async with self.engine.connect() as conn:
            return await views.list_tickets(conn, wanted, await _visible(conn, actor), self.clock.now())

    async def extension_requests(self, actor: User, state: str | None) -> list[dict[str, Any]]:
        """Extension requests on the tickets `actor` may see; supervisors decide them."""
        async with self.engine.connect() as conn:
            return await views.extension_requests(conn, state, await _visible(conn, actor))

    async def detail(self, actor: User, ticket_id: int, *, just_acted: bool = False) -> dict[str, Any]:
        """The ticket with its timeline and deadlines. Who just acted on it sees the result
        even when the action took it out of their hands (a department forwarding it on)."""
        async with self.engine.connect() as conn:
            ticket = await repo.ticket(conn, ticket_id)
            if ticket is None:
                raise NotFound("no such ticket", id=ticket_id)
            if not just_acted:
                await may_work_on(conn, actor, ticket)
            return await views.ticket_detail(conn, ticket, self.clock.now())

    async def sla_report(self, actor: User, *, first: date, last: date, group: str) -> dict[str, Any]:
        if actor.role not in EVERYONE_ROLES:
            raise Forbidden(f"the SLA report is for supervisors; {actor.name} is {actor.role.value}", role=actor.role.value)
        if group not in report.GROUPS or first > last:
            raise BadRequest(f"group is one of {', '.join(report.GROUPS)}, and from is not after to", group=group)
        async with self.engine.connect() as conn:
            return await report.sla_report(conn, first=first, last=last, group=group, now=self.clock.now())

    async def classify(self, actor: User, ticket_id: int, changes: Mapping[str, StrEnum | None], reason: str | None = None) -> None:
        """Correct category, fault kind, install kind, tier or area; pending deadlines follow."""
        if not changes or set(changes) - set(CLASSIFIABLE):
            raise BadRequest(f"classify changes some of: {', '.join(CLASSIFIABLE)}", given=sorted(changes))
        async with self._acting(actor, ticket_id, A.CLASSIFY, "classified", reason) as step:
            new = {name: None if value is None else value.value for name, value in changes.items()}
            step.data["changes"] = {name: [getattr(step.ticket, name), value] for name, value in new.items() if getattr(step.ticket, name) != value}
            step.changes.update(new)
            await self._follow_plan(step)

    async def note(self, actor: User, ticket_id: int, text: str) -> None:
        async with self._acting(actor, ticket_id, A.NOTE, "noted", text):
            pass

    async def reply(self, actor: User, ticket_id: int, text: str) -> None:
        """The customer was answered (答复): meets the 30-minute reply."""
        async with self._acting(actor, ticket_id, A.REPLY, "replied", text) as step:
            await step.book.meet([K.REPLY], step.now)

    async def forward(self, actor: User, ticket_id: int, department: int | str, reason: str | None = None) -> None:
        """Hand the ticket to a department: meets the forward deadline, starts its 5-minute
        acknowledgement (and an install order's days, on the first forward)."""
        async with self._acting(actor, ticket_id, A.FORWARD, "forwarded", reason) as step:
            found = await departments.find(step.conn, department)
            if found is None:
                raise BadRequest(f"no department {department!r}", department=department)
            if found[0] == step.ticket.department_id:
                raise BadRequest(f"{step.ticket.number} is already with {found[1]}", department=found[1])
            step.changes["department_id"] = found[0]
            step.data.update(department_id=found[0], department=found[1], from_department_id=step.ticket.department_id)
            await step.book.meet([K.FORWARD], step.now)
            await self._follow_plan(step, forwarded_now=True)

    async def acknowledge(self, actor: User, ticket_id: int, reason: str | None = None) -> None:
        """The department took it (响应): meets the acknowledgement and a repair's response."""
        async with self._acting(actor, ticket_id, A.ACKNOWLEDGE, "acknowledged", reason, may=_department_staff) as step:
            await step.book.meet([K.ACKNOWLEDGE, K.REPAIR_RESPOND], step.now)

    async def resolve(self, actor: User, ticket_id: int, resolution: str) -> None:
        """Done, on the spot or by the department; starts the follow-up clock when needed."""
        async with self._acting(actor, ticket_id, A.RESOLVE, "resolved", resolution) as step:
            step.data["on_the_spot"] = step.ticket.status == TicketStatus.OPEN
            await step.book.meet(SETTLED_BY_RESOLVING, step.now)
            step.changes["resolved_at"] = step.now
            await self._follow_plan(step)

    async def start_follow_up(self, actor: User, ticket_id: int, result: str) -> None:
        """The follow-up call (or reply letter) is made and its result recorded."""
        async with self._acting(actor, ticket_id, A.START_FOLLOW_UP, "followed_up", result) as step:
            await step.book.meet([K.FOLLOW_UP], step.now)

    async def close(self, actor: User, ticket_id: int, reason: str | None = None) -> None:
        """Final: cancels every deadline still open and rejects waiting extension requests.
        A ticket the standard follows up one by one closes only after its follow-up."""
        async with self._acting(actor, ticket_id, A.CLOSE, "closed", reason) as step:
            if step.ticket.status == TicketStatus.RESOLVED and step.ticket.follow_up_needed:
                raise FollowUpRequired(ticket=step.ticket.number)
            await step.book.cancel_open(step.now)
            decision = {"state": "rejected", "decided_by": actor.id, "decided_at": step.now, "decision_reason": "工单已关闭 / the ticket was closed"}
            for request in await repo.extension_requests_of(step.conn, ticket_id):
                if request.state == "pending":
                    await repo.decide_extension(step.conn, request.id, decision)
            step.changes["closed_at"] = step.now

    async def request_extension(self, actor: User, ticket_id: int, deadline: str, new_due_at: datetime, reason: str) -> int:
        """A deadline that cannot be met: ask a supervisor to move it (工作延时完成申请)."""
        async with self._acting(actor, ticket_id, A.REQUEST_EXTENSION, "extension_requested", reason) as step:
            row = step.book.rows.get(deadline)
            if row is None or not row.open:
                raise DeadlineNotOpen(deadline=deadline)
            if new_due_at <= max(row.due_at, step.now):
                raise BadRequest("new_due_at must be later than the deadline's due time and than now", due_at=repo.iso(row.due_at))
            requests = await repo.extension_requests_of(step.conn, ticket_id)
            if any(r.deadline_id == row.id and r.state == "pending" for r in requests):
                raise ExtensionPending(deadline=deadline)
            values = {"deadline_id": row.id, "ticket_id": ticket_id, "requested_by": actor.id, "requested_at": step.now, "reason": reason, "new_due_at": new_due_at}
            request_id = await repo.insert_extension_request(step.conn, values)
            step.data.update(request_id=request_id, deadline=deadline, due_at=repo.iso(row.due_at), new_due_at=repo.iso(new_due_at))
        return request_id

    async def approve_extension(self, actor: User, ticket_id: int, request_id: int, reason: str | None = None) -> None:
        """The deadline moves, and only now."""
        async with self._acting(actor, ticket_id, A.APPROVE_EXTENSION, "extension_approved", reason, may=_supervisor) as step:
            request, row = await self._decide(step, request_id, "approved")
            await step.book.extend(row.kind, request.new_due_at, step.now)

    async def reject_extension(self, actor: User, ticket_id: int, request_id: int, reason: str | None = None) -> None:
        async with self._acting(actor, ticket_id, A.REJECT_EXTENSION, "extension_rejected", reason, may=_supervisor) as step:
            await self._decide(step, request_id, "rejected")

    async def _decide(self, step: _Step, request_id: int, decision: str) -> tuple[repo.ExtensionRequest, repo.Deadline]:
        requests = {r.id: r for r in await repo.extension_requests_of(step.conn, step.ticket.id)}
        request = requests.get(request_id)
        if request is None:
            raise NotFound("no such extension request on this ticket", request_id=request_id)
        row = next(r for r in step.book.rows.values() if r.id == request.deadline_id)
        if decision == "approved" and not row.open:
            raise DeadlineNotOpen(deadline=row.kind)
        values = {"state": decision, "decided_by": step.actor.id, "decided_at": step.now, "decision_reason": step.reason}
        if request.state != "pending" or not await repo.decide_extension(step.conn, request_id, values):
            raise ExtensionDecided(request_id=request_id, state=request.state)
        step.data.update(request_id=request_id, deadline=row.kind, due_at=repo.iso(row.due_at), new_due_at=repo.iso(request.new_due_at))
        return request, row

    async def _follow_plan(self, step: _Step, *, forwarded_now: bool = False) -> None:
        """Recompute the ticket's deadlines from what it is now (its changes included)."""
        first, last = await repo.forward_times(step.conn, step.ticket.id)
        if forwarded_now:
            first, last = first or step.now, step.now
        facts = facts_of({**asdict(step.ticket), **step.changes}, first_forwarded_at=first, forwarded_at=last)
        step.changes["follow_up_needed"] = needs_follow_up(facts, policy=self.policy)
        await step.book.follow(self.plan(facts), step.now)

    @asynccontextmanager
    async def _acting(
        self, actor: User, ticket_id: int, action: TicketAction, kind: str, reason: str | None, *, may: Check = may_work_on
    ) -> AsyncIterator[_Step]:
        """Lock, authorise, check the transition, let the action work, then store the
        ticket's new state and its timeline line; publish once committed."""
        now = self.clock.now()
        async with write_transaction(self.engine) as conn:
            if not await repo.touch(conn, ticket_id, now) or (ticket := await repo.ticket(conn, ticket_id)) is None:
                raise NotFound("no such ticket", id=ticket_id)
            await may(conn, actor, ticket)
            status = transition(TicketStatus(ticket.status), action)
            book = await DeadlineBook.load(conn, ticket_id, self.policy, self.escalate_every)
            step = _Step(conn, ticket, actor, now, book, reason)
            yield step
            await repo.change_ticket(conn, ticket_id, {"status": status.value, **step.changes})
            data = {**step.data, **({"deadlines": book.changes} if book.changes else {})}
            await repo.record(conn, ticket_id, kind, now, actor.id, step.reason, data)
        await self.bus.publish(TicketChanged(ticket_id, ticket.number, now, kind, actor.id, status.value))

"""The ticket's life: forward, acknowledge, reply, resolve, follow up, close; each recorded
with who, when and why, its deadlines met or cancelled, and illegal steps refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from hotline.errors import BadRequest
from hotline.tickets.errors import FollowUpRequired
from hotline.tickets.events import TicketChanged
from hotline.tickets.lifecycle import IllegalTransition
from hotline.tickets.standard import Area, Category, FaultKind, InstallKind
from hotline.tickets.tables import deadlines, ticket_events

from .conftest import START, Desk

MIN = timedelta(minutes=1)


async def test_a_complaint_goes_the_whole_way_and_every_step_is_on_record(desk: Desk) -> None:
    svc, p = desk.service, desk.people
    ticket_id = await desk.open(category=Category.COMPLAINT)
    desk.clock.advance(6 * MIN)
    await svc.forward(p["小王"], ticket_id, "维修部", "需上门检修")
    desk.clock.advance(2 * MIN)
    await svc.acknowledge(p["维修员"], ticket_id)
    desk.clock.advance(10 * MIN)
    await svc.reply(p["小王"], ticket_id, "已告知客户明天上门")
    desk.clock.advance(3 * 60 * MIN)
    await svc.resolve(p["维修员"], ticket_id, "已更换分支器")
    desk.clock.advance(60 * MIN)
    await svc.start_follow_up(p["小王"], ticket_id, "客户满意")
    await svc.close(p["小王"], ticket_id)

    ticket = await desk.ticket(ticket_id)
    assert (ticket.status, ticket.department_id, ticket.closed_at) == ("closed", desk.department_ids["维修部"], desk.clock.now())
    assert await desk.timeline(ticket_id) == [
        ("opened", desk.id_of("小王"), None),
        ("forwarded", desk.id_of("小王"), "需上门检修"),
        ("acknowledged", desk.id_of("维修员"), None),
        ("replied", desk.id_of("小王"), "已告知客户明天上门"),
        ("resolved", desk.id_of("维修员"), "已更换分支器"),
        ("followed_up", desk.id_of("小王"), "客户满意"),
        ("closed", desk.id_of("小王"), None),
    ]
    met = {kind: (row.state, row.met_at - row.started_at) for kind, row in (await desk.deadlines(ticket_id)).items()}
    assert met == {
        "forward": ("met", 6 * MIN),
        "acknowledge": ("met", 2 * MIN),
        "reply": ("met", 18 * MIN),
        "follow_up": ("met", 60 * MIN),
    }
    changes = [(e.kind, e.status) for e in desk.heard if isinstance(e, TicketChanged)]
    assert changes == [
        ("forwarded", "forwarded"),
        ("acknowledged", "acknowledged"),
        ("replied", "acknowledged"),
        ("resolved", "resolved"),
        ("followed_up", "follow_up"),
        ("closed", "closed"),
    ]


async def test_an_inquiry_resolved_on_the_spot_meets_its_reply_and_needs_no_forward(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.INQUIRY)
    desk.clock.advance(3 * MIN)

    await desk.service.resolve(desk.people["小王"], ticket_id, "已解答资费问题")
    await desk.service.close(desk.people["小王"], ticket_id)

    rows = await desk.deadlines(ticket_id)
    assert {k: r.state for k, r in rows.items()} == {"forward": "cancelled", "reply": "met"}
    assert all(r.next_fire_at is None for r in rows.values())
    [_, resolved, _] = await _events(desk, ticket_id)
    assert resolved["on_the_spot"] is True


async def test_a_late_forward_is_met_late_and_says_how_late(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.INQUIRY)
    desk.clock.advance(14 * MIN)

    await desk.service.forward(desk.people["小王"], ticket_id, desk.department_ids["营业厅"])

    forward = (await desk.service.detail(desk.people["小王"], ticket_id))["deadlines"][0]
    assert (forward["kind"], forward["state"], forward["breached"], forward["late_seconds"]) == ("forward", "met", True, 240.0)
    [_, forwarded] = await _events(desk, ticket_id)
    assert {"deadline": "forward", "change": "met", "due_at": "2026-11-25T02:10:00+00:00", "late_seconds": 240.0} in forwarded["deadlines"]


async def test_forwarding_again_restarts_the_acknowledge_clock_for_the_new_department(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.COMPLAINT)
    await desk.service.forward(desk.people["小王"], ticket_id, "营业厅")
    desk.clock.advance(20 * MIN)
    await desk.scheduler_breaches(ticket_id, "acknowledge")

    await desk.service.forward(desk.people["小王"], ticket_id, "维修部", "营业厅转错")

    acknowledge = (await desk.deadlines(ticket_id))["acknowledge"]
    assert (acknowledge.state, acknowledge.started_at, acknowledge.due_at) == ("pending", desk.clock.now(), desk.clock.now() + 5 * MIN)
    assert (acknowledge.breached_at, acknowledge.escalation_level, acknowledge.next_fire_at) == (None, 0, desk.clock.now() + 4 * MIN)
    assert (await desk.ticket(ticket_id)).department_id == desk.department_ids["维修部"]


async def test_forwarding_to_an_unknown_or_the_same_department_is_refused(desk: Desk) -> None:
    ticket_id = await desk.open()
    with pytest.raises(BadRequest):
        await desk.service.forward(desk.people["小王"], ticket_id, "财务部")
    await desk.service.forward(desk.people["小王"], ticket_id, "营业厅")
    with pytest.raises(BadRequest):
        await desk.service.forward(desk.people["小王"], ticket_id, "营业厅")


async def test_a_fault_is_acknowledged_as_the_repair_response(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.FAULT_REPORT, fault_kind=FaultKind.MAJOR)
    desk.clock.advance(4 * MIN)
    await desk.service.forward(desk.people["小王"], ticket_id, "维修部")
    desk.clock.advance(3 * MIN)

    await desk.service.acknowledge(desk.people["维修部主任"], ticket_id)

    rows = await desk.deadlines(ticket_id)
    assert {k: r.state for k, r in rows.items()} == {"forward": "met", "acknowledge": "met", "repair_respond": "met", "repair_fix": "pending"}
    desk.clock.advance(5 * 60 * MIN)
    await desk.service.resolve(desk.people["维修员"], ticket_id, "光缆熔接完成")
    rows = await desk.deadlines(ticket_id)
    assert (rows["repair_fix"].state, rows["follow_up"].due_at) == ("met", desk.clock.now() + timedelta(hours=24))


@pytest.mark.parametrize(
    "steps, then, status",
    [
        pytest.param([], "close", "open", id="an open ticket cannot be closed"),
        pytest.param([], "follow_up", "open", id="nor followed up"),
        pytest.param(["forward"], "resolve", "forwarded", id="a forwarded ticket is acknowledged before it is resolved"),
        pytest.param(["resolve"], "forward", "resolved", id="a resolved ticket is not forwarded"),
        pytest.param(["resolve", "follow_up", "close"], "note", "closed", id="a closed ticket takes nothing more"),
    ],
)
async def test_illegal_transitions_are_refused_and_change_nothing(desk: Desk, steps: list[str], then: str, status: str) -> None:
    ticket_id = await desk.open(by="小王", category=Category.COMPLAINT)
    supervisor = desk.people["值班长"]
    run = {
        "forward": lambda: desk.service.forward(supervisor, ticket_id, "维修部"),
        "resolve": lambda: desk.service.resolve(supervisor, ticket_id, "done"),
        "follow_up": lambda: desk.service.start_follow_up(supervisor, ticket_id, "ok"),
        "close": lambda: desk.service.close(supervisor, ticket_id),
        "note": lambda: desk.service.note(supervisor, ticket_id, "again"),
    }
    for step in steps:
        await run[step]()
    before = await desk.timeline(ticket_id), await desk.deadlines(ticket_id)

    with pytest.raises(IllegalTransition) as refused:
        await run[then]()

    assert refused.value.error_id == "illegal_transition"
    assert (await desk.ticket(ticket_id)).status == status
    assert (await desk.timeline(ticket_id), await desk.deadlines(ticket_id)) == before


async def test_a_ticket_followed_up_one_by_one_closes_only_after_its_follow_up(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.COMPLAINT)
    await desk.service.resolve(desk.people["小王"], ticket_id, "已道歉并退费")

    with pytest.raises(FollowUpRequired):
        await desk.service.close(desk.people["小王"], ticket_id)

    await desk.service.start_follow_up(desk.people["小王"], ticket_id, "客户认可")
    await desk.service.close(desk.people["小王"], ticket_id)
    assert (await desk.ticket(ticket_id)).status == "closed"


async def test_closing_cancels_what_is_still_running(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.INQUIRY)
    await desk.service.resolve(desk.people["小王"], ticket_id, "已解答")
    async with desk.engine.begin() as conn:  # a stray row still running, e.g. from a bug elsewhere
        await conn.execute(update(deadlines).where(deadlines.c.kind == "reply").values(state="pending", met_at=None))

    await desk.service.close(desk.people["小王"], ticket_id)

    assert {k: (r.state, r.next_fire_at) for k, r in (await desk.deadlines(ticket_id)).items()} == {"forward": ("cancelled", None), "reply": ("cancelled", None)}


async def test_classifying_moves_pending_deadlines_from_their_start(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.INQUIRY)
    desk.clock.advance(2 * MIN)

    await desk.service.classify(desk.people["小王"], ticket_id, {"category": Category.FAULT_REPORT, "fault_kind": FaultKind.GENERAL})
    rows = await desk.deadlines(ticket_id)
    assert {k: (r.state, r.due_at - START) for k, r in rows.items()} == {
        "forward": ("pending", 10 * MIN),
        "reply": ("cancelled", 30 * MIN),
        "repair_fix": ("pending", timedelta(hours=4)),
    }

    await desk.service.classify(desk.people["小王"], ticket_id, {"area": Area.RURAL}, "客户在农村")
    fix = (await desk.deadlines(ticket_id))["repair_fix"]
    assert (fix.rule, fix.started_at, fix.due_at, fix.warn_at) == ("rural.general", START, START + timedelta(hours=12), START + timedelta(hours=9, minutes=36))
    ticket = await desk.ticket(ticket_id)
    assert (ticket.category, ticket.area, ticket.follow_up_needed) == ("fault_report", "rural", True)
    [*_, classified] = await _events(desk, ticket_id)
    assert classified["changes"] == {"area": ["urban", "rural"]}


async def test_a_correction_back_revives_the_deadlines_the_first_one_cancelled(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.FAULT_REPORT)
    await desk.service.classify(desk.people["小王"], ticket_id, {"category": Category.INQUIRY})
    await desk.service.classify(desk.people["小王"], ticket_id, {"category": Category.FAULT_REPORT})

    rows = await desk.deadlines(ticket_id)
    assert {k: r.state for k, r in rows.items()} == {"forward": "pending", "repair_fix": "pending", "reply": "cancelled"}


async def test_a_breached_deadline_moved_into_the_future_runs_again(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.FAULT_REPORT)
    desk.clock.advance(7 * 60 * MIN)
    await desk.scheduler_breaches(ticket_id, "repair_fix")  # urban general: 4 h, long gone

    await desk.service.classify(desk.people["值班长"], ticket_id, {"area": Area.SUBURBAN})

    # Suburban: 8 h. Its warning (6 h 24 min) has passed and one was given: kept, not repeated.
    fix = (await desk.deadlines(ticket_id))["repair_fix"]
    assert (fix.state, fix.warned_at, fix.breached_at, fix.escalation_level) == ("pending", START + timedelta(hours=3, minutes=12), None, 0)
    assert fix.next_fire_at == START + timedelta(hours=8)


async def test_a_deadline_moved_before_its_new_warning_warns_again(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.FAULT_REPORT)
    desk.clock.advance(5 * 60 * MIN)
    await desk.scheduler_breaches(ticket_id, "repair_fix")

    await desk.service.classify(desk.people["值班长"], ticket_id, {"area": Area.SUBURBAN})

    fix = (await desk.deadlines(ticket_id))["repair_fix"]
    assert (fix.state, fix.warned_at, fix.breached_at, fix.next_fire_at) == ("pending", None, None, START + timedelta(hours=6, minutes=24))


async def test_an_installation_starts_on_dispatch_and_is_followed_up(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.BUSINESS, install_kind=InstallKind.INDIVIDUAL)
    assert {k: (r.rule, r.due_at) for k, r in (await desk.deadlines(ticket_id)).items()} == {"forward": ("hall_dispatch", START.replace(hour=17, minute=30))}

    await desk.service.forward(desk.people["小王"], ticket_id, "维修部")

    installation = (await desk.deadlines(ticket_id))["installation"]
    assert installation.due_at == START.replace(day=28, hour=0, minute=0)  # 3 days counting the dispatch day
    assert (await desk.ticket(ticket_id)).follow_up_needed


async def test_a_deadline_write_never_overwrites_a_claim_made_after_it_read_the_row(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.INQUIRY)
    reply = (await desk.deadlines(ticket_id))["reply"]
    claimed: list[str] = []

    def scheduler_claims_first(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        # The scheduler's claim commits between our read of the row and our write to it.
        if statement.startswith("UPDATE deadlines") and not claimed:
            claimed.append(statement)
            cursor.execute(f"UPDATE deadlines SET version = version + 1, escalation_level = 1 WHERE id = {reply.id}")

    event.listen(desk.engine.sync_engine, "before_cursor_execute", scheduler_claims_first)
    try:
        await desk.service.reply(desk.people["小王"], ticket_id, "已答复")
    finally:
        event.remove(desk.engine.sync_engine, "before_cursor_execute", scheduler_claims_first)

    after = (await desk.deadlines(ticket_id))["reply"]
    assert claimed
    assert (after.state, after.escalation_level, after.version) == ("met", 1, 2)  # the claim's change kept, ours on top


async def _events(desk: Desk, ticket_id: int) -> list[dict]:  # type: ignore[type-arg]
    """The data of each line of the ticket's timeline."""
    async with desk.engine.connect() as conn:
        query = select(ticket_events.c.data).where(ticket_events.c.ticket_id == ticket_id).order_by(ticket_events.c.id)
        return list((await conn.execute(query)).scalars())

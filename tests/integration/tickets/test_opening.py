"""Every answered call opens a ticket owned by the agent who answered, with the caller's tier
and area; a repeat caller is linked to their open ticket; numbers are unique per day."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from hotline.ami.framing import AmiFramer
from hotline.ami.tracker import CallTracker
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.db.tables import users
from hotline.events import CallAnswered, CallArrived, CallerIdentified
from hotline.metrics import Metrics
from hotline.routing.customers import CustomerDraft, PhoneNumber
from hotline.testing.transcripts import TRACES_DIR
from hotline.tickets.events import CallLinkedToTicket, TicketOpened
from hotline.tickets.standard import Category
from hotline.tickets.tables import ticket_calls

from .conftest import Desk
from tests.unit.tickets.moments import at

CALL = "1795532957.0"  # answered-regular: Zhang San 13912345678, agent-8001 on Local/8001@agents/n
ANSWERED = at("2026-11-24 23:09:17.797369")  # its AgentConnect, on the Bazhong clock


def messages(name: str) -> list[dict[str, str]]:
    return [f for f in AmiFramer().feed((TRACES_DIR / f"{name}.ami").read_bytes()) if isinstance(f, dict)]


async def capture(desk: Desk, name: str = "answered-regular") -> None:
    """The real capture path: AMI messages -> tracker -> stored calls -> the bus."""
    await CallCapture(CallTracker({"96655"}), CallStore(desk.engine), desk.bus, Metrics()).handle(messages(name))  # type: ignore[arg-type]


async def another_call(desk: Desk, call_id: str, number: str, answered: timedelta) -> None:
    """A later call from `number`, stored and answered by agent-8002."""
    moment = ANSWERED + answered
    events = [
        CallArrived(call_id, moment - timedelta(seconds=20), None, None, f"PJSIP/trunk-{call_id}"),
        CallerIdentified(call_id, moment - timedelta(seconds=20), number, None),
    ]
    await CallStore(desk.engine).record(events)
    answer = CallAnswered(call_id, moment, "hotline", "agent-8002", "PJSIP/8002", 5.0)
    await CallStore(desk.engine).record([answer])
    await desk.bus.publish(answer)


async def add_vip(desk: Desk) -> None:
    await desk.directory.create(CustomerDraft("张三", "vip", "suburban", [PhoneNumber("139 1234 5678")]))


async def test_an_answered_call_opens_a_ticket_owned_by_the_agent_who_answered(desk: Desk) -> None:
    await add_vip(desk)

    await capture(desk)

    [opened] = [e for e in desk.heard if isinstance(e, TicketOpened)]
    ticket = await desk.ticket(opened.ticket_id)
    assert (ticket.owner_user_id, ticket.call_id, opened.call_id) == (desk.id_of("小王"), CALL, CALL)
    assert (ticket.number, ticket.status, ticket.source, ticket.category) == ("T-20261124-0001", "open", "call", "inquiry")
    assert (ticket.tier, ticket.area, ticket.caller_number, ticket.caller_name) == ("vip", "suburban", "+8613912345678", "张三")
    assert ticket.opened_at == ANSWERED
    found = await desk.deadlines(ticket.id)
    assert {kind: row.due_at for kind, row in found.items()} == {"forward": ANSWERED + timedelta(minutes=10), "reply": ANSWERED + timedelta(minutes=30)}
    assert await desk.timeline(ticket.id) == [("opened", desk.id_of("小王"), None)]


async def test_the_same_answer_delivered_twice_opens_one_ticket(desk: Desk) -> None:
    await capture(desk)
    await capture(desk)
    await desk.service.open_for_call(CALL, answered_at=ANSWERED, agent="agent-8001", interface="Local/8001@agents/n")

    assert await desk.count_tickets() == 1
    assert len([e for e in desk.heard if isinstance(e, TicketOpened)]) == 1


async def test_a_queue_member_without_an_extension_match_is_found_by_name(desk: Desk) -> None:
    async with desk.engine.begin() as conn:
        await conn.execute(update(users).where(users.c.name == "小王").values(extension=None, name="agent-8001"))

    await capture(desk)

    [opened] = [e for e in desk.heard if isinstance(e, TicketOpened)]
    assert opened.owner_user_id == desk.id_of("小王")


async def test_an_agent_nobody_knows_leaves_the_ticket_without_owner_for_supervisors(desk: Desk) -> None:
    async with desk.engine.begin() as conn:
        await conn.execute(update(users).values(extension=None))

    await capture(desk)

    [opened] = [e for e in desk.heard if isinstance(e, TicketOpened)]
    assert opened.owner_user_id is None
    assert (await desk.service.detail(desk.people["值班长"], opened.ticket_id))["owner"] is None


async def test_a_repeat_caller_is_linked_to_the_open_ticket_not_given_a_second(desk: Desk) -> None:
    await add_vip(desk)
    await capture(desk)
    [opened] = [e for e in desk.heard if isinstance(e, TicketOpened)]

    await another_call(desk, "1795533000.5", "+86 139-1234-5678", timedelta(minutes=40))

    assert await desk.count_tickets() == 1
    [linked] = [e for e in desk.heard if isinstance(e, CallLinkedToTicket)]
    assert (linked.ticket_id, linked.call_id) == (opened.ticket_id, "1795533000.5")
    async with desk.engine.connect() as conn:
        linked_calls = (await conn.execute(select(ticket_calls.c.call_id).where(ticket_calls.c.ticket_id == opened.ticket_id).order_by(ticket_calls.c.linked_at))).scalars().all()
    assert linked_calls == [CALL, "1795533000.5"]
    assert [kind for kind, _, _ in await desk.timeline(opened.ticket_id)] == ["opened", "call_linked"]


async def test_a_caller_whose_ticket_is_resolved_gets_a_new_ticket(desk: Desk) -> None:
    await capture(desk)
    [opened] = [e for e in desk.heard if isinstance(e, TicketOpened)]
    await desk.service.resolve(desk.people["小王"], opened.ticket_id, "已解答")

    await another_call(desk, "1795533000.5", "13912345678", timedelta(hours=2))

    assert await desk.count_tickets() == 2
    second = [e for e in desk.heard if isinstance(e, TicketOpened)][-1]
    assert (second.number, second.owner_user_id) == ("T-20261125-0001", desk.id_of("小李"))  # 01:09 the next Bazhong day


async def test_calls_answered_while_no_subscriber_ran_get_their_ticket_at_start(desk: Desk) -> None:
    desk.bus.handlers.pop(CallAnswered)  # as if the service died between storing and opening
    await capture(desk)
    assert await desk.count_tickets() == 0

    assert await desk.service.open_for_answered_calls(ANSWERED - timedelta(hours=1)) == 1
    assert await desk.service.open_for_answered_calls(ANSWERED - timedelta(hours=1)) == 0
    assert (await desk.ticket(1)).owner_user_id == desk.id_of("小王")


async def test_ticket_numbers_stay_unique_when_opened_at_once(desk: Desk) -> None:
    opened = await asyncio.gather(*(desk.open(by="小王", category=Category.INQUIRY) for _ in range(8)))

    numbers = sorted([(await desk.ticket(ticket_id)).number for ticket_id in opened])
    assert numbers == [f"T-20261125-{n:04d}" for n in range(1, 9)]


async def test_a_letter_opened_by_hand_is_owned_by_who_took_it_and_is_followed_up(desk: Desk) -> None:
    ticket_id = await desk.open(by="小李", category=Category.INQUIRY, source="letter", caller_name="刘先生")

    ticket = await desk.ticket(ticket_id)
    assert (ticket.owner_user_id, ticket.source, ticket.follow_up_needed, ticket.caller_name) == (desk.id_of("小李"), "letter", True, "刘先生")
    assert (ticket.tier, ticket.area) == ("regular", "urban")
    assert ticket.opened_at == desk.clock.now()
    assert isinstance(desk.heard[-1], TicketOpened) and desk.heard[-1].call_id is None

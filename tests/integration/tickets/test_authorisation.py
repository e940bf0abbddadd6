"""Who may act on a ticket: agents on their own, department staff on their department's,
supervisors and admins on all; lists show each only what they may act on."""

from __future__ import annotations

import pytest

from hotline.tickets.errors import Forbidden
from hotline.tickets.standard import Category, Tier
from hotline.tickets.views import TicketFilter

from .conftest import Desk


async def test_an_agent_cannot_act_on_or_read_someone_elses_ticket(desk: Desk) -> None:
    ticket_id = await desk.open(by="小王")
    other = desk.people["小李"]
    before = await desk.timeline(ticket_id)

    for attempt in (
        desk.service.note(other, ticket_id, "我来"),
        desk.service.forward(other, ticket_id, "维修部"),
        desk.service.resolve(other, ticket_id, "done"),
        desk.service.classify(other, ticket_id, {"tier": Tier.VIP}),
        desk.service.detail(other, ticket_id),
    ):
        with pytest.raises(Forbidden) as refused:
            await attempt
        assert refused.value.error_id == "forbidden"
    assert await desk.timeline(ticket_id) == before


async def test_department_staff_act_on_their_departments_tickets_only(desk: Desk) -> None:
    ticket_id = await desk.open(by="小王")
    await desk.service.forward(desk.people["小王"], ticket_id, "维修部")

    with pytest.raises(Forbidden):
        await desk.service.acknowledge(desk.people["营业员"], ticket_id)
    with pytest.raises(Forbidden):
        await desk.service.note(desk.people["营业员"], ticket_id, "不归我们")
    with pytest.raises(Forbidden):  # the owner forwarded it, but acknowledging is the department's
        await desk.service.acknowledge(desk.people["小王"], ticket_id)

    await desk.service.acknowledge(desk.people["维修员"], ticket_id)
    await desk.service.resolve(desk.people["维修部主任"], ticket_id, "已修复")
    assert (await desk.ticket(ticket_id)).status == "resolved"


async def test_supervisors_and_admins_act_on_every_ticket(desk: Desk) -> None:
    ticket_id = await desk.open(by="小王", category=Category.INQUIRY)

    await desk.service.note(desk.people["管理员"], ticket_id, "已抽查")
    await desk.service.resolve(desk.people["值班长"], ticket_id, "值班长代为答复")

    assert (await desk.ticket(ticket_id)).status == "resolved"


async def test_each_role_lists_only_the_tickets_it_may_act_on(desk: Desk) -> None:
    wang = await desk.open(by="小王")
    li = await desk.open(by="小李")
    repair = await desk.open(by="小李")
    await desk.service.forward(desk.people["小李"], repair, "维修部")

    async def listed(name: str, **wanted) -> list[int]:  # type: ignore[no-untyped-def]
        page, total = await desk.service.list_tickets(desk.people[name], TicketFilter(**wanted))
        assert total == len(page)
        return sorted(t["id"] for t in page)

    assert await listed("小王") == [wang]
    assert await listed("小李") == [li, repair]
    assert await listed("维修员") == [repair]
    assert await listed("营业员") == []
    assert await listed("值班长") == [wang, li, repair]
    assert await listed("值班长", owner_user_id=desk.id_of("小李")) == [li, repair]
    assert await listed("维修员", owner_user_id=desk.id_of("小王")) == []  # filters narrow, never widen


async def test_only_supervisors_read_the_sla_report(desk: Desk) -> None:
    from datetime import date

    with pytest.raises(Forbidden):
        await desk.service.sla_report(desk.people["维修部主任"], first=date(2026, 11, 1), last=date(2026, 11, 30), group="department")

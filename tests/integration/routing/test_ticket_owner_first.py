"""First-responder continuity: the lookup names the owner of the caller's open ticket."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.routing.customers import CustomerDraft, PhoneNumber
from hotline.routing.directory import CustomerDirectory
from hotline.tickets.tables import tickets
from hotline.users.store import UserStore


async def test_the_owner_of_an_open_ticket_is_named_until_it_is_resolved(engine: AsyncEngine) -> None:
    directory = CustomerDirectory(engine)
    owner, _ = await UserStore(engine).add("坐席甲", "agent", extension="8001")
    await directory.create(CustomerDraft(name="张三", tier="regular", area="urban", numbers=[PhoneNumber("13912345678")]))
    assert (await directory.lookup("13912345678")).open_ticket_owner_extension is None  # type: ignore[union-attr]
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(tickets).values(
                number="T-20261125-0001", status="open", source="call", category="inquiry", tier="regular", area="urban",
                caller_number="+8613912345678", owner_user_id=owner.id, summary="", opened_at=now, updated_at=now, follow_up_needed=False,
            )
        )
        ticket_id = result.inserted_primary_key[0]
    assert (await directory.lookup("139 1234 5678")).open_ticket_owner_extension == "8001"  # type: ignore[union-attr]
    async with engine.begin() as conn:
        await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(status="resolved", resolved_at=now))
    assert (await directory.lookup("13912345678")).open_ticket_owner_extension is None  # type: ignore[union-attr]
    await directory.aclose()

"""The demo's people at work, through the same use cases as the console: an agent who
answered a call files about half of its tickets as fault reports and forwards them to 维修部
a little later; the department takes most of them (响应), some too late, so the standard's
acknowledgement timer warns, breaches and escalates; the rest of the tickets stay with the
agent, whose 10-minute forward deadline runs out the same way. Everything it does is on
the tickets' timelines like anyone's action."""

from __future__ import annotations

import asyncio
import random

import structlog

from hotline.errors import HotlineError
from hotline.events import EventBus
from hotline.tickets.events import TicketOpened
from hotline.tickets.service import TicketService
from hotline.tickets.standard import Category
from hotline.users.store import UserStore

log = structlog.get_logger(__name__)

REPAIRS, REPAIRS_HEAD = "维修部", "维修员"


class DemoDesk:
    def __init__(self, tickets: TicketService, users: UserStore, *, think: float = 3.0) -> None:
        self.tickets, self.users, self.think = tickets, users, think
        self._work: set[asyncio.Task[None]] = set()

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(TicketOpened, self.on_opened)

    async def on_opened(self, event: TicketOpened) -> None:
        if event.owner_user_id is None or random.random() < 0.5:
            return  # stays with the agent
        task = asyncio.create_task(self._forward(event.ticket_id, event.owner_user_id))
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _forward(self, ticket_id: int, owner_id: int) -> None:
        try:
            await asyncio.sleep(self.think * random.uniform(0.5, 1.5))
            owner = await self.users.get(owner_id)
            head = await self.users.by_name(REPAIRS_HEAD)
            if owner is None or head is None:
                return
            await self.tickets.classify(owner, ticket_id, {"category": Category.FAULT_REPORT})
            await self.tickets.forward(owner, ticket_id, REPAIRS, "演示：报修，转维修部")
            if random.random() < 0.7:
                await asyncio.sleep(self.think * random.uniform(0.5, 2.0))
                await self.tickets.acknowledge(head, ticket_id, "演示：维修部已受理")
        except HotlineError as exc:  # a person did something to it meanwhile: theirs stands
            log.info("demo.desk_skipped", ticket=ticket_id, error=exc.error_id)

    async def aclose(self) -> None:
        for task in self._work:
            task.cancel()
        await asyncio.gather(*self._work, return_exceptions=True)

"""Requests that need the AMI connection, asked on an instance that does not own it, are done
by the owner over the relay (PostgreSQL NOTIFY) and answered back: the result as the owner
gave it, the owner's error with its error_id, the asking user read again on the owner; with
no owner (a takeover under way) or no answer in time, OwnerUnreachable, and nothing done."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from hotline.cluster.codec import EventCodec
from hotline.cluster.forward import AtTheOwner, Forwarded, OwnerUnreachable
from hotline.cluster.relay import EventRelay, asyncpg_dsn
from hotline.errors import NotFound
from hotline.metrics import Metrics
from hotline.users.store import Role, User

SUPERVISOR = User(5, "班长", Role.SUPERVISOR, "8100")
AT = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)


@dataclasses.dataclass
class Instance:
    name: str
    relay: EventRelay
    at_owner: AtTheOwner
    done: list[tuple[str, int, dict[str, Any]]]
    owner: bool = False


@pytest.fixture
async def instances(db_url: str) -> AsyncIterator[dict[str, Instance]]:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite runs one instance: nothing to forward")
    state = {"someone_owns": True, "users": {SUPERVISOR.id: SUPERVISOR}}
    made: dict[str, Instance] = {}
    stop = asyncio.Event()
    for name in ("a", "b"):
        relay = EventRelay(asyncpg_dsn(db_url), name, EventCodec(()), Metrics(), channel="test_forward_events")

        async def someone_owns() -> bool:
            return bool(state["someone_owns"])

        async def user(user_id: int) -> User | None:
            return state["users"].get(user_id)  # type: ignore[no-any-return, attr-defined]

        made[name] = instance = Instance(name, relay, None, [])  # type: ignore[arg-type]
        instance.at_owner = AtTheOwner(relay, name, is_owner=lambda i=instance: i.owner, someone_owns=someone_owns, user=user, metrics=relay.metrics, timeout=0.5)

        async def pause(actor: User, args: dict[str, Any], i: Instance = instance) -> dict[str, Any]:
            i.done.append(("pause", actor.id, args))
            return {"action": "pause", "by": actor.name, "at": AT, "answers": [{"Queue": "hotline", "Response": "Success"}]}

        async def refuse(actor: User, args: dict[str, Any], i: Instance = instance) -> dict[str, Any]:
            i.done.append(("refuse", actor.id, args))
            raise NotFound("no agent 8999 on the floor", extension="8999")

        instance.at_owner.expose("floor.pause", pause)
        instance.at_owner.expose("floor.refuse", refuse)
    tasks = [asyncio.create_task(i.relay.run(stop)) for i in made.values()]
    for instance in made.values():
        await asyncio.wait_for(instance.relay.listening.wait(), 5)
    made["a"].owner = True
    made["state"] = state  # type: ignore[assignment]
    yield made
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)


async def test_a_request_on_an_instance_without_ami_is_done_by_the_owner_and_answered(instances: dict[str, Instance]) -> None:
    a, b = instances["a"], instances["b"]
    answer = await b.at_owner.call("floor.pause", SUPERVISOR, {"reason": "小休"})
    assert answer == {"action": "pause", "by": "班长", "at": AT.isoformat(), "answers": [{"Queue": "hotline", "Response": "Success"}]}
    assert a.done == [("pause", SUPERVISOR.id, {"reason": "小休"})] and b.done == []
    assert a.relay.metrics.counters["hotline_owner_requests_served_total"] == 1


async def test_on_the_owner_it_is_done_there_without_the_relay(instances: dict[str, Instance]) -> None:
    a, b = instances["a"], instances["b"]
    answer = await a.at_owner.call("floor.pause", SUPERVISOR, {"reason": "小休"})
    assert answer["at"] == AT  # not through JSON
    assert a.done == [("pause", SUPERVISOR.id, {"reason": "小休"})] and b.done == []
    assert a.relay.metrics.counters["hotline_owner_requests_sent_total"] == 0


async def test_the_owners_error_comes_back_with_its_id_and_details(instances: dict[str, Instance]) -> None:
    with pytest.raises(Forwarded) as refused:
        await instances["b"].at_owner.call("floor.refuse", SUPERVISOR, {})
    assert refused.value.error_id == "not_found" and refused.value.details == {"extension": "8999"} and "8999" in str(refused.value)


async def test_a_user_no_longer_active_on_the_owner_is_refused_there(instances: dict[str, Instance]) -> None:
    instances["state"]["users"] = {SUPERVISOR.id: dataclasses.replace(SUPERVISOR, disabled=True)}  # type: ignore[index]
    with pytest.raises(Forwarded, match="no longer active"):
        await instances["b"].at_owner.call("floor.pause", SUPERVISOR, {"reason": "小休"})
    assert instances["a"].done == []


async def test_with_no_owner_it_is_refused_at_once_and_nothing_is_sent(instances: dict[str, Instance]) -> None:
    instances["state"]["someone_owns"] = False  # type: ignore[index]
    instances["a"].owner = False
    started = asyncio.get_running_loop().time()
    with pytest.raises(OwnerUnreachable):
        await instances["b"].at_owner.call("floor.pause", SUPERVISOR, {"reason": "小休"})
    assert asyncio.get_running_loop().time() - started < 0.4  # not the 0.5 s timeout
    assert instances["b"].relay.metrics.counters["hotline_owner_requests_sent_total"] == 0


async def test_an_owner_that_does_not_answer_in_time_is_unreachable(instances: dict[str, Instance]) -> None:
    instances["a"].owner = False  # the lease says someone holds it, but nobody serves (dying owner)
    with pytest.raises(OwnerUnreachable):
        await instances["b"].at_owner.call("floor.pause", SUPERVISOR, {"reason": "小休"})
    assert instances["a"].done == [] and instances["b"].relay.metrics.counters["hotline_owner_requests_unanswered_total"] == 1

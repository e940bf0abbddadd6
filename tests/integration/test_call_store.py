"""Storing call events on SQLite and PostgreSQL: once each, with the call they add up to."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.calls.store import CallStore
from hotline.db.tables import call_events
from hotline.testing.replay import replay
from hotline.testing.transcripts import TRACES_DIR


def _events(name: str):  # type: ignore[no-untyped-def]
    return replay([(TRACES_DIR / f"{name}.ami").read_bytes()])[0]


async def _count_events(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(call_events))).scalar_one())


async def test_stored_calls_come_back_newest_first_with_their_timeline(engine: AsyncEngine) -> None:
    store = CallStore(engine)
    await store.record(_events("answered-regular"))
    await store.record(_events("chinese-names"))
    calls = await store.list_calls()
    assert [c["caller_name"] for c in calls] == ["李四（巴中分公司）", "张三", "Zhang San"]
    detail = await store.get_call(calls[0]["id"])
    assert detail is not None
    assert [step["kind"] for step in detail["timeline"]][:2] == ["arrived", "caller_identified"]
    assert detail["timeline"][-1]["kind"] == "ended"
    assert detail["arrived_at"].utcoffset() is not None


async def test_storing_the_same_events_twice_doubles_nothing(engine: AsyncEngine) -> None:
    events = _events("answered-vip")
    first = CallStore(engine)
    await first.record(events)
    stored = await _count_events(engine)
    await CallStore(engine).record(events)  # a restarted service replaying the same stream
    assert await _count_events(engine) == stored
    assert len(await first.list_calls()) == 1


async def test_filters_by_state_and_outcome(engine: AsyncEngine) -> None:
    store = CallStore(engine)
    await store.record(_events("abandoned-in-queue") + _events("answered-regular"))
    assert [c["caller_number"] for c in await store.list_calls(outcome="abandoned")] == ["08275551234"]
    assert await store.list_calls(state="talking") == []
    assert len(await store.list_calls(limit=1)) == 1


async def test_live_calls_are_loaded_back_for_the_tracker(engine: AsyncEngine) -> None:
    events = _events("answered-regular")
    answered = next(i for i, e in enumerate(events) if e.kind == "answered")
    await CallStore(engine).record(events[: answered + 1])
    live = await CallStore(engine).load_live()
    assert [(c.caller_number, c.answered, c.agent) for c in live] == [("13912345678", True, "agent-8001")]


async def test_queue_counters_are_stored_with_the_events_and_loaded_back(engine: AsyncEngine) -> None:
    events = _events("answered-regular")
    store = CallStore(engine)
    await store.record(events[:3], {"hotline": (7, 2), "vip": (1, 0)})
    await store.record([], {"hotline": (8, 2), "vip": (1, 0)})  # only the counters moved
    assert await CallStore(engine).load_counters() == {"hotline": (8, 2), "vip": (1, 0)}


async def test_counters_are_not_stored_when_the_events_are_refused(engine: AsyncEngine) -> None:
    class Refused(Exception):
        pass

    async def fence(_conn: object) -> None:
        raise Refused

    store = CallStore(engine)
    await store.record(_events("answered-regular")[:2], {"hotline": (7, 2)})
    store.fence = fence  # type: ignore[assignment]
    try:
        await store.record(_events("answered-regular")[2:4], {"hotline": (9, 3)})
    except Refused:
        pass
    else:
        raise AssertionError("the fence did not refuse the batch")
    assert await CallStore(engine).load_counters() == {"hotline": (7, 2)}

"""Callers who were lost are owed a callback: the real transcripts go through the capture,
the stored CallEnded and CallAnswered events reach LostCallers on the bus."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.framing import AmiFramer
from hotline.ami.tracker import CallTracker
from hotline.callbacks.model import CallbackKind, Mode
from hotline.callbacks.owed import LostCallers, LostCallPolicy, dialled
from hotline.callbacks.tables import callbacks
from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.clock import FakeClock
from hotline.events import EventBus
from hotline.metrics import Metrics
from hotline.routing.numbers import BadNumber
from hotline.testing.transcripts import TRACES_DIR
from tests.unit.tickets.moments import at

ABANDONED_NUMBER = "08275551234"  # Wang Wu in abandoned-in-queue
ANSWERED_NUMBER = "13912345678"  # Zhang San in answered-regular


def messages(name: str, *, renumber: dict[str, str] | None = None, suffix: str = "") -> list[dict[str, str]]:
    """A transcript's messages; `renumber` swaps whole header values (a caller's number),
    `suffix` makes every Uniqueid and Linkedid new (another call of the same shape)."""
    found = [f for f in AmiFramer().feed((TRACES_DIR / f"{name}.ami").read_bytes()) if isinstance(f, dict)]
    swapped = []
    for message in found:
        changed = {k: (renumber or {}).get(v, v) for k, v in message.items()}
        for key in ("Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid"):
            if key in changed and suffix:
                changed[key] += suffix
        swapped.append(changed)
    return swapped


class Floor:
    def __init__(self, engine: AsyncEngine, *, working_hours: bool = True) -> None:
        self.engine = engine
        self.clock = FakeClock(at("2026-11-25 10:00"))
        self.working_hours = working_hours
        bus = EventBus()
        self.store = CallStore(engine)
        self.lost = LostCallers(engine, self.store, self.clock, LostCallPolicy(Mode.AGENT_FIRST, 3, "0827"), in_working_hours=lambda _: self.working_hours)
        self.lost.subscribe(bus)
        self.capture = CallCapture(CallTracker({"96655"}), self.store, bus, Metrics())

    async def play(self, name: str, **changes: Any) -> None:
        await self.capture.handle(messages(name, **changes))  # type: ignore[arg-type]

    async def owed(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(callbacks).order_by(callbacks.c.id))).mappings()]


async def test_a_caller_who_hung_up_in_the_queue_is_owed_one_agent_first_callback(engine: AsyncEngine) -> None:
    floor = Floor(engine)
    await floor.play("abandoned-in-queue")
    [owed] = await floor.owed()
    assert (owed["kind"], owed["mode"], owed["number"], owed["state"], owed["tier"]) == ("abandoned", "agent_first", ABANDONED_NUMBER, "scheduled", "regular")
    assert owed["call_id"] and owed["open_key"] == ABANDONED_NUMBER


async def test_an_answered_call_owes_nothing(engine: AsyncEngine) -> None:
    floor = Floor(engine, working_hours=False)
    await floor.play("answered-regular")
    assert await floor.owed() == []


async def test_one_open_callback_per_number_however_often_they_give_up(engine: AsyncEngine) -> None:
    floor = Floor(engine)
    for suffix in ("", "-2", "-3"):
        await floor.play("abandoned-in-queue", suffix=suffix)
    assert len(await floor.owed()) == 1


async def test_a_second_lost_call_as_a_vip_raises_the_open_callbacks_priority(engine: AsyncEngine) -> None:
    floor = Floor(engine)
    first = await floor.lost.owe(CallbackKind.ABANDONED, ANSWERED_NUMBER, "regular", call_id="c1", at=floor.clock.now())
    again = await floor.lost.owe(CallbackKind.ABANDONED, ANSWERED_NUMBER, "vip", call_id="c2", at=floor.clock.now())
    [row] = await floor.owed()
    assert first == row["id"] and again is None
    assert (row["tier"], row["priority"]) == ("vip", 311)


async def test_the_caller_ringing_again_and_being_answered_cancels_it(engine: AsyncEngine) -> None:
    floor = Floor(engine)
    await floor.play("abandoned-in-queue")
    await floor.play("answered-regular", renumber={ANSWERED_NUMBER: ABANDONED_NUMBER})
    [row] = await floor.owed()
    assert (row["state"], row["open_key"]) == ("cancelled", None)
    assert "rang again and was answered" in row["note"]
    # Lost again later: a new callback is owed (the cancelled one no longer holds the number).
    await floor.play("abandoned-in-queue", suffix="-later")
    assert [r["state"] for r in await floor.owed()] == ["cancelled", "scheduled"]


async def test_another_numbers_answered_call_cancels_nothing(engine: AsyncEngine) -> None:
    floor = Floor(engine)
    await floor.play("abandoned-in-queue")
    await floor.play("answered-regular")
    assert [r["state"] for r in await floor.owed()] == ["scheduled"]


async def test_a_call_that_ended_unanswered_after_hours_is_owed_an_after_hours_callback(engine: AsyncEngine) -> None:
    """孙八 left the queue by its exit key (timeout, not abandoned); 钱七 was answered."""
    floor = Floor(engine, working_hours=False)
    await floor.play("keep-place")
    [row] = await floor.owed()
    assert (row["kind"], row["number"]) == ("after_hours", "13900000202")


async def test_the_same_call_in_working_hours_owes_nothing(engine: AsyncEngine) -> None:
    floor = Floor(engine, working_hours=True)
    await floor.play("keep-place")
    assert await floor.owed() == []


@pytest.mark.parametrize(
    ("caller", "digits"),
    [("+8613912345678", "13912345678"), ("13912345678", "13912345678"), ("5551234", "08275551234"), ("08275551234", "08275551234"), ("+12025550123", "0012025550123")],
)
def test_the_number_dialled_back(caller: str, digits: str) -> None:
    assert dialled(caller, "0827") == digits


@pytest.mark.parametrize("caller", ["8001", "abc", "110"])
def test_no_callback_to_an_extension_or_a_non_number(caller: str) -> None:
    with pytest.raises(BadNumber):
        dialled(caller, "0827")

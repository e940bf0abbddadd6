"""The follow-up planner on a fresh migrated database (SQLite and PostgreSQL), with a
FakeClock: a resolved ticket's own follow-up, the monthly calls and visits, the weekly and
yearly samples, and the loop that plans again after midnight. Nothing waits for real."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from hotline.callbacks.planner import FollowUpPlanner
from hotline.callbacks.sampling import ranking
from hotline.callbacks.tables import callbacks
from hotline.clock import FakeClock
from hotline.config import CallbacksSettings
from hotline.routing.tables import customer_numbers, customers
from hotline.tickets.events import TicketChanged
from hotline.tickets.standard import Category
from hotline.tickets.tables import ticket_events, tickets
from hotline.tickets.workdays import LOCAL_ZONE
from tests.integration.tickets.conftest import Desk, desk  # noqa: F401  (the ticket desk fixture)
from tests.unit.callbacks.moments import FakeCalendar, at, day

MONDAY = at("2026-03-02 10:00")
# Mon-Fri; New Year's Day and the Friday after are off, so 2026's yearly draw is on 5 January.
CALENDAR = FakeCalendar.of(off=["2026-01-01", "2026-01-02"])
SETTINGS = CallbacksSettings()  # 09:00-20:00 every day; follow-ups and samples by survey
CALLER = "13912345678"
_numbers = itertools.count(1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY)


@pytest.fixture
def planner(engine: AsyncEngine, clock: FakeClock) -> FollowUpPlanner:
    return planner_on(engine, clock)


def planner_on(engine: AsyncEngine, clock: FakeClock) -> FollowUpPlanner:
    return FollowUpPlanner(
        engine, clock, window=SETTINGS.window(), is_working_day=CALENDAR.is_working_day, tz=LOCAL_ZONE,
        mode_of=SETTINGS.mode_of, max_attempts=SETTINGS.max_attempts, default_area_code="0827",
    )  # fmt: skip


# Rows as the ticket service and the directory leave them.


async def add_ticket(engine: AsyncEngine, category: str = "fault_report", *, source: str = "call", resolved: Iterable[datetime] = (), **columns: Any) -> int:
    """A ticket, resolved at each of `resolved` (its timeline says so), else open."""
    moments = list(resolved)
    values = {"number": f"T-{next(_numbers):05d}", "status": "resolved" if moments else "open", "source": source, "category": category, "tier": "regular", "area": "urban", "caller_number": CALLER, "summary": "", "opened_at": MONDAY - timedelta(hours=1), "updated_at": MONDAY, "resolved_at": max(moments, default=None), "follow_up_needed": category in ("fault_report", "complaint"), **columns}
    async with engine.begin() as conn:
        ticket_id = int((await conn.execute(insert(tickets).values(**utc(values)))).inserted_primary_key[0])
        for moment in moments:
            await conn.execute(insert(ticket_events).values(ticket_id=ticket_id, kind="resolved", at=moment.astimezone(UTC), data={}))
    return ticket_id


async def resolve_again(engine: AsyncEngine, ticket_id: int, moment: datetime) -> TicketChanged:
    """Reopened, then resolved again at `moment`: what the bus hears."""
    async with engine.begin() as conn:
        await conn.execute(insert(ticket_events).values(ticket_id=ticket_id, kind="reopened", at=(moment - timedelta(hours=1)).astimezone(UTC), data={}))
        await conn.execute(insert(ticket_events).values(ticket_id=ticket_id, kind="resolved", at=moment.astimezone(UTC), data={}))
        await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(status="resolved", resolved_at=moment.astimezone(UTC)))
    return resolved(ticket_id, moment)


def resolved(ticket_id: int, moment: datetime) -> TicketChanged:
    return TicketChanged(ticket_id, f"T-{ticket_id}", moment.astimezone(UTC), "resolved", None, "resolved")


async def add_customer(engine: AsyncEngine, tier: str, *numbers: str, created: datetime = MONDAY) -> int:
    async with engine.begin() as conn:
        values = {"name": f"客户{next(_numbers)}", "tier": tier, "area": "urban", "notes": "", "created_at": created.astimezone(UTC), "updated_at": created.astimezone(UTC)}
        customer_id = int((await conn.execute(insert(customers).values(**values))).inserted_primary_key[0])
        for number in numbers:
            await conn.execute(insert(customer_numbers).values(customer_id=customer_id, number=number))
    return customer_id


async def rows(engine: AsyncEngine, kind: str | None = None) -> list[dict[str, Any]]:
    query = select(callbacks).order_by(callbacks.c.id)
    if kind is not None:
        query = query.where(callbacks.c.kind == kind)
    async with engine.connect() as conn:
        return [utc(dict(row._mapping)) for row in (await conn.execute(query)).all()]


def utc(values: dict[str, Any]) -> dict[str, Any]:
    """Moments in UTC, as they are stored and as SQLite gives them back (naive)."""
    def one(value: Any) -> Any:
        if not isinstance(value, datetime):
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    return {name: one(value) for name, value in values.items()}


def local(moment: datetime) -> str:
    return f"{moment.astimezone(LOCAL_ZONE):%Y-%m-%d %H:%M}"


# A ticket's own follow-up (四.4(2)).


async def test_a_resolved_repair_gets_one_survey_call_due_within_24_hours(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    ticket = await add_ticket(engine, resolved=[MONDAY], tier="vip")

    await planner.on_ticket_changed(resolved(ticket, MONDAY))

    [row] = await rows(engine)
    assert (row["kind"], row["mode"], row["state"], row["number"], row["tier"]) == ("follow_up", "survey", "scheduled", CALLER, "vip")
    assert (row["ticket_id"], row["source_key"], row["max_attempts"]) == (ticket, f"ticket:{ticket}:follow_up", 3)
    assert (local(row["due_at"]), local(row["deadline_at"])) == ("2026-03-02 10:00", "2026-03-03 10:00")
    assert row["next_attempt_at"] == row["due_at"]


async def test_a_repair_resolved_at_night_is_called_at_nine_and_keeps_its_24_hours(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    night = at("2026-03-02 23:00")
    ticket = await add_ticket(engine, resolved=[night])

    await planner.on_ticket_changed(resolved(ticket, night))

    [row] = await rows(engine)
    assert (local(row["due_at"]), local(row["deadline_at"])) == ("2026-03-03 09:00", "2026-03-03 23:00")


async def test_the_same_event_twice_writes_one_row(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    ticket = await add_ticket(engine, "complaint", resolved=[MONDAY])

    await planner.on_ticket_changed(resolved(ticket, MONDAY))
    await planner.on_ticket_changed(resolved(ticket, MONDAY))
    assert await planner.plan(MONDAY.date()) == 0  # the catch-up finds it written too

    assert len(await rows(engine)) == 1


async def test_reopened_and_resolved_again_after_the_follow_up_gets_a_second(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    ticket = await add_ticket(engine, resolved=[MONDAY])
    await planner.on_ticket_changed(resolved(ticket, MONDAY))
    async with engine.begin() as conn:  # the follow-up call was made
        await conn.execute(update(callbacks).values(state="done", next_attempt_at=None))
    again = at("2026-03-03 15:00")

    event = await resolve_again(engine, ticket, again)
    await planner.on_ticket_changed(event)
    await planner.on_ticket_changed(event)  # heard twice: still one
    await planner.on_ticket_changed(resolved(ticket, MONDAY))  # the first, heard late: nothing new

    first, second = await rows(engine)
    assert (first["source_key"], second["source_key"]) == (f"ticket:{ticket}:follow_up", f"ticket:{ticket}:follow_up:2")
    assert (local(second["due_at"]), local(second["deadline_at"]), second["state"]) == ("2026-03-03 15:00", "2026-03-04 15:00", "scheduled")


async def test_resolved_again_before_the_first_follow_up_was_made_adds_none(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    ticket = await add_ticket(engine, resolved=[MONDAY])
    await planner.on_ticket_changed(resolved(ticket, MONDAY))

    await planner.on_ticket_changed(await resolve_again(engine, ticket, at("2026-03-02 12:00")))

    assert [row["source_key"] for row in await rows(engine)] == [f"ticket:{ticket}:follow_up"]


@pytest.mark.parametrize("source", ["government_referral", "letter"])
async def test_a_petition_or_letter_complaint_is_answered_by_reply_letter(engine: AsyncEngine, planner: FollowUpPlanner, source: str) -> None:
    night = at("2026-03-02 23:00")
    ticket = await add_ticket(engine, "inquiry", source=source, resolved=[night], caller_number=None)

    await planner.on_ticket_changed(resolved(ticket, night))

    [row] = await rows(engine)
    assert (row["kind"], row["mode"], row["number"], row["source_key"]) == ("reply_letter", "agent_first", "", f"ticket:{ticket}:follow_up")
    # Never called, so no window: written from the resolution, due within the same 24 h.
    assert (local(row["due_at"]), local(row["deadline_at"])) == ("2026-03-02 23:00", "2026-03-03 23:00")


@pytest.mark.parametrize("category", ["inquiry", "business", "restoration", "other"])
async def test_tickets_the_standard_only_samples_get_no_follow_up_of_their_own(engine: AsyncEngine, planner: FollowUpPlanner, category: str) -> None:
    ticket = await add_ticket(engine, category, resolved=[MONDAY])

    await planner.on_ticket_changed(resolved(ticket, MONDAY))

    assert await rows(engine) == []


async def test_an_installation_is_followed_up(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    ticket = await add_ticket(engine, "business", install_kind="individual", resolved=[MONDAY])

    await planner.on_ticket_changed(resolved(ticket, MONDAY))

    assert [row["kind"] for row in await rows(engine)] == ["follow_up"]


async def test_other_changes_of_a_ticket_plan_nothing(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    ticket = await add_ticket(engine, resolved=[MONDAY])

    await planner.on_ticket_changed(TicketChanged(ticket, "T-1", MONDAY, "forwarded", None, "forwarded"))

    assert await rows(engine) == []


async def test_a_withheld_caller_is_not_called_and_it_is_logged(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    ticket = await add_ticket(engine, resolved=[MONDAY], caller_number="anonymous")

    with capture_logs() as logs:
        await planner.on_ticket_changed(resolved(ticket, MONDAY))

    assert await rows(engine) == []
    assert any(entry["event"] == "follow_up.no_number" and entry["ticket"] == ticket for entry in logs)


async def test_a_known_customer_without_caller_number_is_called_on_their_directory_number(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    customer = await add_customer(engine, "regular", "+8608275551234", "+8613800000001")
    ticket = await add_ticket(engine, source="walk_in", resolved=[MONDAY], caller_number=None, customer_id=customer)

    await planner.on_ticket_changed(resolved(ticket, MONDAY))

    [row] = await rows(engine)
    assert (row["number"], row["customer_id"]) == ("08275551234", customer)


async def test_a_resolution_whose_event_was_lost_is_caught_up_by_plan(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    ticket = await add_ticket(engine, "complaint", resolved=[MONDAY])  # committed; the service died before publishing

    assert await planner.plan(MONDAY.date()) == 1

    [row] = await rows(engine)
    assert (row["source_key"], local(row["deadline_at"])) == (f"ticket:{ticket}:follow_up", "2026-03-03 10:00")


async def test_resolving_through_the_ticket_service_schedules_the_follow_up(desk: Desk) -> None:  # noqa: F811
    planner = planner_on(desk.engine, desk.clock)
    planner.subscribe(desk.bus)
    ticket = await desk.open(category=Category.COMPLAINT, caller_number=CALLER)

    await desk.service.resolve(desk.people["小王"], ticket, "已解决")

    [row] = await rows(desk.engine)
    assert (row["kind"], row["ticket_id"], row["number"]) == ("follow_up", ticket, CALLER)
    assert row["deadline_at"] == desk.clock.now() + timedelta(hours=24)


# Monthly calls and visits (四.4(3)).


async def test_a_vip_is_called_once_a_month_however_often_it_is_planned(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    vip = await add_customer(engine, "vip", "+8613800000001")
    await add_customer(engine, "regular", "+8613800000002")

    written = [await planner.plan(day(d)) for d in ("2026-03-02", "2026-03-02", "2026-03-17", "2026-03-31")]

    assert written == [1, 0, 0, 0]
    [row] = await rows(engine)
    assert (row["kind"], row["mode"], row["number"], row["customer_id"], row["tier"]) == ("vip_monthly", "agent_first", "13800000001", vip, "vip")
    assert row["source_key"] == f"monthly:vip:{vip}:2026-03"
    # 1 March is a Sunday: the calling window is open every day, from 09:00.
    assert (local(row["due_at"]), local(row["deadline_at"])) == ("2026-03-01 09:00", "2026-04-01 00:00")
    assert await planner.plan(day("2026-04-01")) == 1
    assert [r["source_key"] for r in await rows(engine)][1] == f"monthly:vip:{vip}:2026-04"


async def test_a_vip_added_in_the_month_is_planned_the_next_day(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    await planner.plan(day("2026-03-02"))
    await add_customer(engine, "vip", "+8613800000001")

    assert await planner.plan(day("2026-03-03")) == 1


async def test_key_accounts_and_private_networks_are_visited_on_a_working_day(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    key_account = await add_customer(engine, "key_account", "+8608275551234")
    private = await add_customer(engine, "private_network")  # no number: a visit needs none

    await planner.plan(day("2026-03-10"))

    visits = await rows(engine, "visit")
    assert [(r["customer_id"], r["number"], r["tier"]) for r in visits] == [(key_account, "08275551234", "key_account"), (private, "", "private_network")]
    assert {(local(r["due_at"]), local(r["deadline_at"])) for r in visits} == {("2026-03-02 09:00", "2026-04-01 00:00")}
    assert {r["source_key"] for r in visits} == {f"monthly:key_account:{key_account}:2026-03", f"monthly:private_network:{private}:2026-03"}


async def test_a_vip_without_a_number_is_skipped_and_logged(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    vip = await add_customer(engine, "vip")

    with capture_logs() as logs:
        assert await planner.plan(day("2026-03-02")) == 0

    assert any(entry["event"] == "follow_up.no_number" and entry.get("customer") == vip for entry in logs)


# Weekly samples (四.4(1)): week 2026-W10 is drawn on Friday 6 March, of the contacts from
# the previous draw day (Friday 27 February) up to it.

W10_CONTACT = at("2026-03-03 15:00")


async def add_week(engine: AsyncEngine, category: str, count: int, moment: datetime = W10_CONTACT) -> list[int]:
    return [await add_ticket(engine, category, resolved=[moment], caller_number=f"+86139{i:08d}") for i in range(count)]


async def sampled(engine: AsyncEngine) -> dict[str, set[int]]:
    """The tickets or customers drawn, by the sample's group and period."""
    drawn: dict[str, set[int]] = {}
    for row in await rows(engine, "sampled"):
        _, group, label, who = row["source_key"].split(":")
        drawn.setdefault(f"{group}:{label}", set()).add(int(who))
    return drawn


async def test_the_weekly_draw_takes_at_least_a_tenth_of_the_week_s_contacts(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    inquiries = await add_week(engine, "inquiry", 57)
    business = await add_week(engine, "business", 5) + await add_week(engine, "restoration", 2)
    await add_week(engine, "fault_report", 4)  # followed up one by one, not sampled
    await add_week(engine, "other", 3)  # in the yearly sample of their customers instead

    await planner.plan(day("2026-03-06"))

    drawn = await sampled(engine)
    assert set(drawn) == {"inquiry:2026-W10", "business:2026-W10"}
    assert len(drawn["inquiry:2026-W10"]) == math.ceil(57 * 0.10) == 6
    assert drawn["inquiry:2026-W10"] <= set(inquiries)
    assert len(drawn["business:2026-W10"]) == 1 and drawn["business:2026-W10"] <= set(business)
    row = (await rows(engine, "sampled"))[0]
    assert (row["mode"], row["deadline_at"], local(row["due_at"])) == ("survey", None, "2026-03-06 09:00")


async def test_the_draw_is_the_same_every_time_and_on_every_instance(engine: AsyncEngine, planner: FollowUpPlanner, clock: FakeClock) -> None:
    inquiries = await add_week(engine, "inquiry", 57)
    await planner.plan(day("2026-03-06"))
    first = await sampled(engine)

    assert await planner_on(engine, clock).plan(day("2026-03-06")) == 0  # another instance
    assert await planner.plan(day("2026-03-07")) == 0  # the day after looks again: nothing new

    # Anyone can check it: the first of the seed's ranking of the week's tickets.
    assert first["inquiry:2026-W10"] == set(ranking(inquiries, seed="inquiry:2026-W10")[:6])
    assert await sampled(engine) == first


async def test_the_same_contacts_another_week_draw_other_people(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    inquiries = await add_week(engine, "inquiry", 57)
    await planner.plan(day("2026-03-06"))
    async with engine.begin() as conn:  # the same 57 tickets resolved again the next week
        again = [{"ticket_id": t, "kind": "resolved", "at": at("2026-03-10 11:00").astimezone(UTC), "data": {}} for t in inquiries]
        await conn.execute(insert(ticket_events), again)

    await planner.plan(day("2026-03-13"))

    drawn = await sampled(engine)
    assert len(drawn["inquiry:2026-W11"]) == 6
    assert drawn["inquiry:2026-W11"] != drawn["inquiry:2026-W10"]


async def test_only_the_draw_day_draws_and_a_missed_one_is_drawn_the_days_after(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    await add_week(engine, "inquiry", 20)
    await add_week(engine, "inquiry", 3, at("2026-03-06 08:00"))  # on the draw day: next week's

    assert await planner.plan(day("2026-03-05")) == 0

    assert await planner.plan(day("2026-03-09")) == 2  # the service was down on Friday
    assert set(await sampled(engine)) == {"inquiry:2026-W10"}


async def test_a_friday_off_draws_on_the_working_day_before(engine: AsyncEngine, clock: FakeClock) -> None:
    planner = FollowUpPlanner(
        engine, clock, window=SETTINGS.window(), is_working_day=FakeCalendar.of(off=["2026-03-06"]).is_working_day, tz=LOCAL_ZONE,
        mode_of=SETTINGS.mode_of, max_attempts=3, default_area_code="0827",
    )  # fmt: skip
    await add_week(engine, "inquiry", 10)

    assert await planner.plan(day("2026-03-05")) == 1

    [row] = await rows(engine, "sampled")
    assert local(row["due_at"]) == "2026-03-05 09:00"


async def test_a_drawn_contact_without_a_number_gives_way_to_the_next(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    reachable = await add_week(engine, "inquiry", 9)
    withheld = [await add_ticket(engine, "inquiry", resolved=[W10_CONTACT], caller_number="anonymous") for _ in range(11)]
    twice = await add_ticket(engine, "inquiry", resolved=[W10_CONTACT], caller_number="+8613900000000")  # reachable[0]'s number

    await planner.plan(day("2026-03-06"))

    drawn = (await sampled(engine))["inquiry:2026-W10"]
    assert len(drawn) == 3  # ceil(10 % of 21), all with a number to call
    assert not drawn & set(withheld)
    assert not {reachable[0], twice} <= drawn  # one number is called once per sample


async def test_marketing_and_digital_tv_samples_are_skipped_with_the_reason(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    with capture_logs() as logs:
        await planner.plan(day("2026-03-06"))

    skipped = {entry["group"]: entry["reason"] for entry in logs if entry["event"] == "sample.skipped"}
    assert set(skipped) == {"marketing", "digital_tv"}
    assert all(reason for reason in skipped.values())
    with capture_logs() as logs:
        await planner.plan(day("2026-03-07"))  # looking again for a missed draw: said once is enough
    assert not [entry for entry in logs if entry["event"] == "sample.skipped"]


# The yearly sample (四.4(4)): regular customers, on the year's first working day.


async def test_the_yearly_sample_draws_a_twentieth_of_regular_customers_once(engine: AsyncEngine, planner: FollowUpPlanner) -> None:
    december = at("2025-12-15 10:00")
    regulars = [await add_customer(engine, "regular", f"+86138{i:08d}", created=december) for i in range(41)]
    late = await add_customer(engine, "regular", "+8613700000000", created=at("2026-01-05 10:00"))

    assert await planner.plan(day("2026-01-02")) == 0  # a day off: not drawn yet
    assert await planner.plan(day("2026-01-05")) == 3  # ceil(5 % of 41)
    assert await planner.plan(day("2026-06-30")) == 0  # any later day of the year: the same draw

    drawn = (await sampled(engine))["other:2026"]
    assert drawn == set(ranking(regulars, seed="other.regular:2026")[:3]) and late not in drawn
    row = (await rows(engine, "sampled"))[0]
    assert (local(row["due_at"]), row["ticket_id"], row["tier"]) == ("2026-01-05 09:00", None, "regular")
    assert row["source_key"] == f"sampled:other:2026:{row['customer_id']}"


# The loop.


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 3) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.005)


@pytest.fixture
async def running(engine: AsyncEngine) -> AsyncIterator[tuple[FollowUpPlanner, FakeClock]]:
    clock = FakeClock(at("2026-03-31 22:00"))
    planner, stop = planner_on(engine, clock), asyncio.Event()
    await add_customer(engine, "vip", "+8613800000001")
    task = asyncio.create_task(planner.run(stop), name="follow_ups")
    yield planner, clock
    stop.set()
    await asyncio.wait_for(task, timeout=1)


async def test_run_plans_at_start_and_again_after_midnight(engine: AsyncEngine, running: tuple[FollowUpPlanner, FakeClock]) -> None:
    _, clock = running

    async def keys() -> list[str]:
        return [row["source_key"] for row in await rows(engine)]

    async def asleep_with(count: int) -> bool:
        return clock.sleeping > 0 and len(await keys()) == count

    await until(lambda: asleep_with(1))
    clock.set(at("2026-04-01 00:00"))
    await asyncio.sleep(0.05)
    assert len(await keys()) == 1  # midnight itself: not yet

    clock.set(at("2026-04-01 00:01"))

    await until(lambda: asleep_with(2))
    assert [key.rsplit(":", 1)[1] for key in await keys()] == ["2026-03", "2026-04"]


async def test_run_tries_again_soon_after_a_failed_plan(engine: AsyncEngine, running: tuple[FollowUpPlanner, FakeClock]) -> None:
    _, clock = running

    async def count() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(callbacks))).scalar_one())

    async def asleep_with(expected: int) -> bool:
        return clock.sleeping > 0 and await count() == expected

    await until(lambda: asleep_with(1))
    await add_customer(engine, "vip", "+8613800000009")
    await directory_away(engine, True)
    with capture_logs() as logs:
        clock.set(at("2026-04-01 00:01"))
        await until(lambda: asleep_with(1))
    assert [entry["event"] for entry in logs if entry["log_level"] == "error"] == ["follow_ups.plan_failed"]
    await directory_away(engine, False)

    clock.set(at("2026-04-01 00:06"))  # five minutes on, not at the next midnight

    await until(lambda: asleep_with(3))


async def directory_away(engine: AsyncEngine, away: bool) -> None:
    """A database fault: the customers table is not there while `away`."""
    names = ("customers", "customers_away") if away else ("customers_away", "customers")
    async with engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {names[0]} RENAME TO {names[1]}"))

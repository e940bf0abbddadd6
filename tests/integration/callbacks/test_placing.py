"""Placing callbacks through the PBX double over real AMI: the Originate the service sends
(channel, context, variables, caller id 96655), the recorded callback transcripts of
../shared/ami-traces/ replayed as Asterisk's answer (ids rewritten to the attempt's
ChannelId, as Asterisk names a channel an Originate gave one), the outcomes stored on the
callback and on its ticket, the retries, the cap and exactly-once across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from hotline.ami.client import AmiClient
from hotline.callbacks.book import Owed, schedule
from hotline.callbacks.desk import CallbackDesk, CallbackWithoutTicket
from hotline.callbacks.events import CallbackPlaced
from hotline.callbacks.dispatcher import CallbackDispatcher, Placing
from hotline.callbacks.model import CallbackKind, Mode
from hotline.callbacks.policy import DEFAULT_RETRY, DEFAULT_WINDOW
from hotline.callbacks.owed import LostCallers, LostCallPolicy
from hotline.callbacks.tables import callback_attempts, callbacks
from hotline.calls.store import CallStore
from hotline.db.tables import calls
from hotline.events import CallAnswered
from hotline.config import AmiSettings
from hotline.metrics import Metrics
from hotline.testing.pbx import PbxDouble
from hotline.testing.transcripts import recorded_answer
from hotline.tickets import repository as repo
from hotline.tickets.service import CallbackResult
from hotline.tickets.standard import Category
from hotline.tickets.workdays import LOCAL_ZONE
from tests.integration.tickets.conftest import Desk, desk  # noqa: F401  (fixture)

FAST = dict(ping_interval=0.5, ping_timeout=1.0, reconnect_min=0.02, reconnect_max=0.1, connect_timeout=1.0)
PLACING = Placing("Local/{extension}@agents", "Local/{number}@customers", "8001", 20, 2, DEFAULT_WINDOW, DEFAULT_RETRY, LOCAL_ZONE)


class Killed(BaseException):
    """The process dying at that point (not an error the dispatcher could catch)."""


@dataclass
class Dialer:
    desk: Desk
    pbx: PbxDouble
    client: AmiClient
    live: set[str] = field(default_factory=set)
    dispatchers: list[CallbackDispatcher] = field(default_factory=list)

    def dispatcher(self, send: Callable[[dict[str, Any]], Awaitable[Any]] | None = None) -> CallbackDispatcher:
        """A dispatcher as the service builds one; a second one is the service restarted."""

        async def live_channels() -> set[str]:
            return set(self.live)

        made = CallbackDispatcher(self.desk.engine, self.desk.clock, PLACING, send or self.client.send_originate, is_working_day=lambda _: True, live_channels=live_channels, on_result=self.desk.service.report_callback)
        if self.dispatchers:
            self.client.listeners.remove(self.dispatchers[-1].on_ami_event)
        self.client.listeners.append(made.on_ami_event)
        self.dispatchers.append(made)
        return made

    async def owe(self, number: str, *, mode: Mode = Mode.AGENT_FIRST, kind: CallbackKind = CallbackKind.MANUAL, ticket_id: int | None = None, tier: str = "regular", extension: str | None = "8001", max_attempts: int = 3, after: timedelta = timedelta(0)) -> int:
        owed = Owed(kind, mode, number, tier, self.desk.clock.now() + after, max_attempts, ticket_id=ticket_id, agent_extension=extension)
        async with self.desk.engine.begin() as conn:
            created = await schedule(conn, owed, self.desk.clock.now())
        assert created is not None
        return created

    def originates(self) -> list[dict[str, str]]:
        return [a for a in self.pbx.actions if a.get("Action") == "Originate"]

    async def replay(self, name: str, ids: dict[str, str], dispatcher: CallbackDispatcher) -> None:
        """The transcript's events and OriginateResponses, with the recorded ActionIDs and
        Uniqueids replaced by ours, then every one recorded."""
        self.pbx.play(recorded_answer(name, ids))
        await self.pbx.wait_sent()
        await until(lambda: any(m.get("Event") == "OriginateResponse" for m in list(dispatcher.inbox)))  # noqa: SLF001
        await asyncio.sleep(0.05)  # the rest of the burst is read
        await dispatcher.run_once()

    async def callback(self, callback_id: int) -> dict[str, Any]:
        async with self.desk.engine.connect() as conn:
            row = {k: repo.utc(v) for k, v in (await conn.execute(select(callbacks).where(callbacks.c.id == callback_id))).mappings().one().items()}
            row["attempt_rows"] = [dict(a) for a in (await conn.execute(select(callback_attempts).where(callback_attempts.c.callback_id == callback_id).order_by(callback_attempts.c.attempt))).mappings()]
        return row


async def until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@pytest.fixture
async def dialer(desk: Desk) -> AsyncIterator[Dialer]:  # noqa: F811
    pbx = PbxDouble(secret="s3cret")
    pbx.originate_events = False  # Asterisk's answer is the replayed transcript
    port = await pbx.start()
    client = AmiClient(AmiSettings(host="127.0.0.1", port=port, username="hotline", secret="s3cret", **FAST), Metrics())
    stop = asyncio.Event()
    running = asyncio.create_task(client.run(stop))
    await until(lambda: client.connected)
    yield Dialer(desk, pbx, client)
    stop.set()
    await asyncio.wait_for(running, 5)
    await pbx.stop()


async def resolved_repair(desk: Desk) -> int:  # noqa: F811
    ticket_id = await desk.open(category=Category.FAULT_REPORT, caller_number="13912345678")
    await desk.service.resolve(desk.people["小王"], ticket_id, "修好了")
    return ticket_id


# --- what is sent ---------------------------------------------------------------------------


async def test_agent_first_rings_the_agent_into_hotline_callback_with_the_ticket_and_96655(dialer: Dialer) -> None:
    ticket_id = await resolved_repair(dialer.desk)
    number = (await dialer.desk.ticket(ticket_id)).number
    callback_id = await dialer.owe("13912345678", ticket_id=ticket_id)

    assert await dialer.dispatcher().run_once() == 1

    [sent] = dialer.originates()
    assert sent["Channel"] == "Local/8001@agents"
    assert (sent["Context"], sent["Exten"], sent["Priority"]) == ("hotline-callback", "13912345678", "1")
    assert sent["CallerID"] == '"96655" <96655>'
    assert sent["Variable"] == f"HOTLINE_CALLBACK={callback_id},HOTLINE_TICKET={number}"
    assert sent["ChannelId"] == sent["ActionID"] == f"cb-{callback_id}-1"
    assert (sent["Async"], sent["Timeout"]) == ("true", "20000")
    assert (await dialer.callback(callback_id))["state"] == "in_flight"


async def test_a_survey_calls_the_customer_into_hotline_survey(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13912345678", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, extension=None)
    await dialer.dispatcher().run_once()
    [sent] = dialer.originates()
    assert (sent["Channel"], sent["Context"], sent["Exten"]) == ("Local/13912345678@customers", "hotline-survey", "s")
    assert sent["CallerID"] == '"96655" <96655>'
    assert sent["Variable"] == f"HOTLINE_CALLBACK={callback_id},HOTLINE_TICKET="


# --- the transcripts' outcomes ----------------------------------------------------------------


async def test_agent_first_transcript_answered_is_done_and_on_the_ticket(dialer: Dialer) -> None:
    ticket_id = await resolved_repair(dialer.desk)
    callback_id = await dialer.owe("13912345678", ticket_id=ticket_id)
    dispatcher = dialer.dispatcher()
    await dispatcher.run_once()
    channel_id = f"cb-{callback_id}-1"

    await dialer.replay("callback-agent-first", {"rec-25": channel_id, "1795533038.20": channel_id}, dispatcher)

    row = await dialer.callback(callback_id)
    assert (row["state"], row["outcome"], row["attempts"]) == ("done", "answered", 1)
    [attempt] = row["attempt_rows"]
    assert (attempt["outcome"], attempt["data"]["Reason"], attempt["data"]["DialStatus"]) == ("answered", "4", "ANSWER")
    # The ticket: its follow-up started (the deadline met), the result on its timeline.
    assert (await dialer.desk.ticket(ticket_id)).status == "follow_up"
    assert (await dialer.desk.deadlines(ticket_id))["follow_up"].state == "met"
    assert ("callback_result", None, "回访 answered") in await dialer.desk.timeline(ticket_id)


async def test_busy_and_no_answer_transcript_are_tried_again_with_their_spacing(dialer: Dialer) -> None:
    busy = await dialer.owe("13900000486", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, extension=None)
    silent = await dialer.owe("13900000408", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, extension=None)
    dispatcher = dialer.dispatcher()
    assert await dispatcher.run_once() == 2
    ids = {"rec-28": f"cb-{busy}-1", "1795533049.24": f"cb-{busy}-1", "rec-29": f"cb-{silent}-1", "1795533049.26": f"cb-{silent}-1"}

    await dialer.replay("callback-busy-and-noanswer", ids, dispatcher)
    await until(lambda: not dispatcher.inbox)
    await dispatcher.run_once()

    now = dialer.desk.clock.now()
    busy_row, silent_row = await dialer.callback(busy), await dialer.callback(silent)
    assert (busy_row["state"], busy_row["outcome"], busy_row["next_attempt_at"]) == ("scheduled", "busy", now + timedelta(minutes=10))
    assert (silent_row["state"], silent_row["outcome"], silent_row["next_attempt_at"]) == ("scheduled", "no_answer", now + timedelta(minutes=30))
    assert busy_row["attempt_rows"][0]["data"]["Reason"] == "5"


async def test_survey_transcript_stores_the_keyed_score(dialer: Dialer) -> None:
    ticket_id = await resolved_repair(dialer.desk)
    callback_id = await dialer.owe("13912345678", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, ticket_id=ticket_id, extension=None)
    dispatcher = dialer.dispatcher()
    await dispatcher.run_once()
    channel_id = f"cb-{callback_id}-1"

    await dialer.replay("survey-dtmf", {"rec-32": channel_id, "1795533062.28": channel_id}, dispatcher)

    row = await dialer.callback(callback_id)
    assert (row["state"], row["outcome"], row["score"]) == ("done", "answered", 5)
    assert row["attempt_rows"][0]["data"]["Score"] == "5"
    assert ("callback_result", None, "回访 answered，评分 5") in await dialer.desk.timeline(ticket_id)
    assert await dialer.desk.count_tickets() == 1  # a good score sends nothing back


async def test_a_low_score_goes_back_to_the_department_as_a_new_forwarded_ticket(dialer: Dialer) -> None:
    desk = dialer.desk
    ticket_id = await desk.open(category=Category.FAULT_REPORT, caller_number="13912345678")
    await desk.service.forward(desk.people["小王"], ticket_id, desk.department_ids["维修部"])
    await desk.service.acknowledge(desk.people["维修员"], ticket_id)
    await desk.service.resolve(desk.people["维修员"], ticket_id, "换了光猫")
    callback_id = await dialer.owe("13912345672", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, ticket_id=ticket_id, extension=None)
    dispatcher = dialer.dispatcher()
    await dispatcher.run_once()
    channel_id = f"cb-{callback_id}-1"
    answer = [m.replace(b"Score: 5\r\n", b"Score: 2\r\n") for m in recorded_answer("survey-dtmf", {"rec-32": channel_id, "1795533062.28": channel_id})]

    dialer.pbx.play(answer)
    await dialer.pbx.wait_sent()
    await until(lambda: len(dispatcher.inbox) >= 3)
    await asyncio.sleep(0.05)
    await dispatcher.run_once()

    assert (await dialer.callback(callback_id))["score"] == 2
    assert await desk.count_tickets() == 2
    async with desk.engine.connect() as conn:
        new_id = max((await conn.execute(select(repo.tickets.c.id))).scalars())
    new = await desk.ticket(new_id)
    original = await desk.ticket(ticket_id)
    assert (new.status, new.category, new.department_id, new.owner_user_id) == ("forwarded", "complaint", original.department_id, original.owner_user_id)
    assert original.number in (new.summary or "")
    # Once: the same events again change nothing.
    await dialer.replay("survey-dtmf", {"rec-32": channel_id, "1795533062.28": channel_id}, dispatcher)
    await dispatcher.report_pending()
    assert await desk.count_tickets() == 2


# --- exactly once -----------------------------------------------------------------------------


async def test_a_call_in_flight_when_the_service_dies_is_not_placed_again_and_ends_by_its_events(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13912345678")
    channel_id = f"cb-{callback_id}-1"

    async def send_then_die(action: dict[str, Any]) -> Any:
        await dialer.client.send_originate(action)
        raise Killed()

    with pytest.raises(Killed):
        await dialer.dispatcher(send_then_die).run_once()
    assert len(dialer.originates()) == 1
    assert (await dialer.callback(callback_id))["state"] == "placing"

    # The restarted service: Asterisk still has the channel, so it waits for its events.
    dialer.desk.clock.advance(timedelta(minutes=1))
    dialer.live.add(channel_id)
    restarted = dialer.dispatcher()
    assert await restarted.run_once() == 0
    assert len(dialer.originates()) == 1
    await dialer.replay("callback-agent-first", {"rec-25": channel_id, "1795533038.20": channel_id}, restarted)
    row = await dialer.callback(callback_id)
    assert (row["state"], row["outcome"], len(row["attempt_rows"])) == ("done", "answered", 1)
    dialer.desk.clock.advance(timedelta(hours=1))
    assert await restarted.run_once() == 0
    assert len(dialer.originates()) == 1


async def test_a_call_whose_channel_is_gone_after_the_restart_is_failed_for_a_supervisor_not_placed_again(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13912345678")

    async def die_before_sending(action: dict[str, Any]) -> Any:
        raise Killed()

    with pytest.raises(Killed):
        await dialer.dispatcher(die_before_sending).run_once()
    dialer.desk.clock.advance(timedelta(minutes=1))
    restarted = dialer.dispatcher()
    assert await restarted.run_once() == 0
    dialer.desk.clock.advance(timedelta(hours=2))
    assert await restarted.run_once() == 0

    row = await dialer.callback(callback_id)
    assert dialer.originates() == []
    assert (row["state"], row["outcome"]) == ("failed", "failed")
    assert "not placed again" in row["note"]


async def test_an_attempt_younger_than_the_grace_is_left_to_its_events(dialer: Dialer) -> None:
    """Another instance may have just placed it: its Originate is on its way."""
    callback_id = await dialer.owe("13912345678")
    await dialer.dispatcher().run_once()
    other = dialer.dispatcher()
    assert await other.reconcile() == 0
    assert (await dialer.callback(callback_id))["state"] == "in_flight"


# --- the cap, priorities, retries to the end ------------------------------------------------------


async def test_never_more_calls_at_once_than_the_cap_and_the_best_first(dialer: Dialer) -> None:
    regular = await dialer.owe("13900000001", kind=CallbackKind.ABANDONED, extension=None)
    vip = await dialer.owe("13900000002", kind=CallbackKind.ABANDONED, tier="vip", extension=None)
    manual = await dialer.owe("13900000003", kind=CallbackKind.MANUAL, extension="8002")
    follow_up = await dialer.owe("13900000004", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, extension=None)
    dispatcher = dialer.dispatcher()

    assert await dispatcher.run_once() == 2  # the cap
    assert await dispatcher.run_once() == 0
    first = [a["ChannelId"] for a in dialer.originates()]
    # A VIP's lost call first, then a time promised to a customer (policy.priority).
    assert first == [f"cb-{vip}-1", f"cb-{manual}-1"]
    # When those are done, the regular lost caller before the follow-up survey.
    for channel_id in first:
        dialer.pbx.play(recorded_answer("callback-busy-and-noanswer", {"rec-28": channel_id}))
    await dialer.pbx.wait_sent()
    await until(lambda: len(dispatcher.inbox) >= 2)
    # Both agents' phones busy (tried again in 2 minutes, the customers' attempts given
    # back): the two slots are free for the next two.
    assert await dispatcher.run_once() == 2
    assert [a["ChannelId"] for a in dialer.originates()][2:] == [f"cb-{regular}-1", f"cb-{follow_up}-1"]


async def test_a_callback_fails_after_its_last_attempt_and_shows_why(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13900000486", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, extension=None, max_attempts=2)
    dispatcher = dialer.dispatcher()
    for attempt in (1, 2):
        assert await dispatcher.run_once() == 1
        channel_id = f"cb-{callback_id}-{attempt}"
        await dialer.replay("callback-busy-and-noanswer", {"rec-28": channel_id, "1795533049.24": channel_id}, dispatcher)
        dialer.desk.clock.advance(timedelta(minutes=10))
    assert await dispatcher.run_once() == 0
    row = await dialer.callback(callback_id)
    assert (row["state"], row["outcome"], row["attempts"]) == ("failed", "busy", 2)
    assert row["note"] == "2 次均未接通，最后一次：占线 / 2 attempt(s), the last: busy"
    assert [a["ChannelId"] for a in dialer.originates()] == [f"cb-{callback_id}-1", f"cb-{callback_id}-2"]


async def test_nothing_is_placed_outside_the_calling_window(dialer: Dialer) -> None:
    desk = dialer.desk
    desk.clock.set(desk.clock.now().astimezone(LOCAL_ZONE).replace(hour=21, minute=0))
    callback_id = await dialer.owe("13912345678")
    dispatcher = dialer.dispatcher()
    assert await dispatcher.run_once() == 0
    row = await dialer.callback(callback_id)
    assert row["next_attempt_at"].astimezone(LOCAL_ZONE).hour == 9
    desk.clock.advance(timedelta(hours=11, minutes=59))  # 08:59 next day
    assert await dispatcher.run_once() == 0
    desk.clock.advance(timedelta(minutes=1))
    assert await dispatcher.run_once() == 1


async def test_a_supervisors_retry_of_a_failed_callback_places_it_again_and_reports_again(dialer: Dialer) -> None:
    desk = dialer.desk
    ticket_id = await resolved_repair(desk)
    callback_id = await dialer.owe("13900000486", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, ticket_id=ticket_id, extension=None, max_attempts=1)
    dispatcher = dialer.dispatcher()
    await dispatcher.run_once()
    await dialer.replay("callback-busy-and-noanswer", {"rec-28": f"cb-{callback_id}-1"}, dispatcher)
    assert (await dialer.callback(callback_id))["state"] == "failed"
    assert [r for k, _, r in await desk.timeline(ticket_id) if k == "callback_result"] == ["回访 busy"]

    callbacks_desk = CallbackDesk(desk.engine, desk.clock, mode_of=lambda kind: Mode.SURVEY, max_attempts=2, default_area_code="0827")
    await callbacks_desk.retry(desk.people["值班长"], callback_id)
    assert await dispatcher.run_once() == 1
    await dialer.replay("callback-busy-and-noanswer", {"rec-28": f"cb-{callback_id}-2"}, dispatcher)
    row = await dialer.callback(callback_id)
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == ("scheduled", 2, desk.clock.now() + timedelta(minutes=10))
    desk.clock.advance(timedelta(minutes=10))
    assert await dispatcher.run_once() == 1
    channel_id = f"cb-{callback_id}-3"
    await dialer.replay("survey-dtmf", {"rec-32": channel_id, "1795533062.28": channel_id}, dispatcher)

    assert (await dialer.callback(callback_id))["state"] == "done"
    assert [r for k, _, r in await desk.timeline(ticket_id) if k == "callback_result"] == ["回访 busy", "回访 answered，评分 5"]
    assert (await desk.ticket(ticket_id)).status == "follow_up"


async def test_a_complaint_heard_on_an_agent_first_follow_up_goes_back_to_the_department(dialer: Dialer) -> None:
    desk = dialer.desk
    ticket_id = await desk.open(category=Category.FAULT_REPORT, caller_number="13912345678")
    await desk.service.forward(desk.people["小王"], ticket_id, desk.department_ids["维修部"])
    await desk.service.acknowledge(desk.people["维修员"], ticket_id)
    await desk.service.resolve(desk.people["维修员"], ticket_id, "换了光猫")
    callback_id = await dialer.owe("13912345678", ticket_id=ticket_id, extension="8002")
    dispatcher = dialer.dispatcher()
    await dispatcher.run_once()
    await dialer.replay("callback-agent-first", {"rec-25": f"cb-{callback_id}-1", "1795533038.20": f"cb-{callback_id}-1"}, dispatcher)
    callbacks_desk = CallbackDesk(desk.engine, desk.clock, mode_of=lambda kind: Mode.AGENT_FIRST, max_attempts=3, default_area_code="0827", complaint_found=desk.service.complaint_found)

    agent = replace(desk.people["小李"], extension="8002")  # the phone the callback rang
    answer = await callbacks_desk.complaint(agent, callback_id, "装维人员态度差")

    new = await desk.ticket(answer["new_ticket_id"])
    original = await desk.ticket(ticket_id)
    assert (new.status, new.category, new.department_id, new.owner_user_id) == ("forwarded", "complaint", original.department_id, original.owner_user_id)
    assert "装维人员态度差" in (new.summary or "") and original.number in (new.summary or "")
    assert ("complaint_found", desk.id_of("小李"), "装维人员态度差") in await desk.timeline(ticket_id)


async def test_a_complaint_on_a_callback_without_a_ticket_is_refused_and_changes_nothing(dialer: Dialer) -> None:
    desk = dialer.desk
    callback_id = await dialer.owe("13912345678", kind=CallbackKind.ABANDONED, extension=None)
    callbacks_desk = CallbackDesk(desk.engine, desk.clock, mode_of=lambda kind: Mode.AGENT_FIRST, max_attempts=3, default_area_code="0827", complaint_found=desk.service.complaint_found)
    before = await desk.count_tickets()
    with pytest.raises(CallbackWithoutTicket):
        await callbacks_desk.complaint(desk.people["小王"], callback_id, "投诉")
    assert await desk.count_tickets() == before


async def test_a_failed_booking_keeps_what_the_agent_wrote_after_the_reason(dialer: Dialer) -> None:
    owed = Owed(CallbackKind.MANUAL, Mode.SURVEY, "13900000486", "regular", dialer.desk.clock.now(), 1, note="客户下午三点后方便")
    async with dialer.desk.engine.begin() as conn:
        callback_id = await schedule(conn, owed, dialer.desk.clock.now())
    dispatcher = dialer.dispatcher()
    await dispatcher.run_once()
    await dialer.replay("callback-busy-and-noanswer", {"rec-28": f"cb-{callback_id}-1"}, dispatcher)
    row = await dialer.callback(callback_id)
    assert row["state"] == "failed"
    assert row["note"] == "1 次均未接通，最后一次：占线 / 1 attempt(s), the last: busy\n客户下午三点后方便"


async def test_never_two_callbacks_on_one_agents_phone(dialer: Dialer) -> None:
    first = await dialer.owe("13900000001", kind=CallbackKind.ABANDONED, extension=None)
    second = await dialer.owe("13900000002", kind=CallbackKind.ABANDONED, extension=None)
    survey = await dialer.owe("13900000003", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, extension=None)
    dispatcher = dialer.dispatcher()
    assert await dispatcher.run_once() == 2
    # Both lost callers ring the default agent 8001: one of them, and the survey, now.
    assert [a["ChannelId"] for a in dialer.originates()] == [f"cb-{first}-1", f"cb-{survey}-1"]
    assert (await dialer.callback(second))["state"] == "scheduled"


async def test_an_agent_first_call_holds_its_place_under_the_cap_until_it_hangs_up(dialer: Dialer) -> None:
    """Done when the customer answers (DialEnd ANSWER), but agent and customer still talk."""
    talking = await dialer.owe("13912345678", extension="8002")
    waiting = [await dialer.owe(f"1390000000{i}", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, extension=None) for i in (1, 2)]
    dispatcher = dialer.dispatcher()
    assert await dispatcher.run_once() == 2
    channel_id = f"cb-{talking}-1"
    answer = recorded_answer("callback-agent-first", {"rec-25": channel_id, "1795533038.20": channel_id})
    hangup = next(i for i, m in enumerate(answer) if m.startswith(b"Event: Hangup") and f"Uniqueid: {channel_id}\r\n".encode() in m)
    dialer.pbx.play(answer[:hangup])
    await dialer.pbx.wait_sent()
    await until(lambda: any(m.get("Event") == "DialEnd" and m.get("Uniqueid") == channel_id for m in dispatcher.inbox))
    assert await dispatcher.run_once() == 0  # done, but still on the phone
    assert (await dialer.callback(talking))["state"] == "done"
    dialer.pbx.play(answer[hangup:])
    await dialer.pbx.wait_sent()
    await until(lambda: any(m.get("Event") == "Hangup" for m in dispatcher.inbox))
    assert await dispatcher.run_once() == 1
    assert [a["ChannelId"] for a in dialer.originates()][-1] == f"cb-{waiting[1]}-1"


async def test_visits_and_reply_letters_are_never_dialled(dialer: Dialer) -> None:
    visit = await dialer.owe("13900000001", kind=CallbackKind.VISIT, extension=None)
    letter = await dialer.owe("", kind=CallbackKind.REPLY_LETTER, extension=None)
    assert await dialer.dispatcher().run_once() == 0
    assert dialer.originates() == []
    assert [(await dialer.callback(i))["state"] for i in (visit, letter)] == ["scheduled", "scheduled"]


async def test_the_agents_phone_not_answering_does_not_use_up_the_customers_attempts(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13912345678", extension="8001", max_attempts=1)
    dispatcher = dialer.dispatcher()
    for attempt in range(1, 5):
        assert await dispatcher.run_once() == 1
        channel_id = f"cb-{callback_id}-{attempt}"
        await dialer.replay("callback-busy-and-noanswer", {"rec-29": channel_id}, dispatcher)  # Reason 3: nobody answered
        dialer.desk.clock.advance(timedelta(minutes=2))
    row = await dialer.callback(callback_id)
    # Three agent-leg failures given back, the fourth counts: the customer was never dialled.
    assert (row["state"], row["outcome"]) == ("failed", "no_answer")
    assert row["note"].startswith("坐席分机 3 次未接")


async def test_a_caller_answered_while_their_callback_rings_is_not_called_again(dialer: Dialer) -> None:
    desk = dialer.desk
    lost = LostCallers(desk.engine, CallStore(desk.engine), desk.clock, LostCallPolicy(Mode.AGENT_FIRST, 3, "0827"), in_working_hours=lambda _: True)
    callback_id = await lost.owe(CallbackKind.ABANDONED, "13912345678", "regular", call_id="c1", at=desk.clock.now())
    assert callback_id is not None
    dispatcher = dialer.dispatcher()
    await dispatcher.run_once()
    async with desk.engine.begin() as conn:  # the caller's new call, answered meanwhile
        await conn.execute(insert(calls).values(id="c2", linkedid="c2", caller_number="+8613912345678", state="talking", arrived_at=desk.clock.now()))
    await lost.on_call_answered(CallAnswered("c2", desk.clock.now(), "hotline", "agent-8002", "Local/8002@agents/n", 5.0))
    assert (await dialer.callback(callback_id))["state"] == "in_flight"  # the call in flight goes on
    channel_id = f"cb-{callback_id}-1"
    await dialer.replay("callback-busy-and-noanswer", {"rec-28": channel_id}, dispatcher)  # busy: on the phone with us
    row = await dialer.callback(callback_id)
    assert (row["state"], row["next_attempt_at"], row["open_key"]) == ("cancelled", None, None)
    assert "answered" in row["note"]
    desk.clock.advance(timedelta(hours=1))
    assert await dispatcher.run_once() == 0


async def test_what_asterisk_said_before_the_channel_list_counts_when_reconciling(dialer: Dialer) -> None:
    """The 5-minute reconcile can fall on a round whose call has just ended, its events
    read but not yet recorded: they decide, not "never heard"."""
    desk = dialer.desk
    ticket_id = await resolved_repair(desk)
    callback_id = await dialer.owe("13912345671", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, ticket_id=ticket_id, extension=None)
    dispatcher = dialer.dispatcher()
    await dispatcher.run_once()
    desk.clock.advance(timedelta(minutes=6))
    channel_id = f"cb-{callback_id}-1"
    answer = [m.replace(b"Score: 5\r\n", b"Score: 1\r\n") for m in recorded_answer("survey-dtmf", {"rec-32": channel_id, "1795533062.28": channel_id})]
    dialer.pbx.play(answer)
    await dialer.pbx.wait_sent()
    await until(lambda: any(m.get("Event") == "Hangup" for m in dispatcher.inbox))

    assert await dispatcher.reconcile() == 0  # the channel is gone, but its events are in

    row = await dialer.callback(callback_id)
    assert (row["state"], row["score"]) == ("done", 1)
    assert await desk.count_tickets() == 2  # the low score went back to be worked again


async def test_the_same_result_reported_by_two_instances_at_once_is_on_the_ticket_once(dialer: Dialer) -> None:
    desk = dialer.desk
    ticket_id = await resolved_repair(desk)
    result = CallbackResult(7, "follow_up", "done", "answered", 1, 1, low=True)
    await asyncio.gather(desk.service.report_callback(ticket_id, result), desk.service.report_callback(ticket_id, result))
    assert [k for k, _, _ in await desk.timeline(ticket_id)].count("callback_result") == 1
    assert await desk.count_tickets() == 2


async def test_two_dispatchers_at_once_keep_the_cap(dialer: Dialer) -> None:
    for i in range(6):
        await dialer.owe(f"1390000001{i}", mode=Mode.SURVEY, kind=CallbackKind.FOLLOW_UP, extension=None)
    one, other = dialer.dispatcher(), dialer.dispatcher()
    placed = await asyncio.gather(one.run_once(), other.run_once())
    assert sum(placed) == 2
    assert len({a["ChannelId"] for a in dialer.originates()}) == 2


async def test_a_placed_callback_is_published_for_the_agents_pop(dialer: Dialer) -> None:
    heard: list[CallbackPlaced] = []

    async def hear(event: CallbackPlaced) -> None:
        heard.append(event)

    dialer.desk.bus.subscribe(CallbackPlaced, hear)
    callback_id = await dialer.owe("13912345678", kind=CallbackKind.ABANDONED, extension=None)
    dispatcher = dialer.dispatcher()
    dispatcher.bus = dialer.desk.bus
    assert await dispatcher.run_once() == 1
    [event] = heard
    assert (event.callback_id, event.channel_id, event.kind, event.agent_extension, event.number) == (callback_id, f"cb-{callback_id}-1", "abandoned", "8001", "13912345678")
    assert event.owed_since == dialer.desk.clock.now()

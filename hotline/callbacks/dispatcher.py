"""Places the callbacks that are due through Asterisk (AMI Originate) and records what
happened to each call.

Exactly once: an attempt's row (its ChannelId, which is also the ActionID and becomes the
new channel's Uniqueid) is committed before the Originate is sent. After a restart an
attempt with no end is never sent again: if Asterisk still has the channel, its events end
it; if not, the callback is marked failed with the reason, for a supervisor to look at.
Asterisk itself refuses a second live channel with the same ChannelId.

Outcomes come from the Originate's answer, the OriginateResponse event (Reason: 3 no
answer, 5 busy, 8 congestion, 4 answered), the dialplan's UserEvents (HotlineCallback:
the customer's DialStatus after the agent answered, also read from the DialEnd of the
agent's leg in hotline-callback; HotlineSurvey: the score) and the Hangup of the channel. Several instances may run: claims lock their rows (SKIP LOCKED on
PostgreSQL, the write lock on SQLite) and every write of an outcome is conditional, so an
event heard by every instance is recorded once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.clock import Clock
from hotline.db.engine import write_transaction
from hotline.metrics import Metrics

from hotline.tickets.service import CallbackResult
from hotline.tickets.tables import tickets

from .model import CallbackState, Mode, Outcome, outcome_of_response, sends_back, survey_score
from .policy import CallingWindow, RetryPolicy, next_attempt, next_open
from .tables import callback_attempts, callbacks

log = structlog.get_logger(__name__)

Message = Mapping[str, str]
Send = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]
LiveChannels = Callable[[], Awaitable[set[str]]]
OnResult = Callable[[int, CallbackResult], Awaitable[object]]

CALLER_ID = '"96655" <96655>'
_BUSY = (CallbackState.PLACING.value, CallbackState.IN_FLIGHT.value)
# A failed callback's reason, read by supervisors: Chinese first.
_WORDS = {Outcome.BUSY: "占线", Outcome.NO_ANSWER: "无人接听", Outcome.REJECTED: "被拒接", Outcome.CONGESTION: "线路拥塞", Outcome.FAILED: "呼叫失败"}
RECONCILE_EVERY = timedelta(minutes=5)
RECONCILE_MIN_AGE = timedelta(seconds=30)
_FINISHED = (CallbackState.DONE.value, CallbackState.FAILED.value)
_USER_EVENTS = ("HotlineCallback", "HotlineSurvey")
_DIAL_STATUS = {"ANSWER": Outcome.ANSWERED, "BUSY": Outcome.BUSY, "NOANSWER": Outcome.NO_ANSWER, "CONGESTION": Outcome.CONGESTION, "CHANUNAVAIL": Outcome.FAILED}


@dataclass(frozen=True, slots=True)
class Placing:
    """Where calls go. `agent_channel` and `outbound_channel` are templates: {extension},
    {number}; e.g. Local/{extension}@agents and PJSIP/{number}@carrier."""

    agent_channel: str
    outbound_channel: str
    default_agent_extension: str
    ring_seconds: int
    max_concurrent: int
    window: CallingWindow
    retry: RetryPolicy
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    mode: str
    number: str
    attempt: int
    agent_extension: str | None
    ticket: str | None

    @property
    def channel_id(self) -> str:
        return f"cb-{self.id}-{self.attempt}"


def originate(due: Due, placing: Placing) -> dict[str, Any]:
    """The Originate for one attempt (pure): agent-first rings the agent, whose answer
    runs hotline-callback to dial the customer; a survey calls the customer into
    hotline-survey."""
    # One Variable header each, as Asterisk reads them (and as the transcripts send them).
    variables = [f"HOTLINE_CALLBACK={due.id}", f"HOTLINE_TICKET={due.ticket or ''}"]
    common = {"Action": "Originate", "ActionID": due.channel_id, "ChannelId": due.channel_id, "Priority": "1", "CallerID": CALLER_ID,
              "Async": "true", "Timeout": str(placing.ring_seconds * 1000), "Variable": variables}  # fmt: skip
    if due.mode == Mode.AGENT_FIRST.value:
        extension = due.agent_extension or placing.default_agent_extension
        return {**common, "Channel": placing.agent_channel.format(extension=extension), "Context": "hotline-callback", "Exten": due.number}
    return {**common, "Channel": placing.outbound_channel.format(number=due.number), "Context": "hotline-survey", "Exten": "s"}


class CallbackDispatcher:
    def __init__(self, engine: AsyncEngine, clock: Clock, placing: Placing, send: Send, *, is_working_day: Callable[[date], bool], live_channels: LiveChannels, on_result: OnResult | None = None, metrics: Metrics | None = None, poll_interval: timedelta = timedelta(seconds=1)) -> None:
        self.engine, self.clock, self.placing, self.send = engine, clock, placing, send
        self.on_result = on_result
        self.is_working_day, self.live_channels = is_working_day, live_channels
        self.metrics = metrics if metrics is not None else Metrics()
        self.poll_interval = poll_interval
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._arrived = asyncio.Event()  # set with every message put in the inbox
        self._sqlite = engine.dialect.name == "sqlite"
        self._reconciled = False
        self._reconciled_at = clock.now()

    # -- what Asterisk says (called synchronously by the AMI client for every event) ------------

    def on_ami_event(self, message: Message) -> None:
        event = message.get("Event", "")
        ours = (
            (event == "OriginateResponse" and message.get("ActionID", "").startswith("cb-"))
            or (event == "UserEvent" and message.get("UserEvent") in _USER_EVENTS)
            or (event in ("Hangup", "DialEnd") and message.get("Uniqueid", "").startswith("cb-"))
        )
        if ours:
            self.inbox.put_nowait(message)
            self._arrived.set()

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, connected: Callable[[], bool]) -> None:
        log.info("callbacks.started", max_concurrent=self.placing.max_concurrent)
        while not stop.is_set():
            if not connected():
                # Events may be lost while the link is down: look again once it is back.
                self._reconciled = False
            else:
                try:
                    await self.run_once()
                except Exception:  # a database or AMI fault: logged, tried again next round
                    self.metrics.inc("hotline_callback_errors_total")
                    log.exception("callbacks.round_failed")
            await self._nap(stop)
        log.info("callbacks.stopped")

    async def run_once(self) -> int:
        """Reconcile once (after a start or a reconnect), record what Asterisk said, put
        finished results on their tickets, place what is due and allowed; how many calls
        were placed."""
        if not self._reconciled or self.clock.now() - self._reconciled_at >= RECONCILE_EVERY:
            await self.reconcile()
            self._reconciled = True
        self._arrived.clear()  # before draining: a message after this wakes the next nap
        while not self.inbox.empty():
            await self.record(self.inbox.get_nowait())
        await self.report_pending()
        placed = 0
        for due in await self._claim():
            placed += await self._place(due)
        return placed

    async def _nap(self, stop: asyncio.Event) -> None:
        waits = {asyncio.create_task(self.clock.sleep_until(self.clock.now() + self.poll_interval)), asyncio.create_task(stop.wait())}
        waits.add(asyncio.create_task(self._arrived.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    # -- placing ----------------------------------------------------------------------------------

    async def _claim(self) -> list[Due]:
        """Due callbacks, best first, as many as the cap leaves room for; each gets its
        attempt row (committed) before anything is sent. Outside the calling window they
        move to its next opening instead."""
        now = self.clock.now().astimezone(UTC)
        opens = next_open(now, self.placing.window, self.is_working_day, self.placing.tz).astimezone(UTC)
        async with write_transaction(self.engine) as conn:
            if opens > now:
                await conn.execute(
                    update(callbacks)
                    .where(callbacks.c.state == CallbackState.SCHEDULED.value, callbacks.c.next_attempt_at < opens)
                    .values(next_attempt_at=opens, updated_at=now, version=callbacks.c.version + 1)
                )
                return []
            busy = (await conn.execute(select(func.count()).select_from(callbacks).where(callbacks.c.state.in_(_BUSY)))).scalar_one()
            room = self.placing.max_concurrent - busy
            if room <= 0:
                return []
            query = (
                select(callbacks.c.id, callbacks.c.mode, callbacks.c.number, callbacks.c.attempts, callbacks.c.agent_extension, callbacks.c.ticket_id)
                .where(callbacks.c.state == CallbackState.SCHEDULED.value, callbacks.c.next_attempt_at <= now)
                .order_by(callbacks.c.priority.desc(), callbacks.c.next_attempt_at, callbacks.c.id)
                .limit(room)
            )
            if not self._sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = (await conn.execute(query)).all()
            claimed = [Due(row.id, row.mode, row.number, row.attempts + 1, row.agent_extension, await _ticket_number(conn, row.ticket_id)) for row in rows]
            for due in claimed:
                await conn.execute(update(callbacks).where(callbacks.c.id == due.id).values(state=CallbackState.PLACING.value, attempts=due.attempt, next_attempt_at=None, updated_at=now, version=callbacks.c.version + 1))
                await conn.execute(insert(callback_attempts).values(callback_id=due.id, attempt=due.attempt, channel_id=due.channel_id, started_at=now, data={}))
        return claimed

    async def _place(self, due: Due) -> int:
        action = originate(due, self.placing)
        try:
            reply = await self.send(action)
        except Exception as exc:  # not connected, timed out: it may or may not have gone out
            log.warning("callback.originate_unanswered", callback=due.id, attempt=due.attempt, error=repr(exc))
            await self._finish(due.channel_id, Outcome.FAILED, {"error": repr(exc)}, retry=False, note="Asterisk 未答复呼叫请求，不知是否已拨出，未再拨打，请与客户核实 / no answer to the Originate from Asterisk: whether the call was placed is unknown; not placed again, check with the customer")
            return 0
        if reply.get("Response") != "Success":
            log.warning("callback.originate_refused", callback=due.id, attempt=due.attempt, message=reply.get("Message"))
            await self._finish(due.channel_id, Outcome.FAILED, {"Response": str(reply.get("Response")), "Message": str(reply.get("Message", ""))}, retry=True)
            return 0
        async with self.engine.begin() as conn:
            await conn.execute(update(callbacks).where(callbacks.c.id == due.id, callbacks.c.state == CallbackState.PLACING.value).values(state=CallbackState.IN_FLIGHT.value, updated_at=self.clock.now(), version=callbacks.c.version + 1))
        self.metrics.inc("hotline_callbacks_placed_total")
        log.info("callback.placed", callback=due.id, attempt=due.attempt, mode=due.mode, number=due.number, channel_id=due.channel_id)
        return 1

    # -- outcomes ---------------------------------------------------------------------------------

    async def record(self, message: Message) -> None:
        event = message.get("Event")
        if event == "OriginateResponse":
            channel_id = message.get("ActionID", "")
            if message.get("Response") == "Success":
                await self._note(channel_id, {"Response": "Success", "Reason": message.get("Reason", "")})
            else:
                outcome = outcome_of_response(message.get("Response", ""), message.get("Reason", ""))
                await self._finish(channel_id, outcome, {"Response": message.get("Response", ""), "Reason": message.get("Reason", "")}, retry=True)
        elif event == "UserEvent":
            await self._user_event(message)
        elif event == "DialEnd" and message.get("Context") == "hotline-callback":
            # Agent-first: the agent's leg dialled the customer; DialStatus says how that went.
            status = message.get("DialStatus", "")
            await self._finish(message.get("Uniqueid", ""), _DIAL_STATUS.get(status, Outcome.FAILED), {"DialStatus": status}, retry=True)
        elif event == "Hangup":
            # The end of the call: whatever the dialplan did not report was not reached.
            # Before the OriginateResponse (a busy phone hangs up first) it only notes the
            # cause: the response says busy or no answer.
            await self._finish(message.get("Uniqueid", ""), None, {"Cause": message.get("Cause", "")}, retry=True, only_after_response=True)

    async def _user_event(self, message: Message) -> None:
        channel_id = message.get("Uniqueid", "")
        if message.get("UserEvent") == "HotlineSurvey":
            score = message.get("Score", "")
            data = {"Score": score, "ReadStatus": message.get("ReadStatus", "")}
            await self._finish(channel_id, Outcome.ANSWERED, data, retry=False, score=survey_score(score))
        else:
            status = message.get("DialStatus", "")
            await self._finish(channel_id, _DIAL_STATUS.get(status, Outcome.FAILED), {"DialStatus": status}, retry=True)

    async def _note(self, channel_id: str, data: dict[str, str]) -> None:
        async with self.engine.begin() as conn:
            attempt = (await conn.execute(select(callback_attempts.c.id, callback_attempts.c.data).where(callback_attempts.c.channel_id == channel_id))).first()
            if attempt is not None:
                await conn.execute(update(callback_attempts).where(callback_attempts.c.id == attempt.id).values(data={**attempt.data, **data}))

    async def _finish(self, channel_id: str, outcome: Outcome | None, data: Mapping[str, str], *, retry: bool, score: int | None = None, note: str | None = None, only_after_response: bool = False) -> None:
        """End an attempt once (the first word on it wins; later ones only add data), then
        its callback: done, scheduled again, or failed. `outcome` None: the call ended
        with nothing reported; answered if Asterisk said the leg was answered."""
        now = self.clock.now().astimezone(UTC)
        async with write_transaction(self.engine) as conn:
            attempt = (await conn.execute(select(callback_attempts).where(callback_attempts.c.channel_id == channel_id))).mappings().first()
            if attempt is None:
                return  # not one of ours (another site's callback, or a channel id reused)
            merged = {**attempt["data"], **data}
            if attempt["ended_at"] is not None or (only_after_response and "Response" not in attempt["data"]):
                await conn.execute(update(callback_attempts).where(callback_attempts.c.id == attempt["id"]).values(data=merged))
                return
            if outcome is None:
                outcome = Outcome.ANSWERED if merged.get("Response") == "Success" and "DialStatus" not in merged else Outcome.FAILED
            await conn.execute(update(callback_attempts).where(callback_attempts.c.id == attempt["id"]).values(ended_at=now, outcome=outcome.value, data=merged))
            row = (await conn.execute(select(callbacks).where(callbacks.c.id == attempt["callback_id"]))).mappings().one()
            if row["state"] not in _BUSY:
                return
            values: dict[str, Any] = {"outcome": outcome.value, "updated_at": now, "version": row["version"] + 1}
            if score is not None:
                values["score"] = score
            # The row's own budget (an agent's booking may allow fewer) within the policy's.
            tries_left = retry and outcome != Outcome.ANSWERED and row["attempts"] < row["max_attempts"]
            budget = RetryPolicy(row["max_attempts"], self.placing.retry.spacing)
            later = next_attempt(budget, row["attempts"], outcome, now) if tries_left else None
            if outcome == Outcome.ANSWERED:
                values.update(state=CallbackState.DONE.value, open_key=None)
            elif later is not None:
                values.update(state=CallbackState.SCHEDULED.value, next_attempt_at=later)
            else:
                reason = note or f"{row['attempts']} 次均未接通，最后一次：{_WORDS.get(outcome, outcome.value)} / {row['attempts']} attempt(s), the last: {outcome.value}"
                # The reason comes first; what a person wrote on it (a booking's note) stays.
                values.update(state=CallbackState.FAILED.value, open_key=None, note=reason + (f"\n{row['note']}" if row["note"] else ""))
            await conn.execute(update(callbacks).where(callbacks.c.id == row["id"], callbacks.c.version == row["version"]).values(**values))
        self.metrics.inc("hotline_callback_attempts_ended_total")
        log.info("callback.attempt_ended", callback=attempt["callback_id"], attempt=attempt["attempt"], outcome=outcome.value, state=values["state"], next_attempt_at=values.get("next_attempt_at"), score=score)
        if values["state"] in _FINISHED and row["ticket_id"] is not None:
            await self._report(attempt["callback_id"])

    # -- results on tickets -------------------------------------------------------------------------

    async def report_pending(self) -> int:
        """Finished callbacks whose result is not on their ticket yet (a crash came between)."""
        async with self.engine.connect() as conn:
            pending = (await conn.execute(select(callbacks.c.id).where(callbacks.c.state.in_(_FINISHED), callbacks.c.ticket_id.is_not(None), callbacks.c.reported_at.is_(None)))).scalars().all()
        for callback_id in pending:
            await self._report(callback_id)
        return len(pending)

    async def _report(self, callback_id: int) -> None:
        if self.on_result is None:
            return
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(callbacks).where(callbacks.c.id == callback_id))).mappings().one()
        score = row["score"]
        result = CallbackResult(row["id"], row["kind"], row["state"], row["outcome"], score, row["attempts"], low=score is not None and sends_back(score))
        await self.on_result(row["ticket_id"], result)  # once per callback: the ticket checks
        async with self.engine.begin() as conn:
            await conn.execute(update(callbacks).where(callbacks.c.id == callback_id).values(reported_at=self.clock.now()))

    # -- after a restart or a reconnect, and every few minutes ------------------------------------

    async def reconcile(self) -> int:
        """Attempts left open (the service died, or their events were lost while the AMI
        link was down): a live channel finishes by its events; any other is not placed
        again but failed, for a supervisor. Attempts younger than RECONCILE_MIN_AGE are
        left alone: their Originate may still be on its way. How many were failed."""
        self._reconciled_at = self.clock.now()
        older_than = self._reconciled_at - RECONCILE_MIN_AGE
        async with self.engine.connect() as conn:
            query = select(callback_attempts.c.channel_id).where(callback_attempts.c.ended_at.is_(None), callback_attempts.c.started_at < older_than)
            open_attempts = (await conn.execute(query)).scalars().all()
        if not open_attempts:
            return 0
        live = await self.live_channels()
        failed = 0
        for channel_id in open_attempts:
            if channel_id in live:
                log.info("callback.still_live", channel_id=channel_id)
                continue
            await self._finish(channel_id, Outcome.FAILED, {"reconciled": "no live channel"}, retry=False, note="未收到这次呼叫的结果（服务停止或与 Asterisk 的连接中断），Asterisk 上也已无此通话：未再拨打，请与客户核实 / the outcome of this call was never heard (the service stopped, or the AMI link was down) and Asterisk has no such channel now: it was not placed again; check with the customer")
            failed += 1
        return failed


async def _ticket_number(conn: AsyncConnection, ticket_id: int | None) -> str | None:
    if ticket_id is None:
        return None
    return (await conn.execute(select(tickets.c.number).where(tickets.c.id == ticket_id))).scalar()

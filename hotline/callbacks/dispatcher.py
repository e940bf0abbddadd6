"""Places the callbacks that are due through Asterisk (AMI Originate) and records what
happened to each call.

Exactly once: an attempt's row (its ChannelId, which is also the ActionID and becomes the
new channel's Uniqueid) is committed before the Originate is sent. An Originate that could
not be written (not connected) is given back; one that was written but not answered is
never sent again. After a restart, a reconnect and every few minutes, attempts with no end
are checked against Asterisk's channels: a live one ends by its events, any other is
failed with the reason for a supervisor. Asterisk itself refuses a second live channel
with the same ChannelId.

Outcomes come from the Originate's answer, the OriginateResponse event (Reason: 3 no
answer, 5 busy, 8 congestion, 4 answered; for agent-first the agent's phone), the
dialplan's UserEvents (HotlineCallback: the customer's DialStatus after the agent
answered, also read from the DialEnd of the agent's leg in hotline-callback;
HotlineSurvey: the score) and the Hangup of the channel; settle.py decides what becomes of
the callback. Several instances may run: claims take one PostgreSQL advisory lock (the
write lock on SQLite), an outcome is written under the callback's row lock, and every
write is conditional, so an event heard by every instance is recorded once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.ami.client import OriginateNotSent
from hotline.clock import Clock
from hotline.events import EventBus
from hotline.cluster.lease import LeaseLost
from hotline.db.engine import Fence, write_transaction
from hotline.metrics import Metrics

from hotline.tickets.service import CallbackResult
from hotline.tickets.tables import tickets

from .events import CallbackPlaced
from .model import NOT_CALLED, CallbackState, Mode, Outcome, outcome_of_response, sends_back, survey_score
from .policy import CallingWindow, RetryPolicy, next_open
from .settle import Ended, settle
from .tables import callback_attempts, callbacks

log = structlog.get_logger(__name__)

Message = Mapping[str, str]
Send = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]
LiveChannels = Callable[[], Awaitable[set[str]]]
OnResult = Callable[[int, CallbackResult], Awaitable[object]]

CALLER_ID = '"96655" <96655>'
_BUSY = (CallbackState.PLACING.value, CallbackState.IN_FLIGHT.value)
_NOT_CALLED = [kind.value for kind in NOT_CALLED]  # visits and letters: a person records them
CLAIM_LOCK = 96655_01  # pg_advisory_xact_lock key: one claim at a time across instances
CLAIM_LOOKAHEAD = 20  # candidates read beyond the room, for those whose agent is busy
_NEVER_HEARD = "未收到这次呼叫的结果（服务停止或与 Asterisk 的连接中断），Asterisk 上也已无此通话：未再拨打，请与客户核实 / the outcome of this call was never heard (the service stopped, or the AMI link was down) and Asterisk has no such channel now: it was not placed again; check with the customer"
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
    kind: str = ""
    ticket_id: int | None = None
    note: str | None = None
    owed_since: datetime | None = None

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
    def __init__(self, engine: AsyncEngine, clock: Clock, placing: Placing, send: Send, *, is_working_day: Callable[[date], bool], live_channels: LiveChannels, on_result: OnResult | None = None, metrics: Metrics | None = None, poll_interval: timedelta = timedelta(seconds=1), bus: EventBus | None = None) -> None:
        self.engine, self.clock, self.placing, self.send = engine, clock, placing, send
        self.bus = bus
        self.on_result = on_result
        self.is_working_day, self.live_channels = is_working_day, live_channels
        self.metrics = metrics if metrics is not None else Metrics()
        self.poll_interval = poll_interval
        # What Asterisk said, oldest first; a message leaves only once it is recorded.
        self.inbox: deque[Message] = deque()
        self._arrived = asyncio.Event()  # set with every message put in the inbox
        self._sqlite = engine.dialect.name == "sqlite"
        self._reconciled = False
        self._reconciled_at = clock.now()
        # Several instances: Lease.fence, first in each transaction that claims callbacks or
        # writes what Asterisk said of them: only the AMI owner's are written.
        self.fence: Fence | None = None

    # -- what Asterisk says (called synchronously by the AMI client for every event) ------------

    def on_ami_event(self, message: Message) -> None:
        event = message.get("Event", "")
        ours = (
            (event == "OriginateResponse" and message.get("ActionID", "").startswith("cb-"))
            or (event == "UserEvent" and message.get("UserEvent") in _USER_EVENTS)
            or (event in ("Hangup", "DialEnd") and message.get("Uniqueid", "").startswith("cb-"))
        )
        if ours:
            self.inbox.append(message)
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
                except LeaseLost:
                    # Another instance owns the AMI connection: it hears these calls' events
                    # too and reconciles what is open; ours are dropped, not written twice.
                    self.metrics.inc("hotline_callback_events_fenced_total", len(self.inbox))
                    log.warning("callbacks.fenced", messages=len(self.inbox))
                    self.inbox.clear()
                    self._reconciled = False
                except Exception:  # a database or AMI fault: logged, tried again next round
                    self.metrics.inc("hotline_callback_errors_total")
                    log.exception("callbacks.round_failed")
            await self._nap(stop)
        log.info("callbacks.stopped")

    async def run_once(self) -> int:
        """Record what Asterisk said, reconcile (after a start or a reconnect, and every few
        minutes), put finished results on their tickets, place what is due and allowed;
        how many calls were placed."""
        self._arrived.clear()  # before draining: a message after this wakes the next nap
        await self.drain()
        if not self._reconciled or self.clock.now() - self._reconciled_at >= RECONCILE_EVERY:
            await self.reconcile()
            self._reconciled = True
        await self.report_pending()
        placed = 0
        for due in await self._claim():
            placed += await self._place(due)
        return placed

    async def drain(self) -> None:
        """Record every message heard; one that cannot be recorded (a database fault) stays
        first in the inbox for the next round."""
        while self.inbox:
            await self.record(self.inbox[0])
            self.inbox.popleft()

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
        """Due callbacks, best first, as many as the cap leaves room for, never two on one
        agent's phone; each gets its attempt row (committed) before anything is sent.
        Outside the calling window they move to its next opening instead. The cap counts
        calls not yet hung up (an agent-first callback is done when the customer answers,
        but the call goes on). On PostgreSQL one claim at a time across instances."""
        now = self.clock.now().astimezone(UTC)
        opens = next_open(now, self.placing.window, self.is_working_day, self.placing.tz).astimezone(UTC)
        async with write_transaction(self.engine, self.fence) as conn:
            if not self._sqlite and not (await conn.execute(select(func.pg_try_advisory_xact_lock(CLAIM_LOCK)))).scalar():
                self.metrics.inc("hotline_callback_claims_contended_total")  # another instance claims: wait for it
                await conn.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
            if opens > now:
                await conn.execute(
                    update(callbacks)
                    .where(callbacks.c.state == CallbackState.SCHEDULED.value, callbacks.c.next_attempt_at < opens)
                    .values(next_attempt_at=opens, updated_at=now, version=callbacks.c.version + 1)
                )
                return []
            live = (await conn.execute(
                select(callbacks.c.mode, callbacks.c.agent_extension)
                .select_from(callback_attempts.join(callbacks, callbacks.c.id == callback_attempts.c.callback_id))
                .where(callback_attempts.c.hung_up_at.is_(None))
            )).all()  # fmt: skip
            room = self.placing.max_concurrent - len(live)
            if room <= 0:
                return []
            ringing = {self._agent_of(row.mode, row.agent_extension) for row in live} - {None}
            query = (
                select(callbacks.c.id, callbacks.c.mode, callbacks.c.number, callbacks.c.attempts, callbacks.c.agent_extension, callbacks.c.ticket_id, callbacks.c.kind, callbacks.c.note, callbacks.c.created_at)
                .where(callbacks.c.state == CallbackState.SCHEDULED.value, callbacks.c.next_attempt_at <= now, callbacks.c.kind.not_in(_NOT_CALLED))
                .order_by(callbacks.c.priority.desc(), callbacks.c.next_attempt_at, callbacks.c.id)
                .limit(room + CLAIM_LOOKAHEAD)
            )
            claimed: list[Due] = []
            for row in (await conn.execute(query)).all():
                agent = self._agent_of(row.mode, row.agent_extension)
                if len(claimed) == room:
                    break
                if agent is not None and agent in ringing:
                    continue  # that agent's phone is on a callback already
                ringing.add(agent)
                claimed.append(Due(row.id, row.mode, row.number, row.attempts + 1, row.agent_extension, await _ticket_number(conn, row.ticket_id), row.kind, row.ticket_id, row.note, _utc(row.created_at)))
            for due in claimed:
                await conn.execute(update(callbacks).where(callbacks.c.id == due.id).values(state=CallbackState.PLACING.value, attempts=due.attempt, next_attempt_at=None, updated_at=now, version=callbacks.c.version + 1))
                await conn.execute(insert(callback_attempts).values(callback_id=due.id, attempt=due.attempt, channel_id=due.channel_id, started_at=now, data={}))
        return claimed

    def _agent_of(self, mode: str, extension: str | None) -> str | None:
        return (extension or self.placing.default_agent_extension) if mode == Mode.AGENT_FIRST.value else None

    async def _place(self, due: Due) -> int:
        action = originate(due, self.placing)
        try:
            reply = await self.send(action)
        except OriginateNotSent:
            # Not connected: nothing reached Asterisk. The attempt is given back.
            log.info("callback.not_sent", callback=due.id, attempt=due.attempt)
            await self._not_sent(due)
            return 0
        except Exception as exc:  # timed out, or the link broke after writing: it may have gone out
            log.warning("callback.originate_unanswered", callback=due.id, attempt=due.attempt, error=repr(exc))
            note = "Asterisk 未答复呼叫请求，不知是否已拨出，未再拨打，请与客户核实 / no answer to the Originate from Asterisk: whether the call was placed is unknown; not placed again, check with the customer"
            await self._finish(due.channel_id, Ended(Outcome.FAILED, retry=False, note=note), {"error": repr(exc)})
            return 0
        if reply.get("Response") != "Success":
            log.warning("callback.originate_refused", callback=due.id, attempt=due.attempt, message=reply.get("Message"))
            await self._finish(due.channel_id, Ended(Outcome.FAILED, retry=True), {"Response": str(reply.get("Response")), "Message": str(reply.get("Message", ""))}, hung_up=True)
            return 0
        async with self.engine.begin() as conn:
            await conn.execute(update(callbacks).where(callbacks.c.id == due.id, callbacks.c.state == CallbackState.PLACING.value).values(state=CallbackState.IN_FLIGHT.value, updated_at=self.clock.now(), version=callbacks.c.version + 1))
        self.metrics.inc("hotline_callbacks_placed_total")
        log.info("callback.placed", callback=due.id, attempt=due.attempt, mode=due.mode, number=due.number, channel_id=due.channel_id)
        if self.bus is not None:
            now = self.clock.now()
            agent = self._agent_of(due.mode, due.agent_extension)
            await self.bus.publish(CallbackPlaced(due.id, due.attempt, due.channel_id, due.kind, due.mode, due.number, agent, due.ticket_id, due.note, due.owed_since or now, now))
        return 1

    async def _not_sent(self, due: Due) -> None:
        now = self.clock.now().astimezone(UTC)
        async with write_transaction(self.engine, self.fence) as conn:
            await conn.execute(update(callback_attempts).where(callback_attempts.c.channel_id == due.channel_id).values(ended_at=now, hung_up_at=now, outcome="not_sent", data={"not_sent": "not connected to Asterisk"}))
            await conn.execute(
                update(callbacks)
                .where(callbacks.c.id == due.id, callbacks.c.state == CallbackState.PLACING.value)
                .values(state=CallbackState.SCHEDULED.value, next_attempt_at=now, max_attempts=callbacks.c.max_attempts + 1, updated_at=now, version=callbacks.c.version + 1)
            )

    # -- outcomes ---------------------------------------------------------------------------------

    async def record(self, message: Message) -> None:
        event = message.get("Event")
        if event == "OriginateResponse":
            channel_id = message.get("ActionID", "")
            response = {"Response": message.get("Response", ""), "Reason": message.get("Reason", "")}
            if message.get("Response") == "Success":
                await self._note(channel_id, response)
            else:
                # The first leg never came up: for agent-first that is the agent's phone.
                agent_leg = await self._mode_of(channel_id) == Mode.AGENT_FIRST.value
                ended = Ended(outcome_of_response(response["Response"], response["Reason"]), retry=True, agent_leg=agent_leg)
                await self._finish(channel_id, ended, {**response, **({"leg": "agent"} if agent_leg else {})}, hung_up=True)
        elif event == "UserEvent":
            await self._user_event(message)
        elif event == "DialEnd" and message.get("Context") == "hotline-callback":
            # Agent-first: the agent's leg dialled the customer; DialStatus says how that went.
            await self._dial_status(message.get("Uniqueid", ""), message.get("DialStatus", ""))
        elif event == "Hangup":
            # The end of the call: whatever the dialplan did not report was not reached.
            # Before the OriginateResponse (a busy phone hangs up first) it only notes the
            # cause: the response says busy or no answer.
            await self._finish(message.get("Uniqueid", ""), None, {"Cause": message.get("Cause", "")}, only_after_response=True, hung_up=True)

    async def _user_event(self, message: Message) -> None:
        channel_id = message.get("Uniqueid", "")
        if message.get("UserEvent") == "HotlineSurvey":
            score = message.get("Score", "")
            data = {"Score": score, "ReadStatus": message.get("ReadStatus", "")}
            await self._finish(channel_id, Ended(Outcome.ANSWERED, retry=False, score=survey_score(score)), data)
        else:
            await self._dial_status(channel_id, message.get("DialStatus", ""))

    async def _dial_status(self, channel_id: str, status: str) -> None:
        # INVALIDARGS: the dialplan refused the number; calling it again cannot help.
        ended = Ended(_DIAL_STATUS.get(status, Outcome.FAILED), retry=status != "INVALIDARGS")
        await self._finish(channel_id, ended, {"DialStatus": status})

    async def _mode_of(self, channel_id: str) -> str | None:
        async with self.engine.connect() as conn:
            query = select(callbacks.c.mode).select_from(callback_attempts.join(callbacks, callbacks.c.id == callback_attempts.c.callback_id)).where(callback_attempts.c.channel_id == channel_id)
            return (await conn.execute(query)).scalar()

    async def _note(self, channel_id: str, data: dict[str, str]) -> None:
        async with write_transaction(self.engine, self.fence) as conn:
            attempt = (await conn.execute(select(callback_attempts.c.id, callback_attempts.c.data).where(callback_attempts.c.channel_id == channel_id))).first()
            if attempt is not None:
                await conn.execute(update(callback_attempts).where(callback_attempts.c.id == attempt.id).values(data={**attempt.data, **data}))

    async def _finish(self, channel_id: str, ended: Ended | None, data: Mapping[str, str], *, only_after_response: bool = False, hung_up: bool = False) -> None:
        """End an attempt once (the first word on it wins; later ones only add data), then
        settle its callback, under the callback's row lock. `ended` None: the call ended
        with nothing reported; answered if Asterisk said the leg was answered."""
        now = self.clock.now().astimezone(UTC)
        async with write_transaction(self.engine, self.fence) as conn:
            attempt = (await conn.execute(select(callback_attempts).where(callback_attempts.c.channel_id == channel_id))).mappings().first()
            if attempt is None:
                return  # not one of ours (another site's callback, or the ;2 half of a Local channel)
            changes: dict[str, Any] = {"data": {**attempt["data"], **data}}
            if hung_up and attempt["hung_up_at"] is None:
                changes["hung_up_at"] = now
            if attempt["ended_at"] is not None or (only_after_response and "Response" not in attempt["data"]):
                await conn.execute(update(callback_attempts).where(callback_attempts.c.id == attempt["id"]).values(**changes))
                return
            if ended is None:
                answered = changes["data"].get("Response") == "Success" and "DialStatus" not in changes["data"]
                ended = Ended(Outcome.ANSWERED if answered else Outcome.FAILED, retry=not answered)
            changes.update(ended_at=now, outcome=ended.outcome.value)
            await conn.execute(update(callback_attempts).where(callback_attempts.c.id == attempt["id"]).values(**changes))
            row = (await conn.execute(_locked(select(callbacks).where(callbacks.c.id == attempt["callback_id"]), self._sqlite))).mappings().one()
            if row["state"] not in _BUSY or row["attempts"] != attempt["attempt"]:
                return  # a person or a later attempt moved it on; this attempt only ends
            failures = await _agent_leg_failures(conn, row["id"], attempt["id"]) if ended.agent_leg else 0
            values = settle(row, ended, agent_leg_failures=failures, policy=self.placing.retry, now=now)
            done = await conn.execute(update(callbacks).where(callbacks.c.id == row["id"], callbacks.c.version == row["version"]).values(**values))
            if done.rowcount != 1:
                raise RuntimeError(f"callback {row['id']} changed under its row lock")  # rolls back: the message is recorded again
        self.metrics.inc("hotline_callback_attempts_ended_total")
        log.info("callback.attempt_ended", callback=row["id"], attempt=attempt["attempt"], outcome=ended.outcome.value, state=values["state"], next_attempt_at=values.get("next_attempt_at"), score=ended.score)
        if values["state"] in _FINISHED and row["ticket_id"] is not None:
            await self._report(row["id"])

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
        await self.on_result(row["ticket_id"], result)  # once per callback and attempts: the ticket checks
        async with self.engine.begin() as conn:
            await conn.execute(update(callbacks).where(callbacks.c.id == callback_id).values(reported_at=self.clock.now()))

    # -- after a restart or a reconnect, and every few minutes ------------------------------------

    async def reconcile(self) -> int:
        """Attempts left open (the service died, or their events were lost while the AMI
        link was down): a live channel finishes by its events; any other is not placed
        again: failed, for a supervisor, if its outcome was never heard, and no longer
        counted against the cap. Attempts younger than RECONCILE_MIN_AGE are left alone:
        their Originate may still be on its way. How many were failed."""
        self._reconciled_at = self.clock.now()
        older_than = self._reconciled_at - RECONCILE_MIN_AGE
        query = select(callback_attempts.c.channel_id).where(or_(callback_attempts.c.ended_at.is_(None), callback_attempts.c.hung_up_at.is_(None)), callback_attempts.c.started_at < older_than)
        async with self.engine.connect() as conn:
            if not (await conn.execute(query)).first():
                return 0
        live = await self.live_channels()
        await self.drain()  # what Asterisk said before its list of channels counts first
        async with self.engine.connect() as conn:
            left = (await conn.execute(query.add_columns(callback_attempts.c.ended_at))).all()
        failed = 0
        for channel_id, ended_at in left:
            if channel_id in live:
                log.info("callback.still_live", channel_id=channel_id)
                continue
            failed += ended_at is None
            await self._finish(channel_id, Ended(Outcome.FAILED, retry=False, note=_NEVER_HEARD), {"reconciled": "no live channel"}, hung_up=True)
        return failed


def _locked(query: Select[Any], sqlite: bool) -> Select[Any]:
    """FOR UPDATE on PostgreSQL (SQLite's write lock is taken already)."""
    return query if sqlite else query.with_for_update()


async def _agent_leg_failures(conn: AsyncConnection, callback_id: int, this_attempt: int) -> int:
    query = select(callback_attempts.c.data).where(callback_attempts.c.callback_id == callback_id, callback_attempts.c.id != this_attempt)
    return sum(1 for data in (await conn.execute(query)).scalars() if (data or {}).get("leg") == "agent")


async def _ticket_number(conn: AsyncConnection, ticket_id: int | None) -> str | None:
    if ticket_id is None:
        return None
    return (await conn.execute(select(tickets.c.number).where(tickets.c.id == ticket_id))).scalar()


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes: they are UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment

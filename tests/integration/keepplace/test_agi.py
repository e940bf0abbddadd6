"""The FastAGI `keep_place` answer over real TCP: the service's FastAgiServer with
KeepPlaceAgi, driven by Asterisk's side of the keep-place transcript (connection 3 of
keep-place.agi: 孙八 13900000202 pressed 1 at place 2 of queue `hotline`), with a stand-in
desk. Whatever the desk does, the caller's channel gets an answer and the session ends."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from structlog.testing import capture_logs

from hotline.keepplace.agi import ERRORS, REQUESTS, KeepPlaceAgi
from hotline.keepplace.ask import KeepPlaceAnswer, KeepPlaceAsk, KeepPlaceRefused
from hotline.metrics import Metrics
from hotline.routing.agi import HANGUPS, FastAgiServer
from tests.integration.agi.asterisk import Answered, assignments, read_trace, worked

ROUTED, PRESSED_1 = read_trace("keep-place")[1:3]  # 孙八's route question, then keep_place
RECORDED_POSITION_REPLY = dict(PRESSED_1.exchange)["GET VARIABLE QUEUEPOSITION"]  # 200 result=1 (2)
KEEP = ("HOTLINE_KEEP", "HOTLINE_KEEP_MINUTES", "HOTLINE_KEEP_NEXT_DAY", "HOTLINE_KEEP_ERROR")

Desk = Callable[[KeepPlaceAsk], Awaitable[KeepPlaceAnswer]]


def sun_ba_channel() -> dict[str, str]:
    """孙八's channel when he pressed 1, as the recording left it: the routing answer of
    connection 2 and the queue's QUEUEPOSITION (the recording's dialplan asked for no
    number, so none was confirmed)."""
    channel = {name: value for command, _ in ROUTED.exchange for name, value in assignments(command)}
    assert channel == {"HOTLINE_QUEUE": "hotline", "QUEUE_PRIO": "0", "HOTLINE_TIER": "regular"}
    return channel | {"QUEUEPOSITION": "2"}


@dataclass
class Channel:
    """Asterisk's side of one session: answers GET VARIABLE from the channel's variables
    (the recorded reply's form, `200 result=1 (2)`), applies what the service sets."""

    variables: dict[str, str] = field(default_factory=sun_ba_channel)
    hang_up_on: str | None = None  # a command starting so is answered HANGUP, as Asterisk does

    def reply(self, command: str) -> str:
        if command.startswith("GET VARIABLE "):
            value = self.variables.get(command.removeprefix("GET VARIABLE "))
            return "200 result=0" if value is None else f"200 result=1 ({value})"
        self.variables.update(assignments(command))
        return worked(command)


async def converse(port: int, headers: bytes, channel: Channel, *, timeout: float = 5.0) -> Answered:
    """Send the header block and answer each command as the channel would, until the
    service closes (or, after a HANGUP, as Asterisk closes)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answered = Answered()
    try:
        writer.write(headers)
        while line := await asyncio.wait_for(reader.readline(), timeout):
            answered.commands.append(line.decode("utf-8").rstrip("\n"))
            hang_up = channel.hang_up_on is not None and answered.commands[-1].startswith(channel.hang_up_on)
            reply = "HANGUP" if hang_up else channel.reply(answered.commands[-1])
            writer.write(reply.encode() + b"\n")
            if hang_up:
                break
        answered.seconds = time.perf_counter() - started
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return answered


@dataclass
class StandInDesk:
    """Answers every request with `answer` (or raises `refuse`), after `delay` seconds."""

    answer: KeepPlaceAnswer = KeepPlaceAnswer("KP-1", 12, next_day=False)
    refuse: Exception | None = None
    delay: float = 0.0
    asked: list[KeepPlaceAsk] = field(default_factory=list)
    cancelled: int = 0

    async def __call__(self, ask: KeepPlaceAsk) -> KeepPlaceAnswer:
        self.asked.append(ask)
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.refuse is not None:
            raise self.refuse
        return self.answer


@dataclass
class Running:
    port: int
    metrics: Metrics


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    servers: list[FastAgiServer] = []

    async def start(desk: Desk, *, budget_ms: int = 500) -> Running:
        metrics = Metrics()
        server = FastAgiServer(
            "127.0.0.1", 0, {"keep_place": KeepPlaceAgi(desk, budget_ms=budget_ms, metrics=metrics)},
            header_timeout=2.0, metrics=metrics,
        )  # fmt: skip
        servers.append(server)
        return Running(await server.start(), metrics)

    yield start
    for server in servers:
        await server.stop()


def kept(answered: Answered) -> dict[str, str]:
    """The four answer variables, as the dialplan reads them after the session."""
    return {name: answered.assigned[name] for name in KEEP}


async def test_the_recorded_caller_who_pressed_1_is_asked_for_with_his_queue_place_and_number(serve) -> None:
    desk = StandInDesk()
    running = await serve(desk)

    answered = await converse(running.port, PRESSED_1.headers, Channel())

    assert desk.asked == [
        KeepPlaceAsk(
            number="13900000202", keyed=False, queue="hotline", position=2, priority=0,
            tier="regular", call_id="1795544583.27", caller_number="13900000202",
        )
    ]  # fmt: skip
    # The request id the recording's dialplan reported (Keep: KP-1), set with the rest in
    # one command, so the dialplan sees all of the answer or none of it.
    assert kept(answered) == {"HOTLINE_KEEP": "KP-1", "HOTLINE_KEEP_MINUTES": "12", "HOTLINE_KEEP_NEXT_DAY": "0", "HOTLINE_KEEP_ERROR": ""}
    assert [c for c in answered.commands if not c.startswith("GET VARIABLE ")] == [answered.commands[-1]]
    assert answered.seconds < 0.5
    assert running.metrics.counters[REQUESTS] == 1 and running.metrics.counters[ERRORS] == 0


async def test_without_a_position_argument_the_queues_own_position_is_read(serve) -> None:
    desk = StandInDesk()
    running = await serve(desk)
    headers = PRESSED_1.headers.replace(b"agi_arg_2: 2\n", b"")
    channel = Channel()

    answered = await converse(running.port, headers, channel)

    assert "GET VARIABLE QUEUEPOSITION" in answered.commands
    assert channel.reply("GET VARIABLE QUEUEPOSITION") == RECORDED_POSITION_REPLY
    assert desk.asked[0].position == 2
    assert answered.variables["HOTLINE_KEEP"] == "KP-1"


async def test_the_number_the_caller_confirmed_or_keyed_is_the_one_asked_for(serve) -> None:
    desk = StandInDesk(answer=KeepPlaceAnswer("KP-17", 0, next_day=True))
    running = await serve(desk)
    channel = Channel(sun_ba_channel() | {"HOTLINE_KEEP_NUMBER": "08275551234", "HOTLINE_KEEP_KEYED": "1", "QUEUE_PRIO": "10", "HOTLINE_TIER": "vip"})

    answered = await converse(running.port, PRESSED_1.headers, channel)

    ask = desk.asked[0]
    assert (ask.number, ask.keyed, ask.caller_number, ask.priority, ask.tier) == ("08275551234", True, "13900000202", 10, "vip")
    assert kept(answered) == {"HOTLINE_KEEP": "KP-17", "HOTLINE_KEEP_MINUTES": "0", "HOTLINE_KEEP_NEXT_DAY": "1", "HOTLINE_KEEP_ERROR": ""}


async def test_a_refused_request_sets_the_error_and_no_request_id(serve) -> None:
    running = await serve(StandInDesk(refuse=KeepPlaceRefused("not a number to call")))
    # An earlier press of 1 on this channel had been kept: nothing of it survives.
    channel = Channel(sun_ba_channel() | {"HOTLINE_KEEP": "KP-0", "HOTLINE_KEEP_MINUTES": "3"})

    with capture_logs() as logs:
        answered = await converse(running.port, PRESSED_1.headers, channel)

    assert kept(answered) == {"HOTLINE_KEEP": "", "HOTLINE_KEEP_MINUTES": "", "HOTLINE_KEEP_NEXT_DAY": "", "HOTLINE_KEEP_ERROR": "refused"}
    [failed] = [e for e in logs if e["event"] == "keep_place.failed"]
    assert (failed["error"], failed["reason"], failed["log_level"]) == ("refused", "not a number to call", "warning")
    assert running.metrics.counters[ERRORS] == 1


async def test_a_request_slower_than_the_budget_sets_the_error_and_closes_in_time(serve) -> None:
    desk = StandInDesk(delay=30)
    running = await serve(desk, budget_ms=100)

    answered = await converse(running.port, PRESSED_1.headers, Channel())

    assert kept(answered)["HOTLINE_KEEP_ERROR"] == "timeout"
    assert answered.variables.get("HOTLINE_KEEP") is None
    assert 0.1 <= answered.seconds < 0.5  # the budget, not the desk's 30 s
    assert desk.cancelled == 1  # the late request is not left running


@pytest.mark.parametrize(
    "desk, error",
    [
        (StandInDesk(refuse=ConnectionError("database is down")), "error"),
        (StandInDesk(refuse=RuntimeError("bug")), "error"),
    ],
    ids=["database down", "a bug"],
)
async def test_a_failing_desk_sets_the_error(serve, desk: StandInDesk, error: str) -> None:
    running = await serve(desk)

    with capture_logs() as logs:
        answered = await converse(running.port, PRESSED_1.headers, Channel())

    assert kept(answered)["HOTLINE_KEEP_ERROR"] == error
    assert "agi.handler_failed" not in [e["event"] for e in logs]


async def test_a_withheld_caller_with_no_number_keyed_is_not_asked_for(serve) -> None:
    desk = StandInDesk()
    running = await serve(desk)
    withheld = PRESSED_1.with_headers(callerid="unknown", callingpres="67")

    answered = await converse(running.port, withheld.headers, Channel())

    assert desk.asked == []
    assert kept(answered)["HOTLINE_KEEP_ERROR"] == "invalid"


@pytest.mark.parametrize(
    "at", ["GET VARIABLE QUEUE_PRIO", "GET VARIABLE HOTLINE_KEEP_NUMBER", "EXEC Set"],
    ids=["first read", "a later read", "the answer"],
)
async def test_a_caller_who_hangs_up_mid_session_does_not_crash_the_server(serve, at: str) -> None:
    desk = StandInDesk()
    running = await serve(desk)

    with capture_logs() as logs:
        answered = await converse(running.port, PRESSED_1.headers, Channel(hang_up_on=at))
        deadline = time.perf_counter() + 2
        while running.metrics.counters[HANGUPS] < 1:
            assert time.perf_counter() < deadline, "the hang-up was not seen"
            await asyncio.sleep(0.005)

    assert answered.commands[-1].startswith(at)  # Asterisk said HANGUP to that command
    assert [e["event"] for e in logs if e["log_level"] in ("error", "critical")] == []
    # The next caller is answered as usual.
    again = await converse(running.port, PRESSED_1.headers, Channel())
    assert again.variables["HOTLINE_KEEP"] == "KP-1"

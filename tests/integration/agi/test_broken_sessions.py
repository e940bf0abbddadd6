"""Whatever goes wrong on one FastAGI session, the caller is not held and the server goes on."""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from hotline.routing.agi import HANGUPS, AgiRequest, AgiSession
from hotline.routing.answer import DECISIONS, FALLBACKS
from tests.integration.agi.asterisk import assignments, play, read_trace, send_and_wait_for_close
from tests.integration.agi.conftest import FakeDirectory

CALLERS = read_trace("fastagi-callers")
ZHANG_SAN, LI_SI_VIP, _, _, SLOW_ROUTE = CALLERS
KEEP_PLACE = read_trace("keep-place")[2]
DEFAULT = {"HOTLINE_QUEUE": "hotline", "QUEUE_PRIO": "0", "HOTLINE_TIER": "regular"}


def routed(answered) -> dict[str, str]:
    return {k: v for k, v in answered.variables.items() if k != "HOTLINE_CALL"}


async def eventually(condition, timeout: float = 2.0) -> None:
    # The server finishes a session after its peer has gone; wait for it, briefly.
    deadline = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def still_serving(port: int) -> None:
    answered = await play(port, LI_SI_VIP.headers)
    assert answered.variables["HOTLINE_QUEUE"] == "vip"


async def test_a_caller_who_hangs_up_while_the_answer_is_slow_ends_the_session_quietly(start_routing) -> None:
    # As recorded: the routing answer was slow, the caller gave up, Asterisk sent HANGUP.
    running = await start_routing(directory=FakeDirectory(slow={"13700000009": 30}), budget_ms=50)

    with capture_logs() as logs:
        answered = await play(running.port, SLOW_ROUTE.headers, SLOW_ROUTE.replies)
        await eventually(lambda: running.metrics.counters[HANGUPS] == 1)

    assert len(answered.commands) == 1  # the default route, in one command
    assert routed(answered) == DEFAULT
    assert [e["event"] for e in logs if e["log_level"] in ("error", "critical")] == []
    await still_serving(running.port)


@pytest.mark.parametrize(
    "directory, reason",
    [
        (FakeDirectory(slow={"13912345678": 30}), "over budget (50 ms)"),
        (FakeDirectory(failing=frozenset({"13912345678"})), "error (ConnectionError)"),
    ],
    ids=["lookup slower than the budget", "lookup raises"],
)
async def test_a_directory_problem_gives_the_default_route_at_once(start_routing, directory, reason) -> None:
    running = await start_routing(directory=directory, budget_ms=50)

    with capture_logs() as logs:
        answered = await play(running.port, ZHANG_SAN.headers)

    assert routed(answered) == DEFAULT
    assert answered.seconds < 0.5
    [fallback] = [e for e in logs if e["event"] == "route.fallback"]
    assert (fallback["reason"], fallback["log_level"]) == (reason, "warning")
    assert running.recorded[0][0].fallback
    assert running.metrics.counters[FALLBACKS] == running.metrics.counters[DECISIONS] == 1
    await still_serving(running.port)


@pytest.mark.parametrize(
    "headers",
    [
        ZHANG_SAN.with_headers(callerid="13912345678<script>").headers,
        ZHANG_SAN.headers.replace(b"agi_callerid: 13912345678\n", b""),
    ],
    ids=["junk caller id", "no caller id header"],
)
async def test_malformed_agi_input_gives_the_default_route(start_routing, headers) -> None:
    running = await start_routing()

    answered = await play(running.port, headers)

    assert routed(answered) == DEFAULT
    assert running.directory.asked == []
    assert running.recorded[0][0].reason.startswith("bad caller id")
    assert running.metrics.counters[FALLBACKS] == 1


@pytest.mark.parametrize("cut", [1, 40, 200, len(ZHANG_SAN.headers) - 1], ids=lambda n: f"after {n} bytes")
async def test_a_peer_that_hangs_up_half_way_through_the_headers_is_closed(start_routing, cut) -> None:
    running = await start_routing()

    with capture_logs() as logs:
        started = time.perf_counter()
        sent_back = await send_and_wait_for_close(running.port, ZHANG_SAN.headers[:cut], close=True)
        elapsed = time.perf_counter() - started

    assert sent_back == b""
    assert elapsed < 0.5
    assert "agi.headers_cut" in [e["event"] for e in logs]
    await still_serving(running.port)


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\xff\xfe GET / HTTP/1.1\r\nHost: x\n\n", b"hello\n\n", b"\n\n", "agi_callerid 张三\n\n".encode()],
    ids=["binary", "text", "empty block", "no colon"],
)
async def test_garbage_is_closed_at_once(start_routing, garbage) -> None:
    running = await start_routing()

    with capture_logs() as logs:
        sent_back = await send_and_wait_for_close(running.port, garbage, close=False, timeout=1)

    assert sent_back == b""
    assert "agi.headers_malformed" in [e["event"] for e in logs]
    await still_serving(running.port)


async def test_headers_that_never_end_are_cut_at_the_size_limit(start_routing) -> None:
    running = await start_routing()

    sent_back = await send_and_wait_for_close(running.port, b"agi_x: " + b"y" * 20_000, close=False, timeout=1)

    assert sent_back == b""
    await still_serving(running.port)


async def test_a_silent_peer_is_dropped_after_the_header_timeout_and_others_are_served_meanwhile(start_routing) -> None:
    running = await start_routing(header_timeout=1.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(ZHANG_SAN.headers[:100])

    started = time.perf_counter()
    await asyncio.gather(*(still_serving(running.port) for _ in range(5)))
    assert time.perf_counter() - started < 0.9  # before the silent peer's timeout

    assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()
    await writer.wait_closed()


async def test_an_unknown_script_is_closed_cleanly(start_routing) -> None:
    running = await start_routing()

    with capture_logs() as logs:
        answered = await play(running.port, KEEP_PLACE.headers)

    assert answered.commands == []
    assert "agi.unknown_script" in [e["event"] for e in logs]


async def test_keep_place_is_dispatched_to_its_handler_with_its_arguments(start_routing) -> None:
    seen: list[AgiRequest] = []

    async def keep_place(request: AgiRequest, session: AgiSession) -> None:
        # Says what the recorded service said, so the recorded replies fit.
        seen.append(request)
        for command, _ in KEEP_PLACE.exchange:
            await session.command(command)

    running = await start_routing(handlers={"keep_place": keep_place})

    answered = await play(running.port, KEEP_PLACE.headers, KEEP_PLACE.replies)

    assert answered.commands == [command for command, _ in KEEP_PLACE.exchange]
    assert seen[0].args == ("hotline", "2")
    assert seen[0].known("callerid") == "13900000202"


async def test_a_handler_that_fails_closes_its_session_and_the_server_goes_on(start_routing) -> None:
    async def broken(request: AgiRequest, session: AgiSession) -> None:
        raise RuntimeError("bug")

    running = await start_routing(handlers={"keep_place": broken})

    with capture_logs() as logs:
        answered = await play(running.port, KEEP_PLACE.headers)

    assert answered.commands == []
    assert "agi.handler_failed" in [e["event"] for e in logs]
    await still_serving(running.port)


@pytest.mark.parametrize(
    "reply",
    ["510 Invalid or unknown command", "200 result=-2", "511 Command Not Permitted on a dead channel or intercepted"],
    ids=["unknown command", "no such application", "dead channel"],
)
async def test_a_refused_command_ends_the_session(start_routing, reply) -> None:
    running = await start_routing()

    with capture_logs() as logs:
        answered = await play(running.port, ZHANG_SAN.headers, [reply])
        await eventually(lambda: "agi.command_refused" in [e["event"] for e in logs])

    assert len(answered.commands) == 1
    assert running.recorded[0][0].queue == "hotline"  # the decision is still recorded


async def test_stop_ends_the_sessions_in_progress(start_routing) -> None:
    running = await start_routing(header_timeout=30)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(ZHANG_SAN.headers[:100])
    await asyncio.sleep(0.05)

    started = time.perf_counter()
    await running.server.stop(grace=0.1)

    assert time.perf_counter() - started < 1
    assert await asyncio.wait_for(reader.read(), 1) == b""
    writer.close()
    await writer.wait_closed()


async def test_asterisk_closing_mid_session_ends_it_quietly_and_the_decision_is_still_recorded(start_routing) -> None:
    running = await start_routing()
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)

    with capture_logs() as logs:
        writer.write(LI_SI_VIP.headers)
        command = (await reader.readline()).decode().rstrip("\n")
        assert ("HOTLINE_QUEUE", "vip") in assignments(command)
        writer.close()
        await writer.wait_closed()
        await eventually(lambda: running.metrics.counters[HANGUPS] == 1)

    assert [e["event"] for e in logs if e["log_level"] in ("warning", "error")] == []
    assert running.recorded[0][0].queue == "vip"
    await still_serving(running.port)


async def test_a_stray_blank_line_after_the_headers_is_not_taken_for_a_reply(start_routing) -> None:
    running = await start_routing()

    answered = await play(running.port, LI_SI_VIP.headers + b"\n")

    assert routed(answered)["HOTLINE_QUEUE"] == "vip"
    assert len(answered.commands) == 1


async def test_the_counters_are_on_metrics_before_the_first_call(start_routing) -> None:
    running = await start_routing()

    rendered = running.metrics.render()

    for name in (DECISIONS, FALLBACKS, HANGUPS):
        assert f"{name} 0\n" in rendered

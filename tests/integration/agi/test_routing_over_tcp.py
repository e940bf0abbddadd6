"""The routing answer over real TCP, driven by what Asterisk 22 sent in the recordings."""

from __future__ import annotations

import asyncio
import re

import pytest
from structlog.testing import capture_logs

from hotline.routing.answer import DECISIONS, FALLBACKS, ROUTE_VARIABLES
from hotline.routing.profile import CallerProfile
from tests.integration.agi.asterisk import assignments, play, read_trace
from tests.integration.agi.conftest import FakeDirectory

CALLERS = read_trace("fastagi-callers")
KEEP_PLACE = read_trace("keep-place")
ZHANG_SAN, LI_SI_VIP, WITHHELD, WANG_WU, SLOW_ROUTE = CALLERS


def answered_by_the_recorded_service(session):
    return {m[1]: m[2] for c, _ in session.exchange if (m := re.fullmatch(r'SET VARIABLE (\w+) "(.*)"', c))}


def without_call_ref(variables: dict[str, str]) -> dict[str, str]:
    assert re.fullmatch(r"[0-9a-f]{16}", variables["HOTLINE_CALL"])
    return {k: v for k, v in variables.items() if k != "HOTLINE_CALL"}


@pytest.mark.parametrize(
    "session",
    [ZHANG_SAN, LI_SI_VIP, WITHHELD, WANG_WU, *KEEP_PLACE[:2]],
    ids=["regular", "vip", "withheld", "fixed-line", "keep-place-1", "keep-place-2"],
)
async def test_recorded_callers_get_what_the_recorded_service_answered(start_routing, session) -> None:
    running = await start_routing()

    # Not the recorded replies: they answered the recorded service's SET VARIABLEs.
    answered = await play(running.port, session.headers)

    recorded = answered_by_the_recorded_service(session)
    assert {name: answered.variables[name] for name in recorded} == recorded


# The caller's number as Asterisk sends it -> every variable the service sets but HOTLINE_CALL.
ROUTES = [
    ("vip", "13800000001", frozenset(), {"HOTLINE_QUEUE": "vip", "QUEUE_PRIO": "10", "HOTLINE_TIER": "vip", "HOTLINE_CUSTOMER": "2"}),
    ("key account, manager free", "13600000004", frozenset({"8005"}), {"HOTLINE_QUEUE": "key-account", "QUEUE_PRIO": "10", "HOTLINE_TIER": "key_account", "HOTLINE_CUSTOMER": "4", "HOTLINE_FIRST_TRY": "8005"}),
    ("key account, manager busy", "13600000004", frozenset({"8002"}), {"HOTLINE_QUEUE": "key-account", "QUEUE_PRIO": "10", "HOTLINE_TIER": "key_account", "HOTLINE_CUSTOMER": "4"}),
    ("private network", "13600000005", frozenset(), {"HOTLINE_QUEUE": "private-network", "QUEUE_PRIO": "5", "HOTLINE_TIER": "private_network", "HOTLINE_CUSTOMER": "5"}),
    ("regular", "13912345678", frozenset(), {"HOTLINE_QUEUE": "hotline", "QUEUE_PRIO": "0", "HOTLINE_TIER": "regular", "HOTLINE_CUSTOMER": "1"}),
    ("open ticket's owner free", "13600000006", frozenset({"8002"}), {"HOTLINE_QUEUE": "hotline", "QUEUE_PRIO": "0", "HOTLINE_TIER": "regular", "HOTLINE_CUSTOMER": "6", "HOTLINE_FIRST_TRY": "8002"}),
    ("unknown caller", "13999999999", frozenset({"8005"}), {"HOTLINE_QUEUE": "hotline", "QUEUE_PRIO": "0", "HOTLINE_TIER": "regular"}),
    ("withheld", "unknown", frozenset(), {"HOTLINE_QUEUE": "hotline", "QUEUE_PRIO": "0", "HOTLINE_TIER": "regular"}),
]


@pytest.mark.parametrize("case, callerid, available, variables", ROUTES, ids=[r[0] for r in ROUTES])
async def test_each_kind_of_caller_gets_its_variables(start_routing, case, callerid, available, variables) -> None:
    running = await start_routing(available=available)
    session = ZHANG_SAN.with_headers(callerid=callerid)

    answered = await play(running.port, session.headers)

    assert without_call_ref(answered.variables) == variables
    assert running.metrics.counters[FALLBACKS] == 0


@pytest.mark.parametrize("callerid", ["13600000004", "13999999999", "unknown"], ids=["key account", "unknown", "withheld"])
async def test_the_answer_is_one_command_that_sets_every_variable_and_empties_the_unset_ones(start_routing, callerid) -> None:
    # One command: Asterisk applies all of it or none, so no call leaves with half a route,
    # and a value set before the AGI (the dialplan's preset, an earlier try) never lingers.
    running = await start_routing(available=frozenset({"8005"}))

    answered = await play(running.port, ZHANG_SAN.with_headers(callerid=callerid).headers)

    [command] = answered.commands
    assert command.startswith('EXEC Set "ARRAY(')
    assert [name for name, _ in assignments(command)] == list(ROUTE_VARIABLES)
    assert {name for name, value in assignments(command) if not value} == set(ROUTE_VARIABLES) - set(answered.variables)


async def test_a_withheld_number_is_never_looked_up(start_routing) -> None:
    running = await start_routing()
    # As recorded: agi_callerid unknown, agi_callingpres 67; and digits with presentation
    # restricted (32), which some trunks send.
    await play(running.port, WITHHELD.headers)
    answered = await play(running.port, LI_SI_VIP.with_headers(callingpres="32").headers)

    assert answered.variables["HOTLINE_TIER"] == "regular"
    assert running.directory.asked == []
    [(route, caller), _] = running.recorded
    assert (caller.number, route.reason, route.fallback) == (None, "number withheld or unknown", False)


async def test_every_decision_has_its_own_call_ref_and_is_recorded_with_the_caller(start_routing) -> None:
    running = await start_routing()

    first = await play(running.port, LI_SI_VIP.headers)
    second = await play(running.port, LI_SI_VIP.headers)

    assert first.variables["HOTLINE_CALL"] != second.variables["HOTLINE_CALL"]
    route, caller = running.recorded[0]
    assert route.call_ref == first.variables["HOTLINE_CALL"]
    assert (caller.number, caller.name, caller.uniqueid) == ("13800000001", "李四（VIP）", "1795544602.35")
    assert caller.channel == "Local/96655@hotline-in-00000011;2"
    assert running.metrics.counters[DECISIONS] == 2


async def test_the_caller_moves_on_before_the_decision_is_recorded(start_routing) -> None:
    release = asyncio.Event()

    async def held_record(route, caller) -> None:
        await release.wait()

    running = await start_routing(record=held_record)

    # Ends only if the server closes the session while the record is still held.
    answered = await play(running.port, LI_SI_VIP.headers, timeout=2)
    release.set()

    assert answered.variables["HOTLINE_QUEUE"] == "vip"


async def test_a_failing_record_does_not_touch_the_answer(start_routing) -> None:
    async def broken_record(route, caller) -> None:
        raise RuntimeError("calls table is locked")

    running = await start_routing(record=broken_record)

    assert (await play(running.port, LI_SI_VIP.headers)).variables["HOTLINE_QUEUE"] == "vip"
    assert (await play(running.port, ZHANG_SAN.headers)).variables["HOTLINE_QUEUE"] == "hotline"


async def test_a_value_that_would_break_the_command_is_cleaned(start_routing) -> None:
    # A quote or backslash would end the AGI argument, a line end the command, and a comma,
    # bracket or parenthesis would move the values after it onto the wrong variables.
    extension = '80"05,(x)[y]\r\nHANGUP\\' + "9" * 400
    profile = CallerProfile(4, "x", "key_account", "urban", "m", extension)
    directory = FakeDirectory({"13600000004": profile})
    running = await start_routing(directory=directory, available=frozenset({extension}))

    answered = await play(running.port, ZHANG_SAN.with_headers(callerid="13600000004").headers)

    [command] = answered.commands
    value = answered.variables["HOTLINE_FIRST_TRY"]
    assert value.startswith("8005xy  HANGUP99") and len(value.encode()) <= 255
    assert command.endswith(f',{value}"')
    assert answered.variables["HOTLINE_CALL"] == running.recorded[0][0].call_ref
    assert len(command.encode()) + 1 < 2048  # Asterisk reads a command into 2 KiB


async def test_six_values_at_their_longest_still_fit_in_one_command_line(start_routing) -> None:
    async def longest(request, session) -> None:
        await session.set_variables([(name, "张" * 300) for name in ROUTE_VARIABLES])

    running = await start_routing(handlers={"keep_place": longest})

    answered = await play(running.port, KEEP_PLACE[2].headers)

    [command] = answered.commands
    assert len(command.encode()) <= 2046  # what Asterisk's fgets takes as one line
    assert all(0 < len(value.encode()) <= 255 for value in answered.assigned.values())


async def test_a_command_longer_than_asterisk_reads_as_one_line_is_never_sent(start_routing) -> None:
    async def too_long(request, session) -> None:
        await session.command("EXEC Verbose " + "x" * 3000)

    running = await start_routing(handlers={"keep_place": too_long})

    with capture_logs() as logs:
        answered = await play(running.port, KEEP_PLACE[2].headers)

    assert answered.commands == []
    assert "agi.handler_failed" in [e["event"] for e in logs]

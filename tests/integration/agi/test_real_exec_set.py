"""The one-command routing answer against what a real Asterisk 22 did with it
(real-exec-set.agi): the same command for the same callers, its reply taken as success,
and the test double splitting it into the variables Asterisk reported on AMI."""

from __future__ import annotations

import re

import pytest
from structlog.testing import capture_logs

from hotline.routing.answer import FALLBACKS, ROUTE_VARIABLES
from hotline.routing.profile import CallerProfile
from tests.integration.agi.asterisk import HERE, assignments, play, read_trace
from tests.integration.agi.conftest import FakeDirectory

TRANSCRIPT = HERE / "real-exec-set.agi"
VIP_WITH_OPEN_TICKET, UNKNOWN = read_trace("real-exec-set", HERE)
# The recording's VIP: her open ticket's owner 8001 was free, so she tried 8001 first.
LI_SI = CallerProfile(2, "李四", "vip", "urban", None, None, "8001")
_VARSET = re.compile(r"#   VarSet .* Channel (\S+)  Variable (\S+)  Value '(.*)'")


def recorded_varsets(channel: str) -> list[tuple[str, str]]:
    """The VarSet events Asterisk sent for `channel`, from the transcript's notes."""
    found = (_VARSET.fullmatch(line) for line in TRANSCRIPT.read_text(encoding="utf-8").splitlines())
    return [(m[2], m[3]) for m in found if m and m[1] == channel]


def channel_of(session) -> str:
    return re.search(rb"^agi_channel: (.*)$", session.headers, re.M)[1].decode()


def without_call_ref(command: str) -> str:
    return re.sub(r",[0-9a-f]{16},", ",CALL,", command)


@pytest.mark.parametrize("session", [VIP_WITH_OPEN_TICKET, UNKNOWN], ids=["vip, first try 8001", "unknown caller"])
async def test_the_service_sends_the_command_asterisk_accepted_and_takes_its_reply(start_routing, session) -> None:
    running = await start_routing(directory=FakeDirectory({"13800000001": LI_SI}), available=frozenset({"8001"}))
    [(recorded_command, reply)] = session.exchange

    with capture_logs() as logs:
        answered = await play(running.port, session.headers, session.replies)

    assert reply == "200 result=0"
    assert [without_call_ref(c) for c in answered.commands] == [without_call_ref(recorded_command)]
    assert [e["event"] for e in logs if e["log_level"] != "debug"] == []  # nothing refused
    assert running.metrics.counters[FALLBACKS] == 0


@pytest.mark.parametrize("session", [VIP_WITH_OPEN_TICKET, UNKNOWN], ids=["vip", "unknown caller"])
def test_the_double_splits_the_command_into_the_variables_asterisk_reported(session) -> None:
    [(command, _)] = session.exchange
    varsets = recorded_varsets(channel_of(session))

    # Before the AGI the dialplan set its presets; the command's VarSets come last, in order.
    assert assignments(command) == varsets[-len(ROUTE_VARIABLES):]
    assert [name for name, _ in assignments(command)] == list(ROUTE_VARIABLES)


def test_an_empty_element_emptied_a_variable_set_before_the_agi() -> None:
    varsets = recorded_varsets(channel_of(UNKNOWN))

    assert ("HOTLINE_FIRST_TRY", "stale") in varsets[:-len(ROUTE_VARIABLES)]
    assert dict(varsets[-len(ROUTE_VARIABLES):])["HOTLINE_FIRST_TRY"] == ""

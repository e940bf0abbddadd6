"""The Originate that rings a supervisor's phone into ChanSpy on an agent's call (监听 /
耳语 / 强插), built for each mode, and the ChanSpy options the shipped hotline-spy context
gives each mode (asterisk-config/extensions.conf)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline.config import FloorSettings
from hotline.floor.spy import SpyMode, spy_originate, spy_target

EXTENSIONS_CONF = Path(__file__).resolve().parents[3] / "asterisk-config" / "extensions.conf"
SHIPPED = FloorSettings()  # supervisor_phone and member_interface PJSIP/{extension}
LAB = FloorSettings(supervisor_phone="Local/{extension}@supervisors", member_interface="Local/{extension}@agents/n")

# mode, what the supervisor's phone shows, ChanSpy's options in the dialplan
MODES = [
    (SpyMode.LISTEN, "监听", "qbES"),
    (SpyMode.WHISPER, "耳语", "qwbES"),
    (SpyMode.BARGE, "强插", "qBbES"),
]


@pytest.mark.parametrize("mode, label, _", MODES)
def test_the_supervisors_phone_is_rung_into_hotline_spy_with_the_agents_phone_as_target(mode: SpyMode, label: str, _: str) -> None:
    action = spy_originate(mode, "8109", "8101", SHIPPED, "spy-1")

    assert action == {
        "Action": "Originate",
        "ActionID": "spy-1",
        "ChannelId": "spy-1",
        "Channel": "PJSIP/8109",
        "Context": "hotline-spy",
        "Exten": mode.value,
        "Priority": "1",
        "CallerID": f'"{label} 8101" <96655>',
        "Timeout": "30000",
        "Async": "true",
        "Variable": ["HOTLINE_SPY_TARGET=PJSIP/8101"],
    }


def test_the_mode_may_be_given_as_its_name() -> None:
    assert spy_originate("barge", "8109", "8101", SHIPPED, "spy-2")["Exten"] == "barge"
    with pytest.raises(ValueError):
        spy_originate("record", "8109", "8101", SHIPPED, "spy-3")


def test_the_channels_follow_the_floor_settings() -> None:
    action = spy_originate(SpyMode.WHISPER, "8201", "8071", LAB, "spy-4")

    assert action["Channel"] == "Local/8201@supervisors"
    assert action["Variable"] == ["HOTLINE_SPY_TARGET=Local/8071@agents"]


@pytest.mark.parametrize(
    "interface, target",
    [("PJSIP/{extension}", "PJSIP/8101"), ("Local/{extension}@agents/n", "Local/8101@agents"), ("SIP/{extension}", "SIP/8101")],
)
def test_the_target_is_the_member_interface_without_its_options(interface: str, target: str) -> None:
    """Asterisk names the agent's call channel PJSIP/8101-0000002a or
    Local/8101@agents-0000002a;1: the interface's /n is an option, not part of the name."""
    assert spy_target(interface, "8101") == target


def _dialplan_steps(context: str) -> dict[str, list[str]]:
    """extension -> its applications with their arguments, from the shipped file."""
    text = EXTENSIONS_CONF.read_text("utf-8")
    body = text.split(f"[{context}]\n", 1)[1].split("\n[", 1)[0]
    steps: dict[str, list[str]] = {}
    current = ""
    for line in body.splitlines():
        line = line.split(";", 1)[0].strip()
        if match := re.match(r"exten => ([^,]+),[^,]+,(.*)", line):
            current = match.group(1)
            steps[current] = [match.group(2)]
        elif match := re.match(r"same => [^,]+,(.*)", line):
            steps[current].append(match.group(1))
    return steps


@pytest.mark.parametrize("mode, _, options", MODES)
def test_the_shipped_dialplan_gives_each_mode_its_chanspy_options(mode: SpyMode, _: str, options: str) -> None:
    """q: no beep for the supervisor; w: the agent hears the supervisor; B: both do; b, E,
    S: a call in progress only, ending with it (proven on a real Asterisk in
    tests/asterisk/test_spy.py)."""
    steps = _dialplan_steps("hotline-spy")
    prefix = re.fullmatch(r"Set\(SPY_OPTIONS=(\w*)\)", steps[mode.value][0])

    assert prefix is not None and steps[mode.value][1] == "Goto(spy,1)"
    assert any(step == "ChanSpy(${HOTLINE_SPY_TARGET}-,${SPY_OPTIONS}bES)" for step in steps["spy"])
    assert prefix.group(1) + "bES" == options

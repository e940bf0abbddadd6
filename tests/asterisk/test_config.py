"""asterisk-config/ loads on a real Asterisk 22 as shipped, and what it sets up is there."""

from __future__ import annotations

import re

from tests.asterisk.lab import CONFIG, Asterisk

# Start-up lines that are not about the shipped files: Asterisk looks for optional
# configuration files asterisk-config/ leaves to the system's defaults, and the lab has
# no sound files (so no hold music class).
_HARMLESS = (
    re.compile(r"Could not find valid ccss\.conf file"),
    re.compile(r"No music on hold classes configured"),
)
_MISSING_FILE = re.compile(r"Unable to load config file '([^']+)'")


def _startup_problems(lines: list[str]) -> list[str]:
    shipped = {path.name for path in CONFIG.glob("*.conf")}
    problems = []
    for line in lines:
        if "Asterisk Ready" in line:
            break
        if not re.search(r"\b(WARNING|ERROR)\[", line) or any(p.search(line) for p in _HARMLESS):
            continue
        missing = _MISSING_FILE.search(line)
        if missing and missing.group(1) not in shipped:
            continue
        problems.append(line)
    return problems


def test_the_shipped_config_starts_asterisk_without_warnings_that_matter(asterisk: Asterisk) -> None:
    console = (asterisk.confdir / "console.out").read_text("utf-8", "replace").splitlines()
    assert any("Asterisk Ready" in line for line in console)
    assert _startup_problems(console) == []


def test_every_module_the_config_names_is_running(asterisk: Asterisk) -> None:
    wanted = re.findall(r"(?m)^load\s*=\s*(\S+)", (CONFIG / "modules.conf").read_text())
    shown = asterisk.cli("module show")
    running = {line.split()[0] for line in shown.splitlines() if " Running " in line}
    assert sorted(set(wanted) - running) == []


def test_the_hotline_dialplan_asks_the_service_then_queues(asterisk: Asterisk) -> None:
    plan = asterisk.cli("dialplan show hotline-in")
    assert "'96655' =>" in plan and "'T' =>" in plan
    assert "AGI(agi://${HOTLINE_AGI_HOST}:${HOTLINE_AGI_PORT}/route)" in plan
    assert "Queue(${HOTLINE_QUEUE},t,,,${HOTLINE_QUEUE_SECONDS})" in plan
    # The lab swapped only the globals: the dialplan reads them at call time.
    assert f"HOTLINE_AGI_PORT={asterisk.agi_port}" in asterisk.cli("dialplan show globals")
    for context in ("from-carrier", "agent-phones"):
        assert f"Context '{context}'" in asterisk.cli(f"dialplan show {context}")


def test_the_four_queues_exist_with_their_members(asterisk: Asterisk) -> None:
    shown = asterisk.cli("queue show")
    for queue in ("hotline", "vip", "key-account", "private-network"):
        assert re.search(rf"(?m)^{re.escape(queue)} has \d+ calls .* in 'rrmemory' strategy", shown), shown
    assert "agent-8101 (PJSIP/8101)" in shown and "vip-agent-8109 (PJSIP/8109)" in shown
    assert re.search(r"(?m)^vip has .*W:10,", shown)


def test_the_manager_user_has_only_the_classes_the_service_needs(asterisk: Asterisk) -> None:
    shown = asterisk.cli("manager show user hotline")
    read = re.search(r"read perm: (\S+)", shown)
    write = re.search(r"write perm: (\S+)", shown)
    assert read and set(read.group(1).split(",")) == {"system", "call", "agent", "user", "dialplan"}
    assert write and set(write.group(1).split(",")) == {"agent", "reporting", "originate"}
    assert "deny - 0.0.0.0/0.0.0.0" in shown and "allow - 127.0.0.1/255.255.255.255" in shown


def test_the_sip_sample_defines_agents_phones_and_the_trunk(asterisk: Asterisk) -> None:
    shown = asterisk.cli("pjsip show endpoints")
    for endpoint in ("8101", "8102", "8109", "carrier"):
        assert re.search(rf"(?m)^\s*Endpoint:\s+{endpoint}\b", shown), shown
    assert "Match: 127.0.0.1/32" in shown  # the lab's carrier address
    assert "transport-udp" in asterisk.cli("pjsip show transports")

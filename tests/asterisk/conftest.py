"""The real-Asterisk tier: one Asterisk 22 per test session, loaded with the project's own
asterisk-config/ files as shipped, and simulated phones around it (lab.py).

Runs when HOTLINE_TEST_ASTERISK names an executable `run-asterisk` script (the one in
../shared/asterisk/ here; .ci/run sets it), or any script that takes the same arguments:
`SCRIPT CONFDIR` runs Asterisk in the foreground on that configuration directory,
`SCRIPT CONFDIR -rx COMMAND` runs one CLI command. Without it every test here is skipped.

The lab changes only what a lab must (ports, the manager secret, where the carrier and
agent phone 8101 are, where the routing FastAGI is), by small text substitutions that
fail loudly when asterisk-config/ changes under them, and adds its own files alongside:
lab/lab-extensions.conf (callers' and agents' phones) and a `lab` manager user.
"""

from __future__ import annotations

import asyncio
import os
import functools
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hotline.testing.pbx import PbxDouble
from tests.acceptance.conftest import Hotline, free_port
from tests.asterisk.lab import HERE, Asterisk, Lab, boot, build_confdir, start, stop
from tests.asterisk.service import import_lab_customers, new_hotline, routing_env, service_env

# Read at import: the root conftest removes every HOTLINE_* variable before each test.
RUN_ASTERISK = os.environ.get("HOTLINE_TEST_ASTERISK", "")


def skip_reason() -> str | None:
    if not RUN_ASTERISK:
        return "no Asterisk: set HOTLINE_TEST_ASTERISK to a run-asterisk script (../shared/asterisk/run-asterisk) to run the real-Asterisk tier"
    if not (os.path.isfile(RUN_ASTERISK) and os.access(RUN_ASTERISK, os.X_OK)):
        return f"HOTLINE_TEST_ASTERISK={RUN_ASTERISK!r} is not an executable file"
    return _cannot_run()


@functools.cache
def _cannot_run() -> str | None:
    """`asterisk -V` once: a build for another CPU dies at once with SIGILL (seen once in
    CI, where every test of the tier then failed at start with an empty log). That machine
    has no usable Asterisk, as one without the script has none; any other failure is left
    to the tests to report."""
    confdir = tempfile.mkdtemp(prefix="ha-probe-", dir="/tmp")
    try:
        done = subprocess.run([RUN_ASTERISK, confdir, "-V"], capture_output=True, timeout=120, check=False)
    finally:
        shutil.rmtree(confdir, ignore_errors=True)
    if done.returncode == -signal.SIGILL:
        return f"{RUN_ASTERISK} -V was killed by SIGILL: this Asterisk build does not run on this machine's CPU"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = skip_reason()
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.asterisk)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Asterisk]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    # Short: Asterisk's control socket lives in CONFDIR/run, and socket paths are short.
    confdir = Path(tempfile.mkdtemp(prefix="ha-", dir="/tmp"))
    a = Asterisk(RUN_ASTERISK, confdir, free_port(), free_port(), free_port(), free_port(), free_port(), secrets.token_hex(12), secrets.token_hex(12))
    try:
        build_confdir(a)
        start(a)
        asyncio.run(boot(a))
        yield a
    finally:
        stop(a)
        kept = tmp_path_factory.getbasetemp() / "asterisk"
        kept.mkdir(exist_ok=True)
        for name in ("console.out", "log/messages.log", "log/security.log", "log/queue_log"):
            if (confdir / name).exists():
                shutil.copy(confdir / name, kept / Path(name).name)
        shutil.rmtree(confdir, ignore_errors=True)


@pytest.fixture
async def lab(asterisk: Asterisk) -> AsyncIterator[Lab]:
    session = await asterisk.ami()
    lab = Lab(asterisk, session)
    yield lab
    await lab.close()


@pytest.fixture
async def hotline(asterisk: Asterisk, tmp_path: Path) -> AsyncIterator[Hotline]:
    """`hotline run` as users run it, logging in as the shipped `hotline` manager user.

    Its FastAGI server listens on a port the lab's dialplan does not ask, so calls take
    the default route; `routed_hotline` is the same service answering the dialplan."""
    service = await new_hotline(service_env(asterisk.ami_port, asterisk.secret, tmp_path, "hotline"), tmp_path / "hotline.log")
    yield service
    await service.close()


@pytest.fixture
async def routed_hotline(asterisk: Asterisk, hotline: Hotline, tmp_path: Path) -> Hotline:
    """The `hotline` service (not started) answering the FastAGI the lab dialplan asks
    (its HOTLINE_AGI_PORT), with the lab's customers imported through the CLI."""
    hotline.env |= routing_env(asterisk.agi_port)
    await import_lab_customers(hotline, tmp_path)
    return hotline


@pytest.fixture
async def pbx_double() -> AsyncIterator[PbxDouble]:
    double = PbxDouble(secret=secrets.token_hex(8))
    await double.start()
    yield double
    await double.stop()


@pytest.fixture
async def hotline_on_double(pbx_double: PbxDouble, tmp_path: Path) -> AsyncIterator[Hotline]:
    """A second `hotline run`, with a database of its own, logged in to the PBX double."""
    service = await new_hotline(service_env(pbx_double.port, pbx_double.secret, tmp_path, "replay"), tmp_path / "replay.log")
    yield service
    await service.close()

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
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.acceptance.conftest import Hotline, free_port
from tests.asterisk.lab import HERE, Asterisk, Lab, boot, build_confdir, start, stop
from tests.asterisk.service import LabHotline

# Read at import: the root conftest removes every HOTLINE_* variable before each test.
RUN_ASTERISK = os.environ.get("HOTLINE_TEST_ASTERISK", "")


def skip_reason() -> str | None:
    if not RUN_ASTERISK:
        return "no Asterisk: set HOTLINE_TEST_ASTERISK to a run-asterisk script (../shared/asterisk/run-asterisk) to run the real-Asterisk tier"
    if not (os.path.isfile(RUN_ASTERISK) and os.access(RUN_ASTERISK, os.X_OK)):
        return f"HOTLINE_TEST_ASTERISK={RUN_ASTERISK!r} is not an executable file"
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
    """`hotline run` as users run it, logging in as the shipped `hotline` manager user."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
        "HOTLINE_AMI_HOST": "127.0.0.1",
        "HOTLINE_AMI_PORT": str(asterisk.ami_port),
        "HOTLINE_AMI_SECRET": asterisk.secret,
        "HOTLINE_AMI_RECONNECT_MIN": "0.1",
        "HOTLINE_AMI_RECONNECT_MAX": "0.5",
        "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
        "HOTLINE_WEB_PORT": str(free_port()),
        # The service's own FastAGI server, on a port the lab's dialplan does not ask:
        # these tests take the default route (routing is proven in its own tests).
        "HOTLINE_ROUTING_AGI_PORT": str(free_port()),
        "HOTLINE_LOG_FORMAT": "json",
    }
    service = LabHotline(env, tmp_path / "hotline.log")
    service.token = (await service.command("user", "add", "x", "--role", "supervisor")).strip().splitlines()[-1]
    yield service
    await service.close()

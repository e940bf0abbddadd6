"""The service's own callback dispatcher against the real Asterisk: the AMI client and
CallbackDispatcher as hotline.app builds them (only the channels point at the lab's
agents and customers), logged in as the shipped `hotline` manager user, placing calls
through the shipped hotline-callback and hotline-survey contexts and storing what
Asterisk reports. Lab customers (lab/lab-extensions.conf): 13900000486 is busy,
13900000408 never answers, any other 11-digit number answers and keys its last digit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.client import AmiClient
from hotline.callbacks.book import Owed, schedule
from hotline.callbacks.dispatcher import CallbackDispatcher, Placing
from hotline.callbacks.model import CallbackKind, Mode
from hotline.callbacks.policy import DEFAULT_RETRY, CallingWindow
from hotline.callbacks.tables import callback_attempts, callbacks
from hotline.clock import SystemClock
from hotline.config import AmiSettings
from hotline.db.engine import create_engine
from hotline.db.migrate import upgrade_sync
from hotline.metrics import Metrics
from hotline.tickets.workdays import LOCAL_ZONE
from tests.asterisk.lab import Asterisk, Lab

ALL_DAY = CallingWindow(time(0, 0), time(23, 59), working_days_only=False)


@dataclass
class Dialer:
    engine: AsyncEngine
    client: AmiClient
    dispatcher: CallbackDispatcher

    async def owe(self, number: str, mode: Mode, *, extension: str | None = None) -> int:
        kind = CallbackKind.MANUAL if mode is Mode.AGENT_FIRST else CallbackKind.FOLLOW_UP
        now = SystemClock().now()
        async with self.engine.begin() as conn:
            created = await schedule(conn, Owed(kind, mode, number, "regular", now, 3, agent_extension=extension), now)
        assert created is not None
        return created

    async def settled(self, callback_id: int, timeout: float = 20) -> dict[str, Any]:
        """The callback once its attempt has ended (the dispatcher running all along)."""
        async with asyncio.timeout(timeout):
            while True:
                async with self.engine.connect() as conn:
                    row = dict((await conn.execute(select(callbacks).where(callbacks.c.id == callback_id))).mappings().one())
                    attempts = [dict(a) for a in (await conn.execute(select(callback_attempts).where(callback_attempts.c.callback_id == callback_id))).mappings()]
                if attempts and all(a["ended_at"] is not None for a in attempts) and row["state"] not in ("placing", "in_flight"):
                    row["attempt_rows"] = attempts
                    return row
                await asyncio.sleep(0.1)


@pytest.fixture
async def dialer(asterisk: Asterisk, lab: Lab, tmp_path: Path) -> AsyncIterator[Dialer]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'callbacks.db'}"
    await asyncio.to_thread(upgrade_sync, url)
    engine = create_engine(url)
    settings = AmiSettings(host="127.0.0.1", port=asterisk.ami_port, username="hotline", secret=asterisk.secret, reconnect_min=0.1, reconnect_max=0.5)
    client = AmiClient(settings, Metrics())
    placing = Placing("Local/{extension}@agents", "Local/{number}@customers", "8041", 4, 3, ALL_DAY, DEFAULT_RETRY, LOCAL_ZONE)

    async def live_channels() -> set[str]:
        replies = await client.send_action({"Action": "CoreShowChannels"}, as_list=True, timeout=30)
        return {str(m.get("Uniqueid")) for m in replies if m.get("Event") == "CoreShowChannel"}

    dispatcher = CallbackDispatcher(engine, SystemClock(), placing, client.send_originate, is_working_day=lambda _: True, live_channels=live_channels, poll_interval=timedelta(milliseconds=100))
    client.listeners.append(dispatcher.on_ami_event)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client.run(stop)), asyncio.create_task(dispatcher.run(stop, lambda: client.connected))]
    yield Dialer(engine, client, dispatcher)
    stop.set()
    await asyncio.wait(tasks, timeout=10)
    await engine.dispose()


async def test_a_survey_placed_by_the_service_stores_the_customers_score(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13912345674", Mode.SURVEY)
    row = await dialer.settled(callback_id)
    assert (row["state"], row["outcome"], row["score"], row["attempts"]) == ("done", "answered", 4, 1)
    [attempt] = row["attempt_rows"]
    assert (attempt["channel_id"], attempt["data"]["Reason"], attempt["data"]["Score"]) == (f"cb-{callback_id}-1", "4", "4")


async def test_agent_first_to_a_busy_customer_is_busy_and_tried_again_later(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13900000486", Mode.AGENT_FIRST, extension="8042")
    row = await dialer.settled(callback_id)
    assert (row["state"], row["outcome"], row["attempts"]) == ("scheduled", "busy", 1)
    [attempt] = row["attempt_rows"]
    # The agent answered (Reason 4); the customer's line was busy (the dialplan's report).
    assert (attempt["data"]["Reason"], attempt["data"]["DialStatus"]) == ("4", "BUSY")


async def test_agent_first_answered_by_agent_and_customer_is_done(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13912345678", Mode.AGENT_FIRST, extension="8043")
    row = await dialer.settled(callback_id)
    assert (row["state"], row["outcome"]) == ("done", "answered")
    assert row["attempt_rows"][0]["data"]["DialStatus"] == "ANSWER"


async def test_a_survey_nobody_answers_is_no_answer_after_the_ring_time(dialer: Dialer) -> None:
    callback_id = await dialer.owe("13900000408", Mode.SURVEY)
    row = await dialer.settled(callback_id)
    assert (row["state"], row["outcome"]) == ("scheduled", "no_answer")
    assert row["attempt_rows"][0]["data"]["Reason"] == "3"

"""`hotline demo`: the whole product on one machine with no Asterisk. The service runs on
SQLite (hotline-demo.db unless a database is configured) with the demo PBX in the same
process (AMI as Asterisk 22 speaks it; the callers ask the routing over real FastAGI),
seeded people and customers whose log-ins it prints, a steady mix of calls, simulated
customers answering the callbacks, and, with --speed, a clock that runs faster so the
service standard's timers and escalations can be watched in minutes.

What the demo changes in the settings, so everything shows at any hour: calls are taken
and callbacks placed all day, every day; callbacks ring the recordings' agents
(Local/8001@agents) and customers (Local/NUMBER@customers).
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from dataclasses import replace
from typing import TextIO

import structlog

from hotline.clock import AcceleratedClock, Clock, SystemClock
from hotline.config import WEEKDAYS, DatabaseSettings, Settings

from .calls import Callers
from .desk import DemoDesk
from .seed import PEOPLE, seed

log = structlog.get_logger(__name__)

DEMO_DATABASE = "sqlite+aiosqlite:///hotline-demo.db"


def demo_settings(settings: Settings) -> Settings:
    """The settings given, made to show everything at any hour (see the module's text)."""
    database = settings.database
    if database.url == DatabaseSettings().url:
        database = replace(database, url=DEMO_DATABASE)  # never the real hotline.db
    return replace(
        settings,
        ami=replace(settings.ami, host=""),
        database=database,
        routing=replace(settings.routing, work_days=WEEKDAYS, work_start="00:00", work_end="23:59"),
        callbacks=replace(
            settings.callbacks, enabled=True, window_start="00:00", window_end="23:59", working_days_only=False,
            agent_channel="Local/{extension}@agents", outbound_channel="Local/{number}@customers", default_agent_extension="8001",
        ),
    )  # fmt: skip


async def run_demo(settings: Settings, stop: asyncio.Event, *, speed: float = 1.0, every: float = 8.0, out: TextIO = sys.stdout) -> None:
    """Until stop: the service, with the demo PBX, its callers and its customers."""
    from hotline.app import Parts, serve

    settings = demo_settings(settings)
    clock: Clock = AcceleratedClock(speed) if speed != 1 else SystemClock()
    password = f"demo-{secrets.token_hex(4)}"

    async def beside(parts: Parts, stopping: asyncio.Event) -> None:
        try:
            customers = await seed(parts.engine, parts.clock, parts.directory, password)
            out.write(welcome(settings, password, speed))
            out.flush()
            while not parts.client.connected:
                await asyncio.sleep(0.05)
            assert parts.pbx is not None
            desk = DemoDesk(parts.tickets, parts.users, think=every / 2)
            desk.subscribe(parts.bus)
            callers = Callers(parts.pbx.play, clock, customers, agi=(settings.routing.agi_host, settings.routing.agi_port), every=every)
            callers.start_one("answered")  # something to see at once
            callers.start_one("abandoned")  # a lost caller: a callback follows
            try:
                await callers.run(stopping)
            finally:
                await desk.aclose()
        except Exception:
            log.exception("demo.failed")  # the service goes on; the log says why the calls stopped
            raise

    await serve(settings, stop, clock=clock, beside=beside)


def welcome(settings: Settings, password: str, speed: float) -> str:
    url = f"http://{settings.web.host}:{settings.web.port}/"
    rows = "\n".join(f"    {p.name:<8}\t{p.what}" + (f"\t分机 {p.extension}" if p.extension else "") for p in PEOPLE)
    faster = f"时钟加速 {speed:g} 倍 / the clock runs {speed:g}x: 10 min of deadlines pass in {600 / speed:.0f} s\n" if speed != 1 else ""
    return (
        f"\n96655 热线演示已启动 / the 96655 hotline demo is running\n"
        f"  打开 / open: {url}\n"
        f"  数据库 / database: {settings.database.url}\n"
        f"  {faster}"
        f"  登录名与角色（密码都是 {password}）/ log-ins (every password is {password}):\n{rows}\n"
        f"  Ctrl-C 结束 / Ctrl-C stops it\n\n"
    )

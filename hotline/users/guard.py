"""The log-in rate limit, and log-in itself: 5 failures for one name, or 20 from one address,
within 15 minutes, and further attempts are refused (even with the right password) until
the oldest of those failures leaves the window. Failures are rows, so several instances
share the count; the clock is injected, so a test moves through the window by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.clock import Clock
from hotline.db.tables import login_failures
from hotline.errors import HotlineError
from hotline.users.passwords import MAX_LENGTH
from hotline.users.store import User, UserStore

log = structlog.get_logger(__name__)

WINDOW = timedelta(minutes=15)
PER_NAME = 5
PER_ADDRESS = 20
_NAME_LENGTH = 200  # login_failures.name: what a person could type, cut to size


class BadLogin(HotlineError):
    """Wrong name or password."""

    error_id = "bad_login"


class Locked(HotlineError):
    """Too many failed log-ins: try again later."""

    error_id = "locked"

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        super().__init__(None, retry_after_seconds=self.seconds)

    @property
    def seconds(self) -> int:
        return max(1, math.ceil(self.retry_after.total_seconds()))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class LoginGuard:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, window: timedelta = WINDOW, per_name: int = PER_NAME, per_address: int = PER_ADDRESS) -> None:
        self.engine = engine
        self.clock = clock
        self.window = window
        self.per_name = per_name
        self.per_address = per_address

    async def retry_after(self, name: str, address: str) -> timedelta | None:
        """How long until this name may try again from this address; None: it may now."""
        waits = [
            await self._wait(login_failures.c.name == name[:_NAME_LENGTH], self.per_name),
            await self._wait(login_failures.c.address == address, self.per_address),
        ]
        return max((w for w in waits if w is not None), default=None)

    async def failed(self, name: str, address: str) -> None:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            await conn.execute(insert(login_failures).values(name=name[:_NAME_LENGTH], address=address, at=now))
            # Failures older than the window count for nothing any more.
            await conn.execute(delete(login_failures).where(login_failures.c.at <= now - self.window))

    async def succeeded(self, name: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(login_failures).where(login_failures.c.name == name[:_NAME_LENGTH]))

    async def _wait(self, who: ColumnElement[bool], limit: int) -> timedelta | None:
        """With `limit` or more failures in the window: until the limit-th newest leaves it."""
        now = self.clock.now()
        query = select(login_failures.c.at).where(who, login_failures.c.at > now - self.window).order_by(login_failures.c.at.desc()).limit(limit)
        async with self.engine.connect() as conn:
            recent = (await conn.execute(query)).scalars().all()
        if len(recent) < limit:
            return None
        return _utc(recent[-1]) + self.window - now


async def log_in(users: UserStore, guard: LoginGuard, name: str, password: str, address: str) -> User:
    """The user whose name and password these are; Locked or BadLogin otherwise.
    Logs the outcome with the name and address, never the password."""
    name = name.strip()
    wait = await guard.retry_after(name, address)
    if wait is not None:
        log.warning("auth.locked", name=name, address=address, retry_after=math.ceil(wait.total_seconds()))
        raise Locked(wait)
    user = await users.authenticate(name, password) if name and len(password) <= MAX_LENGTH else None
    if user is None:
        await guard.failed(name, address)
        log.warning("auth.login_failed", name=name, address=address)
        raise BadLogin()
    await guard.succeeded(name)
    log.info("auth.login", name=user.name, user_id=user.id, role=user.role.value, address=address)
    return user

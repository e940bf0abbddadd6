"""Which user a ringing queue member is: by the extension of its interface (Local/8001@agents/n
-> 8001), else by a user named like the member (agent-8001), as tickets' user_of_agent does.

A ring must not wait on the database, so the users' extensions and names are kept in memory
(users are tens, not thousands), reloaded in the background once older than `ttl`; only a
member found in neither map asks the database, off the capture's path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.presence import extension_of
from hotline.db.tables import users
from hotline.tickets import repository as repo

log = structlog.get_logger(__name__)

TTL = 60.0  # seconds a loaded map is trusted


class AgentUsers:
    def __init__(self, engine: AsyncEngine, *, ttl: float = TTL, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.ttl = ttl
        self.monotonic = monotonic
        self._by_extension: dict[str, int] = {}
        self._by_name: dict[str, int] = {}
        self._loaded_at: float | None = None
        self._loading: asyncio.Task[None] | None = None
        self._generation = 0  # bumped by invalidate(): a load begun before it is not kept

    def refresh_if_stale(self) -> asyncio.Task[None] | None:
        """Start reloading the maps in the background when they are old; the task, if any."""
        if self._loading is not None:
            return self._loading
        if self._loaded_at is not None and self.monotonic() - self._loaded_at < self.ttl:
            return None
        self._loading = asyncio.create_task(self._load(), name="pops.agent-users")
        return self._loading

    def invalidate(self, _user_id: int | None = None) -> None:
        """A user was added or changed (an extension moved, a user disabled): the next
        ring waits for the maps read again rather than trust them for up to `ttl`."""
        self._by_extension, self._by_name, self._loaded_at = {}, {}, None
        self._generation += 1

    def resolve(self, interface: str | None, member: str | None) -> asyncio.Future[int | None]:
        """The user of the member, as a future: done at once when the maps know it."""
        extension = extension_of(interface) if interface else None
        found = self._known(extension, member)
        loading = self.refresh_if_stale()
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        if found is not None:
            future.set_result(found)
            return future
        return asyncio.create_task(self._ask(loading, extension, member), name="pops.agent-lookup")

    def of_extension(self, extension: str) -> asyncio.Future[int | None]:
        """The user whose extension this is (a callback ringing their phone)."""
        found = self._known(extension, None)
        loading = self.refresh_if_stale()
        if found is not None:
            future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
            future.set_result(found)
            return future
        return asyncio.create_task(self._ask(loading, extension, None), name="pops.agent-lookup")

    def _known(self, extension: str | None, member: str | None) -> int | None:
        if extension and extension in self._by_extension:
            return self._by_extension[extension]
        if member and member in self._by_name:
            return self._by_name[member]
        return None

    async def _ask(self, loading: asyncio.Task[None] | None, extension: str | None, member: str | None) -> int | None:
        if loading is not None:
            await asyncio.wait([loading])
            if (found := self._known(extension, member)) is not None:
                return found
        try:
            async with self.engine.connect() as conn:
                return await repo.user_of_agent(conn, extension, member)
        except Exception:
            log.exception("pops.agent_lookup_failed", extension=extension, member=member)
            return None

    async def _load(self) -> None:
        generation = self._generation
        try:
            async with self.engine.connect() as conn:
                # A disabled user gets no pops: their phone may have gone to someone else.
                rows = (await conn.execute(select(users.c.id, users.c.name, users.c.extension).where(users.c.disabled.is_(False)))).all()
            if generation != self._generation:
                return  # read before a change: the next ring loads again
            self._by_extension = {row.extension: row.id for row in rows if row.extension}
            self._by_name = {row.name: row.id for row in rows}
            self._loaded_at = self.monotonic()
        except Exception:
            log.exception("pops.agent_users_failed")
        finally:
            self._loading = None


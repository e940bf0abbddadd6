"""Fresh databases for tests: a SQLite file per test, or a PostgreSQL database per test
copied from a migrated template (procrastinate's tests/conftest.py does the same).
PostgreSQL is 127.0.0.1:5432, database `test`, unless HOTLINE_TEST_POSTGRES_URL says else;
when it does not answer, its tests skip with the reason."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from urllib.parse import urlsplit

import asyncpg

from hotline.db.migrate import upgrade_sync

POSTGRES_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    parts = urlsplit(POSTGRES_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=1):
            return None
    except OSError as exc:
        return f"PostgreSQL does not answer at {parts.hostname}:{parts.port} ({exc}); set HOTLINE_TEST_POSTGRES_URL"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


def async_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


class PostgresDatabases:
    """One migrated template per test session; each test gets a copy and drops it."""

    def __init__(self) -> None:
        self.template = f"hotline_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._made_template = False

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(POSTGRES_URL)

    async def create(self) -> str:
        admin = await self._admin()
        try:
            if not self._made_template:
                await admin.execute(f'CREATE DATABASE "{self.template}"')
                await asyncio.to_thread(upgrade_sync, async_url(_with_database(POSTGRES_URL, self.template)))
                self._made_template = True
            name = f"hotline_t_{uuid.uuid4().hex[:12]}"
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await admin.close()
        return async_url(_with_database(POSTGRES_URL, name))

    async def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def drop_template(self) -> None:
        if self._made_template:
            admin = await self._admin()
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
            finally:
                await admin.close()

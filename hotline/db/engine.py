"""The async engine, with SQLite set up for a service (WAL, foreign keys, busy timeout)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# Several instances: run first in a transaction that writes what was heard from Asterisk;
# raises (hotline.cluster.lease.LeaseLost) once another instance owns the AMI connection.
Fence = Callable[[AsyncConnection], Awaitable[None]]


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(url, connect_args={"timeout": 30}, **(_SQLITE_FILE_POOL if _is_file(parsed) else {}))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # A fixed pool: opening and closing overflow connections under a burst of routing
    # lookups cost more than the lookups (bench/routing.py showed 531 connections).
    return create_async_engine(url, pool_size=20, max_overflow=0, pool_timeout=30, pool_pre_ping=True)


# A fixed pool: each SQLite connection is a thread of aiosqlite's plus the PRAGMAs below, and
# the default 5 + 10 overflow opened and closed overflow connections with every burst (130 in
# 10 s under the routing benchmark). SQLite has one writer at a time, so 8 is plenty; waiting
# for one of them is cheaper than opening another, and no longer than busy_timeout.
_SQLITE_FILE_POOL: dict[str, Any] = {"pool_size": 8, "max_overflow": 0, "pool_timeout": 30}


def _is_file(url: URL) -> bool:
    # As SQLAlchemy tells them apart: an in-memory database keeps its StaticPool.
    return url.database not in (None, "", ":memory:") and url.query.get("mode") != "memory"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a process crash (kill -9); only an OS crash can lose
    # the last commits, and Asterisk's own state is then lost too.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


@asynccontextmanager
async def write_transaction(engine: AsyncEngine, fence: Fence | None = None) -> AsyncIterator[AsyncConnection]:
    """A transaction that writes, committed at the end or rolled back on error.

    `fence` (several instances: Lease.fence) runs first in it and raises when this instance
    no longer owns the AMI connection, so what it heard from Asterisk is not written twice.

    On SQLite it takes the single write lock before its first read (BEGIN IMMEDIATE,
    waiting out busy_timeout): a deferred transaction that reads and then writes fails at
    once with "database is locked" when another writer committed in between, and waiting
    cannot help it. PostgreSQL needs nothing: row locks and MVCC do this job."""
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        if fence is not None:
            await fence(conn)
        yield conn

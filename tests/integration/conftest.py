"""Integration fixtures: a fresh migrated database per test, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db.engine import create_engine
from hotline.db.migrate import upgrade_sync
from tests.databases import PostgresDatabases, postgres_unavailable


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    asyncio.run(databases.drop_template())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
        await asyncio.to_thread(upgrade_sync, url)
        yield url
        return
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    databases: PostgresDatabases = request.getfixturevalue("postgres")
    url = await databases.create()
    yield url
    await databases.drop(url)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()

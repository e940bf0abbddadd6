"""The one place that knows SQLite and PostgreSQL spell upserts differently."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine


def insert_ignoring_duplicates(engine: AsyncEngine, table: Table, key: str) -> Any:
    return _insert(engine, table).on_conflict_do_nothing(index_elements=[key])


def upsert(engine: AsyncEngine, table: Table, key: str) -> Any:
    stmt = _insert(engine, table)
    return stmt.on_conflict_do_update(index_elements=[key], set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != key})


def _insert(engine: AsyncEngine, table: Table) -> Any:
    module = sqlite if engine.dialect.name == "sqlite" else postgresql
    return module.insert(table)

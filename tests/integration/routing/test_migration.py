"""Migration 0002 on a database that already has users and tokens (SQLite enforces foreign keys)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from hotline.db.engine import create_engine
from hotline.db.migrate import upgrade
from hotline.users.store import UserStore


async def test_upgrading_a_database_with_users_keeps_them_and_their_tokens(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await upgrade(url, "0001")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO users (name, role, created_at) VALUES ('王经理', 'agent', '2026-01-01 00:00:00')"))
            await conn.execute(text("INSERT INTO api_tokens (user_id, token_hash, created_at) VALUES (1, 'x', '2026-01-01 00:00:00')"))
        await upgrade(url)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT name, extension FROM users"))).all() == [("王经理", None)]
            assert (await conn.execute(text("SELECT count(*) FROM api_tokens"))).scalar_one() == 1
        _, token = await UserStore(engine).add("李经理", "agent")
        assert await UserStore(engine).by_token(token) is not None
    finally:
        await engine.dispose()

"""The routing lookup's fast path: on a SQLite file, a read-only stdlib connection on one
thread of its own; always fresh, closed by aclose() (or when the directory is dropped);
anything else keeps the engine path. And canonical numbers are not normalised twice."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db.engine import create_engine
from hotline.db.migrate import upgrade_sync
from hotline.db.tables import metadata
from hotline.routing import directory as directory_module
from hotline.routing.customers import CustomerDraft, PhoneNumber
from hotline.routing.directory import CustomerDirectory, _sqlite_file
from hotline.routing.numbers import BadNumber
from hotline.routing.profile import CallerProfile
from tests.integration.routing.test_import_export import HEADER, hotline

THREAD = "hotline-directory"


Threads = Callable[[], list[threading.Thread]]


@pytest.fixture
def threads() -> Threads:
    """The readers' threads started in this test (and still running)."""
    before = set(threading.enumerate())
    return lambda: [t for t in threading.enumerate() if t.name.startswith(THREAD) and t not in before]


@pytest.fixture
async def directory(engine: AsyncEngine) -> AsyncIterator[CustomerDirectory]:
    directory = CustomerDirectory(engine, default_area_code="0827")
    yield directory
    await directory.aclose()


def hospital(*numbers: str, name: str = "巴中市人民医院") -> CustomerDraft:
    return CustomerDraft(name, "vip", "urban", [PhoneNumber(n) for n in numbers or ("0827-5551234",)])


async def test_a_customer_imported_by_the_cli_in_another_process_is_found_at_once(db_url: str, directory: CustomerDirectory, tmp_path: Path) -> None:
    assert await directory.lookup("13912345678") is None  # on SQLite, the reader is open from here on
    assert (directory._reader is not None) == db_url.startswith("sqlite")
    path = tmp_path / "customers.csv"
    path.write_text(HEADER + "A-1,张三,vip,urban,13912345678,,\n", encoding="utf-8")
    code, out, err = await hotline(db_url, "customers", "import", str(path))
    assert code == 0 and out.strip() == "created 1, updated 0, skipped 0", err
    found = await directory.lookup("139 1234 5678")
    assert found is not None and (found.name, found.tier) == ("张三", "vip")

    path.write_text(HEADER + "A-1,张三（改）,private_network,rural,13912345678,,\n", encoding="utf-8")
    code, out, err = await hotline(db_url, "customers", "import", str(path))
    assert code == 0 and out.strip() == "created 0, updated 1, skipped 0", err
    changed = await directory.lookup("+8613912345678")
    assert changed is not None and (changed.name, changed.tier, changed.area) == ("张三（改）", "private_network", "rural")


async def test_changes_through_the_engine_are_seen_by_the_next_lookup(directory: CustomerDirectory) -> None:
    created = await directory.create(hospital())
    assert await directory.lookup("5551234") == CallerProfile(created.id, "巴中市人民医院", "vip", "urban", None, None)
    await directory.update(created.id, hospital("13912345678", name="新医院"))
    assert await directory.lookup("5551234") is None
    assert (await directory.lookup("13912345678")) == CallerProfile(created.id, "新医院", "vip", "urban", None, None)
    await directory.delete(created.id)
    assert await directory.lookup("13912345678") is None


async def test_the_sqlite_reader_is_one_read_only_connection_on_one_thread_until_aclose(engine: AsyncEngine, directory: CustomerDirectory, threads: Threads) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps the engine path")
    created = await directory.create(hospital())
    numbers = ["5551234", "13800000000", "+868275551234"] * 30
    found = await asyncio.gather(*(directory.lookup(n) for n in numbers))
    assert [p and p.customer_id for p in found] == [created.id, None, created.id] * 30
    assert len(threads()) == 1
    reader = directory._reader
    assert reader is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await asyncio.get_running_loop().run_in_executor(reader._executor, reader.connection.execute, "DELETE FROM customers")

    await directory.aclose()
    assert threads() == []
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        reader.connection.execute("SELECT 1")
    await directory.aclose()  # twice is fine

    # Like the engine after dispose(): used again, it opens again.
    assert (await directory.lookup("5551234")) is not None
    assert directory._reader is not None and directory._reader is not reader and len(threads()) == 1
    directory.close()
    assert threads() == [] and directory._reader is None


async def test_disposing_of_the_engine_closes_the_reader_too(engine: AsyncEngine, threads: Threads) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps the engine path")
    directory = CustomerDirectory(engine)  # no aclose(): as the tickets' fixtures use it
    created = await directory.create(hospital())
    assert await directory.lookup("5551234") is not None
    reader = directory._reader
    assert reader is not None and len(threads()) == 1
    await engine.dispose()
    assert threads() == [] and directory._reader is None
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        reader.connection.execute("SELECT 1")
    # The engine can be used after dispose(), and so can the directory.
    found = await directory.lookup("5551234")
    assert found is not None and found.customer_id == created.id and len(threads()) == 1
    await engine.dispose()
    assert threads() == []


async def test_a_directory_dropped_without_aclose_closes_its_reader(engine: AsyncEngine, threads: Threads) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps the engine path")
    directory = CustomerDirectory(engine)
    assert await directory.lookup("13800000000") is None
    reader = directory._reader
    assert reader is not None
    [thread] = threads()
    del directory
    gc.collect()
    await asyncio.to_thread(thread.join, 5)
    assert not thread.is_alive()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        reader.connection.execute("SELECT 1")


async def test_a_lookup_over_its_budget_does_not_hold_up_the_next(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the SQLite reader's thread")
    # The routing cancels a lookup at its budget; the reader's thread goes on to the next.
    created = await directory.create(hospital())
    for _ in range(3):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0):
                await directory.lookup("5551234")
    found = await directory.lookup("5551234")
    assert found is not None and found.customer_id == created.id


def test_only_a_plain_sqlite_file_gets_the_reader(tmp_path: Path) -> None:
    urls = {
        f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}": str(tmp_path / "hotline.db"),
        "sqlite+aiosqlite:///hotline.db": "hotline.db",
        "sqlite+aiosqlite:///:memory:": None,
        "sqlite+aiosqlite://": None,
        f"sqlite+aiosqlite:///file:{tmp_path / 'hotline.db'}?uri=true": None,
        f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}?timeout=5": None,
        "postgresql+asyncpg://postgres@127.0.0.1:5432/hotline": None,
    }
    for url, expected in urls.items():
        engine = create_engine(url)
        try:
            assert _sqlite_file(engine) == expected, url
        finally:
            engine.sync_engine.dispose()


async def test_an_in_memory_database_keeps_the_engine_path(threads: Threads) -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        directory = CustomerDirectory(engine)
        created = await directory.create(hospital())
        assert (await directory.lookup("0827 555 1234")) == CallerProfile(created.id, "巴中市人民医院", "vip", "urban", None, None)
        assert directory._reader is None and threads() == []
        await directory.aclose()
    finally:
        await engine.dispose()


async def test_a_database_not_in_wal_mode_keeps_the_engine_path(tmp_path: Path, threads: Threads) -> None:
    path = tmp_path / "hotline.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade_sync, url)
    with sqlite3.connect(path) as plain:
        assert plain.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
        plain.execute("INSERT INTO customers (name, tier, area, notes, created_at, updated_at) VALUES ('医院', 'vip', 'urban', '', '2026-01-01', '2026-01-01')")
        plain.execute("INSERT INTO customer_numbers (customer_id, number) VALUES (1, '+868275551234')")
    plain.close()
    engine = create_engine(url)
    directory = CustomerDirectory(engine)
    try:
        # The first lookup finds the file in rollback-journal mode: the engine serves it.
        assert (await directory.lookup("5551234")) == CallerProfile(1, "医院", "vip", "urban", None, None)
        assert directory._reader is None and threads() == []
    finally:
        await directory.aclose()
        await engine.dispose()


@pytest.fixture
def normalise_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real: Callable[..., str] = directory_module.normalise

    def counted(raw: str, **kwargs: Any) -> str:
        calls.append(raw)
        return real(raw, **kwargs)

    monkeypatch.setattr(directory_module, "normalise", counted)
    return calls


async def test_a_canonical_number_is_not_normalised_again_and_junk_is_still_refused(directory: CustomerDirectory, normalise_calls: list[str]) -> None:
    created = await directory.create(hospital("0827-5551234", "8001"))
    expected = CallerProfile(created.id, "巴中市人民医院", "vip", "urban", None, None)
    normalise_calls.clear()
    assert await directory.lookup("+868275551234") == expected
    assert await directory.lookup("ext:8001") == expected
    assert normalise_calls == []
    # Not in the directory: normalised, to tell an unknown caller from junk.
    assert await directory.lookup("+8613800000000") is None
    assert await directory.lookup("ext:8002") is None
    assert normalise_calls == ["+8613800000000", "ext:8002"]
    for junk in ("+861234", "+8600000000000", "ext:0800"):
        with pytest.raises(BadNumber):
            await directory.lookup(junk)
    # Canonical-looking but not canonical: normalised, then found.
    assert await directory.lookup("+8608275551234") == expected
    # Any other spelling is normalised as before.
    assert await directory.lookup("0827 555 1234") == expected and normalise_calls[-1] == "0827 555 1234"


async def test_the_sqlite_engine_keeps_a_fixed_pool_under_a_burst(engine: AsyncEngine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's pool")
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda conn, record: opened.append(conn))

    async def query() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            await asyncio.sleep(0.01)

    await asyncio.gather(*(query() for _ in range(40)))
    assert len(opened) <= 8
    before = len(opened)
    await asyncio.gather(*(query() for _ in range(40)))
    assert len(opened) == before  # no overflow connections opened and closed per burst
    assert (engine.pool.size(), engine.pool.checkedin()) == (8, before)  # type: ignore[attr-defined]

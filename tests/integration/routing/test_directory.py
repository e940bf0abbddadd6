"""The customer directory on SQLite and PostgreSQL: changes in one transaction, numbers with
one owner, and the routing lookup as one indexed query."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db.tables import users
from hotline.errors import BadRequest, NotFound
from hotline.routing.customers import CustomerDraft, PhoneNumber
from hotline.routing.directory import _LOOKUP, CustomerDirectory
from hotline.routing.numbers import BadNumber
from hotline.routing.profile import CallerProfile
from hotline.routing.tables import customer_numbers, customers
from hotline.users.store import UserStore


def draft(name: str = "巴中市人民医院", *numbers: str | PhoneNumber, **fields: Any) -> CustomerDraft:
    given = [n if isinstance(n, PhoneNumber) else PhoneNumber(n) for n in numbers or ("0827-5551234",)]
    return CustomerDraft(**({"name": name, "tier": "key_account", "area": "urban", "numbers": given} | fields))


async def add_manager(engine: AsyncEngine, name: str = "王经理", extension: str | None = "8009") -> int:
    user, _ = await UserStore(engine).add(name, "agent")
    async with engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == user.id).values(extension=extension))
    return user.id


@pytest.fixture
async def directory(engine: AsyncEngine) -> AsyncIterator[CustomerDirectory]:
    directory = CustomerDirectory(engine, default_area_code="0827")
    yield directory
    await directory.aclose()


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_a_key_account_caller_is_recognised_by_any_spelling_of_its_number(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    manager = await add_manager(engine)
    hospital = await directory.create(draft("巴中市人民医院", "0827-5551234", "139 1234 5678", account_manager_id=manager))
    expected = CallerProfile(hospital.id, "巴中市人民医院", "key_account", "urban", "王经理", "8009")
    for spelling in ("08275551234", "5551234", "+86 827 555 1234", "+868275551234", "008613912345678"):
        assert await directory.lookup(spelling) == expected


async def test_unknown_and_withheld_callers_have_no_profile_and_junk_says_why(directory: CustomerDirectory) -> None:
    await directory.create(draft())
    for caller in ("13800000000", "8001", "unknown", "<unknown>", "anonymous", ""):
        assert await directory.lookup(caller) is None
    with pytest.raises(BadNumber):
        await directory.lookup("call me")


@contextmanager
def reader_statements(directory: CustomerDirectory) -> Iterator[list[str]]:
    """What the SQLite reader's own connection runs (nothing elsewhere)."""
    seen: list[str] = []
    reader = directory._reader
    if reader is None:
        yield seen
        return
    reader.connection.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        reader.connection.set_trace_callback(None)


async def test_lookup_is_one_query_on_the_number_index(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    await directory.create(draft(account_manager_id=await add_manager(engine)))
    assert await directory.lookup("13800000000") is None  # on SQLite, opens the reader
    with statements(engine) as seen, reader_statements(directory) as read:
        assert await directory.lookup("5551234") is not None
    if engine.dialect.name == "sqlite":
        # The reader runs the engine's own query, compiled by its dialect, and nothing else.
        # (sqlite3's trace shows the statement with its parameter filled in.)
        query = str(_LOOKUP.compile(dialect=engine.dialect))
        assert seen == [] and read == [query.replace("= ?", "= '+868275551234'")], (seen, read)
    assert len([s for s in seen + read if "customer_numbers" in s]) == 1, (seen, read)
    if engine.dialect.name == "sqlite":
        sql = f"EXPLAIN QUERY PLAN {_LOOKUP.compile(dialect=engine.dialect)}"
        async with engine.connect() as conn:
            plan = " | ".join(str(row[-1]) for row in await conn.exec_driver_sql(sql, ("+868275551234",)))
        assert "SEARCH customer_numbers USING INDEX" in plan and "(number=?)" in plan and "SCAN" not in plan, plan


async def test_create_and_get_keep_numbers_labels_and_manager(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    manager = await add_manager(engine)
    created = await directory.create(draft("医院", PhoneNumber("0827 555 1234", "总机"), "8001", account_manager_id=manager, notes="24 小时", external_ref="H-1"))
    got = await directory.get(created.id)
    assert got == created
    assert [(n.number, n.label) for n in created.numbers] == [("+868275551234", "总机"), ("ext:8001", None)]
    assert (created.account_manager, created.notes, created.external_ref) == ("王经理", "24 小时", "H-1")
    assert created.created_at.tzinfo is not None
    assert await directory.get(created.id + 1) is None


async def test_a_number_has_one_owner_and_the_refusal_names_it(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    hospital = await directory.create(draft("医院", "0827-5551234", external_ref="H-1"))
    with pytest.raises(BadRequest, match=f"number 0827 555 1234 belongs to customer #{hospital.id} 医院"):
        await directory.create(draft("学校", "13912345678", "+86 827 5551234"))
    with pytest.raises(BadRequest, match=f"external_ref 'H-1' belongs to customer #{hospital.id} 医院"):
        await directory.create(draft("学校", "13912345678", external_ref="H-1"))
    assert await count(engine, customers) == 1 and await count(engine, customer_numbers) == 1


async def test_bad_drafts_and_unknown_managers_change_nothing(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    with pytest.raises(BadRequest, match="tier 'gold'"):
        await directory.create(draft(tier="gold"))
    with pytest.raises(BadRequest, match="no user with id 99"):
        await directory.create(draft(account_manager_id=99))
    assert await count(engine, customers) == 0


async def test_update_replaces_numbers_and_keeps_labels_not_given(directory: CustomerDirectory) -> None:
    created = await directory.create(draft("医院", PhoneNumber("0827 555 1234", "总机"), PhoneNumber("13912345678", "院长")))
    updated = await directory.update(created.id, draft("巴中医院", "08275551234", PhoneNumber("8001", "分机"), tier="vip", area="rural"))
    assert (updated.name, updated.tier, updated.area) == ("巴中医院", "vip", "rural")
    assert [(n.number, n.label) for n in updated.numbers] == [("+868275551234", "总机"), ("ext:8001", "分机")]
    assert updated.updated_at >= created.updated_at and updated.created_at == created.created_at
    assert await directory.lookup("13912345678") is None
    cleared = await directory.update(created.id, draft("巴中医院", PhoneNumber("08275551234", "")))
    assert [(n.number, n.label) for n in cleared.numbers] == [("+868275551234", None)]


async def test_an_update_that_takes_another_customers_number_changes_nothing(directory: CustomerDirectory) -> None:
    hospital = await directory.create(draft("医院", "0827-5551234"))
    school = await directory.create(draft("学校", "13912345678"))
    with pytest.raises(BadRequest, match=f"belongs to customer #{hospital.id}"):
        await directory.update(school.id, draft("学校改名", "13912345678", "5551234"))
    assert await directory.get(school.id) == school
    with pytest.raises(NotFound):
        await directory.update(school.id + 100, draft("无", "13700000000"))


async def test_delete_takes_the_numbers_with_it(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    created = await directory.create(draft("医院", "0827-5551234", "13912345678"))
    await directory.delete(created.id)
    assert await directory.get(created.id) is None
    assert await count(engine, customer_numbers) == 0
    assert await directory.lookup("5551234") is None
    with pytest.raises(NotFound):
        await directory.delete(created.id)
    again = await directory.create(draft("新医院", "0827-5551234"))
    assert (await directory.lookup("5551234")) == CallerProfile(again.id, "新医院", "key_account", "urban", None, None)


async def test_search_by_name_part_number_part_tier_and_area(directory: CustomerDirectory) -> None:
    hospital = await directory.create(draft("巴中市人民医院", "0827-5551234", tier="key_account", area="urban"))
    school = await directory.create(draft("巴中中学 100%_test", "13912345678", tier="vip", area="rural"))
    await directory.create(draft("Zhang San", "8001", tier="regular", area="suburban"))

    async def names(q: str = "", **filters: Any) -> list[str]:
        return [c.name for c in (await directory.search(q, **filters)).customers]

    assert await names("巴中") == [hospital.name, school.name]
    assert await names("zhang") == ["Zhang San"]
    assert await names("5551234") == [hospital.name]
    assert await names("0827 555 1234") == [hospital.name]
    assert await names("1234") == [hospital.name, school.name]
    assert await names("100%") == [school.name] and await names("%") == [school.name] and await names("_") == [school.name]
    assert await names(tier="vip") == [school.name]
    assert await names(area="城网") == [hospital.name]
    page = await directory.search("巴中", limit=1, offset=1)
    assert ([c.name for c in page.customers], page.total) == ([school.name], 2)
    for bad in ({"tier": "gold"}, {"area": "moon"}, {"limit": 0}, {"limit": 1001}, {"offset": -1}):
        with pytest.raises(BadRequest):
            await directory.search(**bad)


async def test_every_customer_comes_in_batches_in_id_order(directory: CustomerDirectory) -> None:
    created = [await directory.create(draft(f"客户{i}", f"1391234567{i}")) for i in range(5)]
    assert [c.id async for c in directory.every_customer(batch=2)] == [c.id for c in created]

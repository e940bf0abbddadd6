"""The customer directory: who owns which number, kept in the database, and the routing's
one-query caller lookup. Every change runs in one transaction; numbers are stored canonical.

On a SQLite file the lookup bypasses the async engine: one read-only stdlib sqlite3
connection on a thread of its own runs the same query, one hop per lookup (see _SqliteReader).
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import structlog
from sqlalchemy import Select, bindparam, delete, event, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import aliased

from hotline.db.engine import write_transaction
from hotline.db.tables import users
from hotline.errors import BadRequest, NotFound
from hotline.routing.customers import (
    Area,
    Customer,
    CustomerData,
    CustomerDraft,
    ImportReport,
    ImportRow,
    Known,
    Owner,
    Page,
    PhoneNumber,
    RowProblem,
    Tier,
    conflicts,
    parse_area,
    parse_tier,
    plan_import,
    validate,
)
from hotline.routing.numbers import BadNumber, area_code, is_withheld, normalise
from hotline.routing.profile import CallerProfile
from hotline.routing.tables import customer_numbers, customers
from hotline.tickets.tables import tickets

log = structlog.get_logger(__name__)

_CHUNK = 500  # keys per IN (...): far below SQLite's and asyncpg's parameter limits

# The routing hot path: one probe of the unique index on customer_numbers.number. The
# columns are CallerProfile's, in its order (the SQLite reader builds it from plain tuples).
# First-responder continuity: the owner of the caller's unresolved ticket, found by
# the ticket's (canonical, indexed) caller number, inside the same single query.
_ticket_owner = aliased(users)
# A caller has one open ticket as a rule (a repeat call joins it); with several, any owner
# will do. An aggregate, not ORDER BY ... LIMIT, keeps the query free of bound values but
# the number, which the SQLite reader relies on.
_OPEN_TICKET_OWNER = (
    select(func.max(_ticket_owner.c.extension))
    .select_from(tickets.join(_ticket_owner, _ticket_owner.c.id == tickets.c.owner_user_id))
    .where(tickets.c.caller_number == customer_numbers.c.number, tickets.c.resolved_at.is_(None), tickets.c.closed_at.is_(None))
    .scalar_subquery()
)
_LOOKUP = (
    select(customers.c.id, customers.c.name, customers.c.tier, customers.c.area, users.c.name.label("manager"), users.c.extension, _OPEN_TICKET_OWNER.label("ticket_owner"))
    .select_from(customer_numbers.join(customers, customers.c.id == customer_numbers.c.customer_id))
    .outerjoin(users, users.c.id == customers.c.account_manager_id)
    .where(customer_numbers.c.number == bindparam("number"))
)
# What normalise returns (E.164, or ext: and an extension). A stored number is canonical, so
# such a string found in the directory needs no normalising; one not found still does.
_CANONICAL = re.compile(r"\+[1-9][0-9]{3,14}|ext:[1-9][0-9]{2,4}")
_CUSTOMER_ROWS = select(customers, users.c.name.label("manager")).outerjoin(users, users.c.id == customers.c.account_manager_id)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CustomerDirectory:
    def __init__(self, engine: AsyncEngine, *, default_area_code: str = "0827", now: Callable[[], datetime] = _utcnow) -> None:
        self.engine = engine
        self.default_area_code = area_code(default_area_code)
        self._now = now
        self._sqlite_file = _sqlite_file(engine)  # None: the lookup goes through the engine
        self._reader: _SqliteReader | None = None
        self._reader_finalizer: weakref.finalize[Any, Any] | None = None
        if self._sqlite_file is not None:
            # Whoever disposes of the engine (the service, the CLI, every test) closes the
            # reader with it, aclose() or not.
            event.listen(engine.sync_engine, "engine_disposed", _close_on_dispose(weakref.ref(self)))

    def validate(self, draft: CustomerDraft) -> CustomerData:
        return validate(draft, default_area_code=self.default_area_code)

    async def lookup(self, number_raw: str) -> CallerProfile | None:
        """The caller's profile; None for a withheld or unknown number. Raises BadNumber."""
        if is_withheld(number_raw):
            return None
        if _CANONICAL.fullmatch(number_raw):
            # The routing hands over numbers it has normalised already: found as given, it
            # was canonical (~25 µs of normalise spared); not found, it may still be junk.
            if (profile := await self._find(number_raw)) is not None:
                return profile
            number = normalise(number_raw, default_area_code=self.default_area_code)
            return None if number == number_raw else await self._find(number)
        return await self._find(normalise(number_raw, default_area_code=self.default_area_code))

    async def _find(self, number: str) -> CallerProfile | None:
        reader = self._reader or self._open_reader()
        if reader is not None:
            found = await reader.find(number)
            return None if found is None else CallerProfile(*found)
        async with self.engine.connect() as conn:
            row = (await conn.execute(_LOOKUP, {"number": number})).first()
        if row is None:
            return None
        return CallerProfile(row.id, row.name, row.tier, row.area, row.manager, row.extension, row.ticket_owner)

    def _open_reader(self) -> _SqliteReader | None:
        """The SQLite reader, opened at the first lookup; None where the engine serves it."""
        if self._sqlite_file is None:
            return None
        try:
            reader = _SqliteReader(self._sqlite_file, self.engine)
        except (sqlite3.Error, _Unsuitable) as exc:
            # The lookup still works, through the engine as everything else does.
            log.warning("directory.sqlite_reader_unavailable", path=self._sqlite_file, reason=str(exc))
            self._sqlite_file = None
            return None
        self._reader = reader
        # A directory dropped without aclose() still ends the thread and closes the file.
        self._reader_finalizer = weakref.finalize(self, reader.close, wait=False)
        return reader

    async def aclose(self) -> None:
        """End the SQLite reader's thread and close its connection (at shutdown; disposing
        of the engine does it too). Like the engine after dispose(), a later lookup opens
        it again."""
        reader, self._reader = self._reader, None
        if reader is not None:
            assert self._reader_finalizer is not None
            self._reader_finalizer.detach()
            await reader.aclose()

    def close(self) -> None:
        """aclose() for code without an event loop: waits for the reader's thread to end."""
        reader, self._reader = self._reader, None
        if reader is not None:
            assert self._reader_finalizer is not None
            self._reader_finalizer.detach()
            reader.close()

    async def get(self, customer_id: int) -> Customer | None:
        async with self.engine.connect() as conn:
            found = await _load(conn, _CUSTOMER_ROWS.where(customers.c.id == customer_id))
        return found[0] if found else None

    async def create(self, draft: CustomerDraft) -> Customer:
        data = self.validate(draft)
        async with self._change() as conn:
            await _refuse_conflicts(conn, data, None)
            [customer_id] = await _insert(conn, [data], self._now())
            await _replace_numbers(conn, [(customer_id, data.numbers)])
            return (await _load(conn, _CUSTOMER_ROWS.where(customers.c.id == customer_id)))[0]

    async def update(self, customer_id: int, draft: CustomerDraft) -> Customer:
        """Replace the customer's fields and numbers (a number given without a label keeps its label)."""
        data = self.validate(draft)
        async with self._change() as conn:
            if (await conn.execute(select(customers.c.id).where(customers.c.id == customer_id))).first() is None:
                raise NotFound("no such customer", id=customer_id)
            await _refuse_conflicts(conn, data, customer_id)
            await _update(conn, [(customer_id, data)], self._now())
            await _replace_numbers(conn, [(customer_id, data.numbers)])
            return (await _load(conn, _CUSTOMER_ROWS.where(customers.c.id == customer_id)))[0]

    async def delete(self, customer_id: int) -> None:
        async with self._change() as conn:
            # The numbers go with it: ON DELETE CASCADE.
            if (await conn.execute(delete(customers).where(customers.c.id == customer_id))).rowcount == 0:
                raise NotFound("no such customer", id=customer_id)

    async def search(self, q: str = "", *, tier: str | None = None, area: str | None = None, limit: int = 50, offset: int = 0) -> Page:
        """Customers whose name contains `q` or who own a number containing its digits."""
        if not 1 <= limit <= 1000:
            raise BadRequest("limit must be between 1 and 1000", limit=limit)
        if offset < 0:
            raise BadRequest("offset must be 0 or more", offset=offset)
        where = self._search_conditions(q.strip(), tier, area)
        async with self.engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(customers).where(*where))).scalar_one()
            query = _CUSTOMER_ROWS.where(*where).order_by(customers.c.id).limit(limit).offset(offset)
            return Page(tuple(await _load(conn, query)), total)

    async def every_customer(self, batch: int = 1000) -> AsyncIterator[Customer]:
        """All customers by id, a batch per query, so an export of 100,000 stays small."""
        after = 0
        while True:
            async with self.engine.connect() as conn:
                page = await _load(conn, _CUSTOMER_ROWS.where(customers.c.id > after).order_by(customers.c.id).limit(batch))
            for customer in page:
                yield customer
            if len(page) < batch:
                return
            after = page[-1].id

    async def import_rows(self, rows: Sequence[ImportRow], *, skip_bad: bool, problems: Sequence[RowProblem] = ()) -> ImportReport:
        """Create or update a customer per row in one transaction; `problems` are the rows'
        earlier ones (CSV). Any problem writes nothing, unless `skip_bad` skips those rows."""
        async with self._change() as conn:
            plan = plan_import(rows, await _known(conn, [row.data for row in rows], [row.account_manager for row in rows]))
            found = tuple(sorted([*problems, *plan.problems], key=lambda p: p.line))
            skipped = len({p.line for p in found})
            if found and not skip_bad:
                return ImportReport(0, 0, skipped, found, written=False)
            ids = await _insert(conn, plan.creates, self._now())
            await _update(conn, plan.updates, self._now())
            await _replace_numbers(conn, [*zip(ids, (d.numbers for d in plan.creates), strict=True), *((i, d.numbers) for i, d in plan.updates)])
        return ImportReport(len(plan.creates), len(plan.updates), skipped, found, written=True)

    def _search_conditions(self, q: str, tier: str | None, area: str | None) -> list[Any]:
        where: list[Any] = []
        if tier is not None:
            where.append(customers.c.tier == _choice(parse_tier(tier), "tier", tier))
        if area is not None:
            where.append(customers.c.area == _choice(parse_area(area), "area", area))
        if q:
            matches = [customers.c.name.icontains(q, autoescape=True)]
            digits = re.sub(r"[^0-9]", "", q)
            if len(digits) >= 3:
                matches.append(_owns(customer_numbers.c.number.contains(digits, autoescape=True)))
            try:
                matches.append(_owns(customer_numbers.c.number == normalise(q, default_area_code=self.default_area_code)))
            except BadNumber:
                pass  # not a number: the name and digit matches stand
            where.append(or_(*matches))
        return where

    @asynccontextmanager
    async def _change(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with write_transaction(self.engine) as conn:
                yield conn
        except IntegrityError:
            # The checks ran first; only a concurrent change that won the race gets here.
            raise BadRequest("a concurrent change took the same number or external_ref; try again") from None


def _close_on_dispose(directory: weakref.ref[CustomerDirectory]) -> Callable[[Any], None]:
    def close(_engine: Any) -> None:
        if (alive := directory()) is not None:
            alive.close()

    return close


class _Unsuitable(Exception):
    """The database is one the SQLite reader does not serve; the engine does."""


def _sqlite_file(engine: AsyncEngine) -> str | None:
    """The SQLite file behind `engine`, or None for PostgreSQL, :memory:, URI filenames and
    URLs with options: anything odd keeps the lookup on the engine."""
    url = engine.url
    if engine.dialect.name != "sqlite" or engine.dialect.driver != "aiosqlite" or url.query:
        return None
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return url.database


class _SqliteReader:
    """The lookup on a SQLite file: one read-only stdlib sqlite3 connection, used from one
    thread of its own, so a lookup is one hop to that thread and back (through aiosqlite and
    the pool it was five: cursor, execute, fetch, close, rollback) and never waits for a
    pool connection. The database is in WAL mode (the engine sets it), so it reads beside
    the writers, and each query is its own read transaction (autocommit, rows fetched to the
    end): it sees every commit made before it, by this process or another (`hotline
    customers import`)."""

    BUSY_TIMEOUT = 1.0  # seconds; a WAL reader is only kept waiting by a moment's recovery

    def __init__(self, path: str, engine: AsyncEngine) -> None:
        # The engine's own query, compiled once by its dialect: no second copy of the SQL.
        compiled = _LOOKUP.compile(dialect=engine.dialect)
        dialect = engine.dialect
        converts = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in _LOOKUP.selected_columns]
        if compiled.positiontup != ["number"] or any(converts):
            raise _Unsuitable(f"the lookup does not compile to one plain query for {dialect.name}")
        self.sql = compiled.string
        uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
        self.connection = sqlite3.connect(uri, uri=True, timeout=self.BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        try:
            (mode,) = self.connection.execute("PRAGMA journal_mode").fetchone()
            if mode != "wal":
                raise _Unsuitable(f"the database is in {mode} journal mode, not WAL")
        except BaseException:
            self.connection.close()
            raise
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="hotline-directory")
        self._closed = False

    async def find(self, number: str) -> tuple[Any, ...] | None:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._fetch, number)

    def _fetch(self, number: str) -> tuple[Any, ...] | None:
        # fetchall, not fetchone: the statement runs to its end and is reset, which ends
        # its read transaction, so the next lookup reads the newest commit.
        rows = self.connection.execute(self.sql, (number,)).fetchall()
        return rows[0] if rows else None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        # On its own thread, after the lookups already queued; then the thread ends (even
        # if this is cancelled), and is joined once it has nothing left to do.
        closing = asyncio.wrap_future(self._executor.submit(self.connection.close))
        self._executor.shutdown(wait=False)
        await asyncio.shield(closing)
        self._executor.shutdown(wait=True)

    def close(self, *, wait: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._executor.submit(self.connection.close)
        except RuntimeError:
            # At interpreter exit the thread has ended already; nothing else uses the connection.
            self.connection.close()
        self._executor.shutdown(wait=wait)


def _choice(value: Tier | Area | None, name: str, given: str) -> str:
    if value is None:
        raise BadRequest(f"unknown {name} {given!r}", **{name: given})
    return str(value.value)


def _owns(condition: Any) -> Any:
    return exists().where(customer_numbers.c.customer_id == customers.c.id, condition)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    return (items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK))


async def _refuse_conflicts(conn: AsyncConnection, data: CustomerData, customer_id: int | None) -> None:
    if data.account_manager_id is not None:
        if (await conn.execute(select(users.c.id).where(users.c.id == data.account_manager_id))).first() is None:
            raise BadRequest(f"no user with id {data.account_manager_id} to be the account manager", account_manager_id=data.account_manager_id)
    found = conflicts(data, customer_id, await _known(conn, [data], []))
    if found:
        raise BadRequest("; ".join(found), problems=found)


async def _known(conn: AsyncConnection, data: Sequence[CustomerData], manager_names: Sequence[str | None]) -> Known:
    """What the database holds about these customers' keys: refs, numbers, managers."""
    refs = sorted({d.external_ref for d in data if d.external_ref})
    numbers = sorted({n.number for d in data for n in d.numbers})
    names = sorted({name for name in manager_names if name})
    known = Known({}, {}, {})
    for chunk in _chunks(refs):
        rows = await conn.execute(select(customers.c.external_ref, customers.c.id, customers.c.name).where(customers.c.external_ref.in_(chunk)))
        known.refs.update({row.external_ref: Owner(row.id, row.name, row.external_ref) for row in rows})
    owners = select(customer_numbers.c.number, customers.c.id, customers.c.name, customers.c.external_ref).join(customers)
    for chunk in _chunks(numbers):
        rows = await conn.execute(owners.where(customer_numbers.c.number.in_(chunk)))
        known.owners.update({row.number: Owner(row.id, row.name, row.external_ref) for row in rows})
    for chunk in _chunks(names):
        rows = await conn.execute(select(users.c.name, users.c.id).where(users.c.name.in_(chunk)))
        known.managers.update({row.name: row.id for row in rows})
    return known


def _columns(data: CustomerData, now: datetime) -> dict[str, Any]:
    return {
        "name": data.name,
        "tier": data.tier.value,
        "area": data.area.value,
        "account_manager_id": data.account_manager_id,
        "notes": data.notes,
        "external_ref": data.external_ref,
        "updated_at": now,
    }


async def _insert(conn: AsyncConnection, data: Sequence[CustomerData], now: datetime) -> list[int]:
    if not data:
        return []
    statement = insert(customers).returning(customers.c.id, sort_by_parameter_order=True)
    result = await conn.execute(statement, [{**_columns(d, now), "created_at": now} for d in data])
    return [row.id for row in result]


async def _update(conn: AsyncConnection, changes: Sequence[tuple[int, CustomerData]], now: datetime) -> None:
    if changes:
        statement = update(customers).where(customers.c.id == bindparam("_id"))
        await conn.execute(statement, [{**_columns(d, now), "_id": customer_id} for customer_id, d in changes])


async def _replace_numbers(conn: AsyncConnection, owners: Sequence[tuple[int, tuple[PhoneNumber, ...]]]) -> None:
    ids = [customer_id for customer_id, _ in owners]
    labels: dict[tuple[int, str], str | None] = {}
    for chunk in _chunks(ids):
        old = await conn.execute(select(customer_numbers.c.customer_id, customer_numbers.c.number, customer_numbers.c.label).where(customer_numbers.c.customer_id.in_(chunk)))
        labels.update({(row.customer_id, row.number): row.label for row in old})
        await conn.execute(delete(customer_numbers).where(customer_numbers.c.customer_id.in_(chunk)))
    rows = [
        {"customer_id": customer_id, "number": n.number, "label": labels.get((customer_id, n.number)) if n.label is None else (n.label or None)}
        for customer_id, numbers in owners
        for n in numbers
    ]
    if rows:
        await conn.execute(insert(customer_numbers), rows)


async def _load(conn: AsyncConnection, query: Select[Any]) -> list[Customer]:
    rows = (await conn.execute(query)).all()
    numbers: dict[int, list[PhoneNumber]] = {row.id: [] for row in rows}
    for chunk in _chunks(list(numbers)):
        owned = select(customer_numbers.c.customer_id, customer_numbers.c.number, customer_numbers.c.label)
        for n in await conn.execute(owned.where(customer_numbers.c.customer_id.in_(chunk)).order_by(customer_numbers.c.id)):
            numbers[n.customer_id].append(PhoneNumber(n.number, n.label))
    return [_customer(row, tuple(numbers[row.id])) for row in rows]


def _customer(row: Any, numbers: tuple[PhoneNumber, ...]) -> Customer:
    return Customer(
        id=row.id,
        name=row.name,
        tier=row.tier,
        area=row.area,
        numbers=numbers,
        account_manager_id=row.account_manager_id,
        account_manager=row.manager,
        notes=row.notes,
        external_ref=row.external_ref,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


def _utc(value: datetime) -> datetime:
    # SQLite gives naive datetimes back; every time stored here is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


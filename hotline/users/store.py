"""Users: who they are (role, extension, department), their passwords and API tokens.
Tokens are shown once and kept only as SHA-256 digests; passwords only as argon2id hashes."""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, FromClause, Select, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.clock import Clock, SystemClock
from hotline.db.dialect import upsert
from hotline.db.engine import write_transaction
from hotline.db.tables import api_tokens, users
from hotline.errors import BadRequest, NotFound
from hotline.tickets.tables import department_members, departments
from hotline.users.passwords import Passwords, password_problem


class Role(enum.StrEnum):
    AGENT = "agent"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    extension: str | None = None  # the phone the user answers on (agents)
    department_id: int | None = None  # the department the user is staff of, if any
    disabled: bool = False  # only ever true in lists: a disabled user is never logged in


class _Unset(enum.Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET
"""update()'s "leave as it is"; None there means "remove" (no extension, no department)."""
Unset = Literal[_Unset.UNSET]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- loading users: one query shape, so every User carries its extension and department ---


def user_query(source: FromClause = users) -> Select[Any]:
    """Users with their department; `source` is `users` or a join that includes it."""
    joined = source.outerjoin(department_members, department_members.c.user_id == users.c.id)
    columns = (users.c.id, users.c.name, users.c.role, users.c.extension, users.c.disabled, department_members.c.department_id)
    return select(*columns).select_from(joined)


def user_from(row: Any) -> User:
    return User(row.id, row.name, Role(row.role), row.extension, row.department_id, bool(row.disabled))


async def _one(conn: AsyncConnection, *where: ColumnElement[bool]) -> User | None:
    row = (await conn.execute(user_query().where(*where))).first()
    return user_from(row) if row else None


# --- checking values: each returns what is wrong, or None ---------------------------------


def _name_problem(name: str) -> str | None:
    return None if 1 <= len(name) <= 80 else "a user name is 1 to 80 characters"


def _role_problem(role: str) -> str | None:
    return None if role in set(Role) else f"unknown role {role!r}; one of: {', '.join(Role)}"


def _extension_problem(extension: str | None) -> str | None:
    if extension is None or (extension.isascii() and extension.isdigit() and 2 <= len(extension) <= 10):
        return None
    return f"an extension is 2 to 10 digits, not {extension!r}"


def _password_problem(password: str | None) -> str | None:
    problem = None if password is None else password_problem(password)
    return None if problem is None else f"the password {problem}"


def _department_problem(department_id: object) -> str | None:
    if department_id is None or (isinstance(department_id, int) and not isinstance(department_id, bool) and department_id > 0):
        return None
    return f"a department id is a whole number from 1, not {department_id!r}"


def _refuse(*problems: str | None) -> None:
    found = [p for p in problems if p is not None]
    if found:
        raise BadRequest("; ".join(found), problems=found)


class UserStore:
    def __init__(self, engine: AsyncEngine, clock: Clock | None = None, passwords: Passwords | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.passwords = passwords or Passwords()
        self._decoy: str | None = None  # a hash to verify against when the name is unknown

    async def add(
        self, name: str, role: str, *, extension: str | None = None, password: str | None = None, department_id: int | None = None
    ) -> tuple[User, str]:
        """A new user and their first API token (returned once, never stored in clear).
        `extension` is the agent's phone: how an answering queue member becomes a user;
        `password` lets them log in to the console; `department_id` makes them its staff."""
        name = name.strip()
        _refuse(_name_problem(name), _role_problem(role), _extension_problem(extension), _password_problem(password), _department_problem(department_id))
        password_hash = None if password is None else await self.passwords.hash(password)
        token, now = secrets.token_urlsafe(32), self.clock.now()
        values = {"name": name, "role": role, "extension": extension, "password_hash": password_hash, "created_at": now}
        try:
            async with write_transaction(self.engine) as conn:
                await _refuse_taken(conn, name=name, extension=extension)
                user_id = int((await conn.execute(insert(users).values(**values))).inserted_primary_key[0])
                await conn.execute(insert(api_tokens).values(user_id=user_id, token_hash=_digest(token), created_at=now))
                if department_id is not None:
                    await _place(conn, user_id, department_id)
        except IntegrityError:
            raise BadRequest(f"a user named {name!r}, or one with extension {extension}, was added meanwhile", name=name) from None
        return User(user_id, name, Role(role), extension, department_id), token

    async def set_password(self, user_id: int, password: str) -> None:
        _refuse(_password_problem(password))
        password_hash = await self.passwords.hash(password)
        async with self.engine.begin() as conn:
            result = await conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
        if result.rowcount == 0:
            raise NotFound("no such user", id=user_id)

    async def authenticate(self, name: str, password: str) -> User | None:
        """The user, if `password` is theirs and they may log in. An unknown name costs the
        same time as a wrong password, so the answer's speed tells nothing either."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users.c.id, users.c.password_hash, users.c.disabled).where(users.c.name == name.strip()))).first()
        if row is None or row.password_hash is None:
            await self.passwords.verify(await self._decoy_hash(), password)
            return None
        if not await self.passwords.verify(row.password_hash, password) or row.disabled:
            return None
        if self.passwords.needs_rehash(row.password_hash):
            await self.set_password(row.id, password)
        return await self.get(row.id)

    async def get(self, user_id: int) -> User | None:
        async with self.engine.connect() as conn:
            return await _one(conn, users.c.id == user_id)

    async def by_name(self, name: str) -> User | None:
        async with self.engine.connect() as conn:
            return await _one(conn, users.c.name == name.strip())

    async def by_extension(self, extension: str) -> User | None:
        async with self.engine.connect() as conn:
            return await _one(conn, users.c.extension == extension)

    async def by_token(self, token: str) -> User | None:
        """The user an API token belongs to; None for an unknown token or a disabled user."""
        query = user_query(users.join(api_tokens, api_tokens.c.user_id == users.c.id))
        async with self.engine.connect() as conn:
            row = (await conn.execute(query.where(api_tokens.c.token_hash == _digest(token), users.c.disabled.is_(False)))).first()
        return user_from(row) if row else None

    async def list(self) -> Sequence[User]:
        async with self.engine.connect() as conn:
            return [user_from(row) for row in await conn.execute(user_query().order_by(users.c.name))]

    async def department_names(self) -> dict[int, str]:
        async with self.engine.connect() as conn:
            return {row.id: row.name for row in await conn.execute(select(departments.c.id, departments.c.name))}

    async def update(
        self,
        user_id: int,
        *,
        role: str | Unset = UNSET,
        extension: str | None | Unset = UNSET,
        department_id: int | None | Unset = UNSET,
        disabled: bool | Unset = UNSET,
        password: str | Unset = UNSET,
    ) -> User:
        """Changes what is given, all or nothing; None removes the extension or department."""
        _refuse(
            None if role is UNSET else _role_problem(role),
            None if extension is UNSET else _extension_problem(extension),
            None if password is UNSET else _password_problem(password),
            None if department_id is UNSET else _department_problem(department_id),
            None if disabled is UNSET or isinstance(disabled, bool) else f"disabled is true or false, not {disabled!r}",
        )
        values: dict[str, Any] = {k: v for k, v in (("role", role), ("extension", extension), ("disabled", disabled)) if v is not UNSET}
        if password is not UNSET:
            values["password_hash"] = await self.passwords.hash(password)
        try:
            async with write_transaction(self.engine) as conn:
                return await self._update(conn, user_id, values, department_id)
        except IntegrityError:
            raise BadRequest(f"extension {extension} was given to another user meanwhile", extension=extension) from None

    async def _update(self, conn: AsyncConnection, user_id: int, values: dict[str, Any], department_id: int | None | Unset) -> User:
        before = await _one(conn, users.c.id == user_id)
        if before is None:
            raise NotFound("no such user", id=user_id)
        if values.get("extension") is not None:
            await _refuse_taken(conn, extension=values["extension"], user_id=user_id)
        if before.role is Role.ADMIN and not before.disabled and (values.get("role", "admin") != "admin" or values.get("disabled")):
            await _keep_an_admin(conn, user_id)
        if values:
            await conn.execute(update(users).where(users.c.id == user_id).values(**values))
        if department_id is not UNSET:
            await _place(conn, user_id, department_id)
        after = await _one(conn, users.c.id == user_id)
        assert after is not None
        return after

    async def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = await self.passwords.hash(secrets.token_urlsafe(16))
        return self._decoy


async def _refuse_taken(conn: AsyncConnection, *, name: str | None = None, extension: str | None = None, user_id: int = 0) -> None:
    """Says who already has this name or extension. (The unique indexes still have the
    last word when two requests race: see the IntegrityError handlers.)"""
    others, problems = users.c.id != user_id, []
    if name is not None and (await conn.execute(select(users.c.id).where(users.c.name == name, others))).first():
        problems.append(f"a user named {name!r} exists already")
    if extension is not None:
        holder = (await conn.execute(select(users.c.name).where(users.c.extension == extension, others))).scalar_one_or_none()
        if holder is not None:
            problems.append(f"extension {extension} belongs to {holder}")
    _refuse(*problems)


async def _keep_an_admin(conn: AsyncConnection, user_id: int) -> None:
    """Refuses to demote or disable the last admin: nobody could manage users afterwards."""
    others = select(func.count()).select_from(users).where(users.c.role == Role.ADMIN.value, users.c.disabled.is_(False), users.c.id != user_id)
    if (await conn.execute(others)).scalar_one() == 0:
        raise BadRequest("this is the last admin who can log in: make another user admin first", id=user_id)


async def _place(conn: AsyncConnection, user_id: int, department_id: int | None) -> None:
    """Makes the user staff of one department (None: of none). A user who moves stops
    heading the department they leave, as Departments.add_member does."""
    still_heading = departments.c.head_user_id == user_id
    if department_id is None:
        await conn.execute(delete(department_members).where(department_members.c.user_id == user_id))
        await conn.execute(update(departments).where(still_heading).values(head_user_id=None))
        return
    if (await conn.execute(select(departments.c.id).where(departments.c.id == department_id))).first() is None:
        raise BadRequest(f"no department with id {department_id}", department_id=department_id)
    await conn.execute(update(departments).where(still_heading, departments.c.id != department_id).values(head_user_id=None))
    await conn.execute(upsert(conn.engine, department_members, "user_id"), {"user_id": user_id, "department_id": department_id})

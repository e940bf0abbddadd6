"""Users and their API tokens. Tokens are shown once and kept only as SHA-256 digests."""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db.tables import api_tokens, users
from hotline.errors import BadRequest
from hotline.db.engine import write_transaction


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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, name: str, role: str, *, extension: str | None = None) -> tuple[User, str]:
        """A new user and their first API token (returned once, never stored in clear).
        `extension` is the agent's phone: how an answering queue member becomes a user."""
        name = name.strip()
        if extension is not None and not (extension.isdigit() and 2 <= len(extension) <= 10):
            raise BadRequest("an extension is 2 to 10 digits", extension=extension)
        if not name or len(name) > 80:
            raise BadRequest("a user name is 1 to 80 characters", name=name)
        try:
            valid_role = Role(role)
        except ValueError:
            raise BadRequest(f"unknown role {role!r}; one of: {', '.join(r.value for r in Role)}", role=role) from None
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        try:
            async with write_transaction(self.engine) as conn:
                result = await conn.execute(insert(users).values(name=name, role=valid_role.value, extension=extension, created_at=now))
                user_id = int(result.inserted_primary_key[0])
                await conn.execute(insert(api_tokens).values(user_id=user_id, token_hash=_digest(token), created_at=now))
        except IntegrityError:
            raise BadRequest(f"a user named {name!r}, or one with extension {extension}, exists already", name=name) from None
        return User(user_id, name, valid_role), token

    async def by_token(self, token: str) -> User | None:
        query = (
            select(users.c.id, users.c.name, users.c.role)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == _digest(token))
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return User(row.id, row.name, Role(row.role)) if row else None

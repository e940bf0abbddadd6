"""Browser sessions: the cookie carries a random token, the database its SHA-256, the user,
the session's CSRF token and its times. A session ends 12 hours after it was last seen or
7 days after log-in, whichever is first; log-out deletes its row."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.clock import Clock
from hotline.db.tables import sessions, users
from hotline.users.store import User, user_from, user_query

IDLE = timedelta(hours=12)
LIFETIME = timedelta(days=7)
# last_seen_at is written at most this often per session: resolving a session on every
# request (each page's fetch, each API call) stays a read.
TOUCH_EVERY = timedelta(minutes=1)


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; every moment stored is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class SessionStore:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, idle: timedelta = IDLE, lifetime: timedelta = LIFETIME) -> None:
        self.engine = engine
        self.clock = clock
        self.idle = idle
        self.lifetime = lifetime

    async def create(self, user_id: int) -> tuple[str, str]:
        """A new session: (the cookie's token, the CSRF token). Both shown once."""
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock.now()
        async with self.engine.begin() as conn:
            # Ended sessions are swept here, so the table holds only live ones and a few.
            await conn.execute(delete(sessions).where(or_(sessions.c.expires_at <= now, sessions.c.last_seen_at <= now - self.idle)))
            values = {"id": session_id(token), "user_id": user_id, "csrf_token": csrf, "created_at": now, "last_seen_at": now, "expires_at": now + self.lifetime}
            await conn.execute(insert(sessions).values(**values))
        return token, csrf

    async def resolve(self, token: str) -> tuple[User, str] | None:
        """The session's user and CSRF token; None if it ended, or its user is disabled."""
        key, now = session_id(token), self.clock.now()
        query = user_query(users.join(sessions, sessions.c.user_id == users.c.id))
        query = query.add_columns(sessions.c.csrf_token, sessions.c.last_seen_at, sessions.c.expires_at)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query.where(sessions.c.id == key, users.c.disabled.is_(False)))).first()
        if row is None:
            return None
        last_seen = _utc(row.last_seen_at)
        if now >= _utc(row.expires_at) or now >= last_seen + self.idle:
            await self.end(token)
            return None
        if now - last_seen >= TOUCH_EVERY:
            async with self.engine.begin() as conn:
                await conn.execute(update(sessions).where(sessions.c.id == key).values(last_seen_at=now))
        return user_from(row), row.csrf_token

    async def end(self, token: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.id == session_id(token)))

    async def end_all_of(self, user_id: int, *, keep: str | None = None) -> int:
        """Ends every session of the user (but the one whose token is `keep`); how many."""
        where = [sessions.c.user_id == user_id]
        if keep is not None:
            where.append(sessions.c.id != session_id(keep))
        async with self.engine.begin() as conn:
            return (await conn.execute(delete(sessions).where(*where))).rowcount

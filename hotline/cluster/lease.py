"""Who owns the AMI connection when several instances share one PostgreSQL: a lease row
with a fencing token (no home-made consensus: the database decides, row by row).

- An instance takes the lease when it is free or expired, and the token goes up by one;
  it renews it (every `ttl / 3`) while it holds it; it gives it back on a clean stop, so
  another takes over at once rather than after `ttl`.
- Fencing: every transaction that stores what the AMI stream said first calls `fence()`,
  which reads the lease row FOR SHARE and refuses (LeaseLost) unless the token is still
  this instance's. A takeover's UPDATE waits for such a transaction to end, and every
  later one sees the new token: an owner paused past its lease (SIGSTOP, a long GC, a
  network cut) and then resumed writes nothing after another instance took over.

Times come from the injected clock (each host's, NTP-synchronised: skew between hosts
must stay well under `ttl`), so expiry is tested with a FakeClock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import BigInteger, Column, DateTime, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.clock import Clock
from hotline.db.dialect import insert_ignoring_duplicates
from hotline.db.tables import metadata
from hotline.errors import HotlineError

log = structlog.get_logger(__name__)

AMI = "ami"  # the lease's name: the one AMI event stream

leases = Table(
    "leases",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("owner", String(200)),  # the instance holding it (host:pid:random), or null
    Column("token", BigInteger, nullable=False),  # the fencing token: +1 on every takeover
    Column("expires_at", DateTime(timezone=True)),  # null: given back
    Column("acquired_at", DateTime(timezone=True)),
)


class LeaseLost(HotlineError):
    """This instance no longer owns the AMI lease: another took over; it stores nothing more
    from its AMI connection."""

    error_id = "lease_lost"


class Held(enum.Enum):
    TAKEN = "taken"  # just taken (a takeover when someone held it before)
    KEPT = "kept"  # renewed
    NOT_OURS = "not_ours"  # someone else holds it, unexpired


@dataclass(frozen=True, slots=True)
class LeaseState:
    owner: str | None
    token: int
    expires_at: datetime | None


class Lease:
    def __init__(self, engine: AsyncEngine, clock: Clock, owner: str, *, name: str = AMI, ttl: timedelta = timedelta(seconds=6)) -> None:
        self.engine, self.clock, self.owner, self.name, self.ttl = engine, clock, owner, name, ttl
        self.token: int | None = None  # ours while we hold it
        self._insert = insert_ignoring_duplicates(engine, leases, "name")

    @property
    def renew_every(self) -> timedelta:
        return self.ttl / 3

    @property
    def held(self) -> bool:
        return self.token is not None

    async def acquire(self) -> Held:
        """Take the lease if it is free, expired or already ours (renewed then)."""
        now = self.clock.now().astimezone(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(self._insert.values(name=self.name, owner=None, token=0, expires_at=None, acquired_at=None))
            row = (await conn.execute(select(leases).where(leases.c.name == self.name).with_for_update())).mappings().one()
            expires = _utc(row["expires_at"])
            if row["owner"] == self.owner and row["token"] == self.token and expires is not None and expires > now:
                await conn.execute(update(leases).where(leases.c.name == self.name).values(expires_at=now + self.ttl))
                return Held.KEPT
            if row["owner"] is not None and expires is not None and expires > now:
                self.token = None
                return Held.NOT_OURS
            token = int(row["token"]) + 1
            await conn.execute(update(leases).where(leases.c.name == self.name).values(owner=self.owner, token=token, expires_at=now + self.ttl, acquired_at=now))
        previous = row["owner"]
        self.token = token
        log.info("lease.taken", lease=self.name, token=token, previous_owner=previous, previous_expired=expires.isoformat() if expires else None)
        return Held.TAKEN

    async def renew(self) -> bool:
        """Extend our lease; False (and not ours any more) when it was taken from us or had
        expired (an expired lease is not renewed: someone may be taking it over)."""
        if self.token is None:
            return False
        now = self.clock.now().astimezone(UTC)
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.owner == self.owner, leases.c.token == self.token, leases.c.expires_at > now)
                .values(expires_at=now + self.ttl)
            )
        if done.rowcount != 1:
            log.warning("lease.lost", lease=self.name, token=self.token)
            self.token = None
            return False
        return True

    async def release(self) -> None:
        """Give it back (a clean stop): another instance may take it at once."""
        if self.token is None:
            return
        token, self.token = self.token, None
        async with self.engine.begin() as conn:
            await conn.execute(update(leases).where(leases.c.name == self.name, leases.c.token == token).values(owner=None, expires_at=None))
        log.info("lease.released", lease=self.name, token=token)

    async def fence(self, conn: AsyncConnection) -> None:
        """In a writing transaction, first: LeaseLost unless the lease is still ours. Holds
        the row FOR SHARE until the transaction ends, so a takeover waits for it."""
        token = self.token
        row = (await conn.execute(select(leases.c.token, leases.c.owner).where(leases.c.name == self.name).with_for_update(read=True))).first()
        if token is None or row is None or row.token != token or row.owner != self.owner:
            self.token = None
            raise LeaseLost(lease=self.name, token=token, current=row.token if row else None)

    async def someone_owns(self) -> bool:
        """Whether some instance (this one or another) holds the lease now, unexpired."""
        state = await self.state()
        return state is not None and state.owner is not None and state.expires_at is not None and state.expires_at > self.clock.now()

    async def state(self) -> LeaseState | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(leases).where(leases.c.name == self.name))).mappings().first()
        return None if row is None else LeaseState(row["owner"], int(row["token"]), _utc(row["expires_at"]))


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)

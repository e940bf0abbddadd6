"""The database tables (SQLAlchemy Core). Alembic migrations under db/migrations build the
same schema; tests/integration/test_migrations.py checks that they agree."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for an event log.
_BigId = BigInteger().with_variant(Integer(), "sqlite")
_When = DateTime(timezone=True)

calls = Table(
    "calls",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("linkedid", String(64), nullable=False),
    Column("caller_number", String(40)),
    Column("caller_name", String(200)),
    Column("state", String(16), nullable=False),
    Column("outcome", String(16)),
    Column("queue", String(80)),
    Column("agent", String(120)),
    Column("agent_interface", String(200)),
    Column("route_queue", String(80)),
    Column("route_priority", Integer),
    Column("tier", String(32)),
    Column("customer", String(64)),
    Column("route_id", String(64)),
    Column("route_first_try", String(40)),
    Column("arrived_at", _When, nullable=False),
    Column("queued_at", _When),
    Column("answered_at", _When),
    Column("abandoned_at", _When),
    Column("left_queue_at", _When),
    Column("ended_at", _When),
    Column("hold_seconds", Float),
    Column("reconciled", Boolean, nullable=False, default=False),
    Index("ix_calls_arrived_at", "arrived_at"),
    Index("ix_calls_state", "state"),
)

call_events = Table(
    "call_events",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("call_id", String(64), ForeignKey("calls.id"), nullable=False),
    # A digest of the event: storing the same event twice (a replay, a resync) is a no-op.
    Column("key", String(32), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("at", _When, nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_call_events_call_id", "call_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_at", _When, nullable=False),
    # The phone the user answers on (e.g. 8009): where a key account's call rings first.
    # A unique index, not a constraint: SQLite adds it without rebuilding the table, a
    # rebuild that fails on existing api_tokens while foreign keys are enforced.
    Column("extension", String(40)),
    Index("ix_users_extension", "extension", unique=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    # Only a SHA-256 of the token is kept: a stolen database holds no usable token.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", _When, nullable=False),
)

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
    false,
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

# Asterisk's counters per queue (QueueParams Completed / Abandoned) as of the stored call
# events: after a restart or a takeover, how much they moved says how the calls that
# vanished meanwhile ended. Written in the same transaction as the events.
queue_counters = Table(
    "queue_counters",
    metadata,
    Column("queue", String(80), primary_key=True),
    Column("completed", Integer, nullable=False),
    Column("abandoned", Integer, nullable=False),
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
    # argon2id, as argon2-cffi writes it ("$argon2id$v=19$..."); null: an API-only user
    # (a bearer token, no log-in).
    Column("password_hash", String(200)),
    # A disabled user cannot log in, and their sessions and tokens stop working.
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
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

# Browser log-in sessions. The cookie holds a random token; only its SHA-256 is kept here,
# so a stolen database opens no session. A session ends 12 h after it was last seen or 7
# days after it began, whichever comes first (hotline/users/sessions.py).
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 hex of the cookie's token
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", _When, nullable=False),
    Column("last_seen_at", _When, nullable=False),
    Column("expires_at", _When, nullable=False),
    Index("ix_sessions_user_id", "user_id"),
    Index("ix_sessions_expires_at", "expires_at"),
)

# Failed log-ins of the last minutes, for the rate limit (hotline/users/guard.py). In the
# database, not in memory, so several instances behind one address share the count.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),  # as typed: a name that does not exist counts too
    Column("address", String(64), nullable=False),
    Column("at", _When, nullable=False),
    Index("ix_login_failures_name_at", "name", "at"),
    Index("ix_login_failures_address_at", "address", "at"),
)

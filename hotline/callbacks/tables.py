"""Callback tables: each callback the service owes a customer, and each call it placed for
one. Rows, so a restart (even kill -9) forgets none and places none twice."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from hotline.db.tables import metadata

_When = DateTime(timezone=True)

callbacks = Table(
    "callbacks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # model.CallbackKind
    Column("mode", String(16), nullable=False),  # model.Mode
    Column("number", String(40), nullable=False),  # as dialled: digits only
    Column("customer_id", Integer),
    Column("ticket_id", Integer, ForeignKey("tickets.id")),
    Column("call_id", String(64)),  # the call that made it owed (an abandoned call)
    Column("tier", String(20), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # model.CallbackState
    Column("due_at", _When, nullable=False),  # not before
    Column("deadline_at", _When),  # the standard's limit, e.g. 24 h after a repair closed
    Column("next_attempt_at", _When),  # null unless scheduled
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("agent_extension", String(40)),  # agent-first: whose phone rings first
    Column("outcome", String(20)),
    Column("score", Integer),
    Column("note", Text),  # why it failed or was cancelled, in words
    # The number while a callback for a caller who was lost is open, else null: a unique
    # index keeps one open callback per number (NULLs never collide).
    Column("open_key", String(40)),
    # What made it owed, once and for all ("ticket:17:follow_up", "monthly:vip:42:2026-12",
    # "sampled:inquiry:2026-W49:17"): a unique index stops the planner scheduling one twice,
    # whatever happens to the first. Null for lost callers and manual callbacks.
    Column("source_key", String(80)),
    Column("created_at", _When, nullable=False),
    Column("updated_at", _When, nullable=False),
    Column("version", Integer, nullable=False),
    # When a finished callback's result was put on its ticket: null until then, so a
    # result a crash interrupted is reported after the restart (once: the ticket checks).
    Column("reported_at", _When),
    # Set while a lost caller's callback is being placed and the caller rings again and is
    # answered: the call in flight ends by itself, and is not tried again.
    Column("stop_reason", Text),
    Index("ix_callbacks_state_next_attempt_at", "state", "next_attempt_at"),
    Index("ux_callbacks_open_key", "open_key", unique=True),
    Index("ux_callbacks_source_key", "source_key", unique=True),
    Index("ix_callbacks_ticket_id", "ticket_id"),
)

# One row per call placed. Its channel_id is the Uniqueid Asterisk gives the new channel
# (Originate's ChannelId) and the ActionID: written before the Originate is sent, so an
# attempt the service died in the middle of is known and never placed a second time.
callback_attempts = Table(
    "callback_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("callback_id", Integer, ForeignKey("callbacks.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("channel_id", String(64), nullable=False, unique=True),
    Column("started_at", _When, nullable=False),
    Column("ended_at", _When),
    # When the call's channel hung up (or never came up): until then it holds a place under
    # the cap, though an agent-first callback is done the moment the customer answers.
    Column("hung_up_at", _When),
    Column("outcome", String(20)),
    Column("data", JSON, nullable=False),  # what Asterisk said: Response, Reason, DialStatus, Score
    Index("ix_callback_attempts_callback_id", "callback_id"),
)

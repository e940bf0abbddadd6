"""The floor's tables: every agent state change with its time (so time ready, on calls, in
after-call work and paused per reason is reported per agent and day), and every action a
person took on an agent or a call from the floor (who, what, whom, why)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Text, Table

from hotline.db.tables import metadata

_When = DateTime(timezone=True)

# One row per state interval of an agent (by extension); the open one has ended_at null.
# States: logged_out, ready, ringing, on_call, wrapup, paused (floor.states.AgentState).
agent_states = Table(
    "agent_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("extension", String(40), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),  # the agent, when known
    Column("state", String(16), nullable=False),
    Column("reason", String(40)),  # a pause's reason (小休, 就餐, 培训 ...); 话后整理 for wrap-up
    Column("started_at", _When, nullable=False),
    Column("ended_at", _When),
    # Where the change came from: console (the agent), supervisor, phone (an event no
    # action of ours explains), resync (QueueStatus after a reconnect).
    Column("source", String(16), nullable=False),
    Column("by_user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Index("ix_agent_states_extension_started_at", "extension", "started_at"),
    Index("ix_agent_states_open", "extension", "ended_at"),
)

# What people did on the floor, for the record: an agent's own log-in/out and pauses, a
# supervisor forcing an agent not ready or out, listen / whisper / barge.
floor_actions = Table(
    "floor_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", _When, nullable=False),
    Column("actor_user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("action", String(24), nullable=False),  # log_in, log_out, pause, unpause, force_pause, force_log_out, listen, whisper, barge
    Column("target_extension", String(40)),
    Column("target_user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("reason", Text),
    Column("ok", Boolean, nullable=False),  # Asterisk accepted it
    Column("data", JSON, nullable=False),  # the AMI action sent and Asterisk's answer
    Index("ix_floor_actions_at", "at"),
)

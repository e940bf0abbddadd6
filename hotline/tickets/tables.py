"""Ticket tables: departments, tickets and their timeline, durable deadlines, extension
requests. Deadlines are rows, so a restart (even kill -9) forgets none."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from hotline.db.tables import _BigId, metadata

_When = DateTime(timezone=True)

departments = Table(
    "departments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("head_user_id", Integer, ForeignKey("users.id")),
    Column("created_at", _When, nullable=False),
)

# One department a user at most; department staff and heads are members.
department_members = Table(
    "department_members",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("department_id", Integer, ForeignKey("departments.id", ondelete="CASCADE"), nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(32), nullable=False, unique=True),  # shown to people: T-20261125-0007
    Column("status", String(16), nullable=False),
    Column("source", String(24), nullable=False),  # call, walk_in, letter, government_referral, other
    Column("category", String(24), nullable=False),  # hotline.tickets.standard.Category
    Column("fault_kind", String(16)),  # general, duct, major (fault reports)
    Column("install_kind", String(24)),
    Column("tier", String(24), nullable=False),
    Column("area", String(16), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="SET NULL")),
    Column("caller_number", String(40)),
    Column("caller_name", String(200)),
    Column("call_id", String(64), ForeignKey("calls.id")),  # the call that opened it
    Column("owner_user_id", Integer, ForeignKey("users.id")),  # first responder
    Column("department_id", Integer, ForeignKey("departments.id")),  # forwarded to
    Column("summary", Text, nullable=False, default=""),
    Column("opened_at", _When, nullable=False),
    Column("updated_at", _When, nullable=False),
    Column("resolved_at", _When),
    Column("closed_at", _When),
    Column("follow_up_needed", Boolean, nullable=False, default=False),
    Index("ix_tickets_status", "status"),
    Index("ix_tickets_owner", "owner_user_id"),
    Index("ix_tickets_department", "department_id"),
    Index("ix_tickets_caller_number", "caller_number"),
)

# Calls linked to a ticket: the one that opened it and every repeat call while it is open.
ticket_calls = Table(
    "ticket_calls",
    metadata,
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("call_id", String(64), ForeignKey("calls.id"), primary_key=True),
    Column("linked_at", _When, nullable=False),
)

# Every transition and every timer firing, with who, when and why: the ticket's timeline.
ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", _When, nullable=False),
    Column("actor_user_id", Integer, ForeignKey("users.id")),  # null: the service itself
    Column("reason", Text),
    Column("data", JSON, nullable=False),
    Index("ix_ticket_events_ticket", "ticket_id"),
)

deadlines = Table(
    "deadlines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    # forward, acknowledge, reply, repair_respond, repair_fix, restoration, installation, follow_up
    Column("kind", String(24), nullable=False),
    Column("rule", String(48), nullable=False),  # which line of the standard, e.g. "urban.general"
    Column("started_at", _When, nullable=False),
    Column("warn_at", _When, nullable=False),
    Column("due_at", _When, nullable=False),
    Column("state", String(12), nullable=False),  # pending, met, breached, cancelled
    Column("met_at", _When),
    Column("warned_at", _When),
    Column("breached_at", _When),
    Column("escalation_level", Integer, nullable=False, default=0),  # 1 owner, 2 head, 3 supervisors
    # The next moment the scheduler must act on this row; null when nothing is left to do.
    # Claiming a row moves it forward in the same transaction: that is the exactly-once.
    Column("next_fire_at", _When),
    Column("version", Integer, nullable=False, default=0),
    UniqueConstraint("ticket_id", "kind", name="uq_deadlines_ticket_kind"),
    Index("ix_deadlines_next_fire_at", "next_fire_at"),
)

extension_requests = Table(
    "extension_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deadline_id", Integer, ForeignKey("deadlines.id", ondelete="CASCADE"), nullable=False),
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("requested_by", Integer, ForeignKey("users.id"), nullable=False),
    Column("requested_at", _When, nullable=False),
    Column("reason", Text, nullable=False),
    Column("new_due_at", _When, nullable=False),
    Column("state", String(12), nullable=False),  # pending, approved, rejected
    Column("decided_by", Integer, ForeignKey("users.id")),
    Column("decided_at", _When),
    Column("decision_reason", Text),
    Index("ix_extension_requests_state", "state"),
)

"""The customer directory's tables: customers and their phone numbers (canonical form)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from hotline.db.tables import metadata

_When = DateTime(timezone=True)

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("tier", String(32), nullable=False),
    Column("area", String(16), nullable=False),
    # SET NULL: a departed manager's customers stay, waiting for a new manager.
    Column("account_manager_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("notes", Text, nullable=False, default=""),
    Column("created_at", _When, nullable=False),
    Column("updated_at", _When, nullable=False),
    # The key a CSV re-import matches on: the customer's id in the operator's billing system.
    Column("external_ref", String(64), unique=True),
)

customer_numbers = Table(
    "customer_numbers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    # Unique: the routing lookup is one probe of this index, and a number has one owner.
    Column("number", String(40), nullable=False, unique=True),
    Column("label", String(80)),
    Index("ix_customer_numbers_customer_id", "customer_id"),
)

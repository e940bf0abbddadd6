"""What the customer directory knows about a caller, as the routing decision needs it.

Shared by the directory (which builds it) and the decision (which reads it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallerProfile:
    customer_id: int
    name: str
    tier: str
    area: str
    account_manager: str | None
    account_manager_extension: str | None
    open_ticket_owner_extension: str | None = None

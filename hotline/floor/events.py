"""The floor's domain events on the bus (hotline.events.EventBus): an agent's state changed
(stored first, then published), and an agent has been in after-call work past the limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .states import AgentState


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """An agent (an extension) entered `state` at `at` (Asterisk's Timestamp).

    source: console (the agent's own action, or the service's after-call pause),
    supervisor (forced), phone (an event no action of ours explains: a pause from the
    phone or another AMI tool, a call), resync (found in QueueStatus after a reconnect)."""

    extension: str
    state: AgentState
    reason: str | None
    at: datetime
    previous: AgentState | None
    source: str
    user_id: int | None = None  # the agent user with this extension, when there is one
    by_user_id: int | None = None  # who asked for it (console, supervisor)
    member: str | None = None
    queues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WrapupOverLimit:
    """An agent's after-call work began at `since` and still goes on at `at`, past `limit`."""

    extension: str
    user_id: int | None
    name: str | None
    since: datetime
    limit: timedelta
    at: datetime

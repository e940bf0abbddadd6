"""The callbacks' events on the bus (hotline.events.EventBus)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CallbackPlaced:
    """Asterisk took the Originate of a callback's attempt (published after it is stored as
    in flight). For agent-first, `agent_extension` is the phone now ringing: its agent gets
    a screen pop saying whom they call back and why."""

    callback_id: int
    attempt: int
    channel_id: str
    kind: str
    mode: str
    number: str
    agent_extension: str | None
    ticket_id: int | None
    note: str | None
    owed_since: datetime  # when the callback was owed: how long the customer has waited
    at: datetime

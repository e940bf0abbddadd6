"""What the dialplan's keep_place question carries to the keep-place desk and what comes
back: the FastAGI handler (agi.py) builds a KeepPlaceAsk from the channel, the desk
answers with a KeepPlaceAnswer or refuses with KeepPlaceRefused."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeepPlaceAsk:
    number: str  # the number to call back, as given (caller ID or keyed)
    keyed: bool  # the caller keyed another number
    queue: str
    position: int  # QUEUEPOSITION when they pressed 1
    priority: int  # QUEUE_PRIO (VIPs and key accounts higher)
    tier: str  # HOTLINE_TIER
    call_id: str  # agi_uniqueid of the caller's channel (the capture links it to the call)
    caller_number: str | None  # the caller ID as Asterisk gave it


@dataclass(frozen=True, slots=True)
class KeepPlaceAnswer:
    request_id: str  # "KP-17"
    minutes: int  # a rough wait before the callback
    next_day: bool  # carried to the next working day's start (calling window)


class KeepPlaceRefused(Exception):
    """The request cannot be kept (for example, not a number to call)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

"""The keep-your-place requests: one row per caller who pressed 1, written before they are
answered, so a restart (even kill -9) forgets no kept place and calls nobody twice."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from hotline.db.tables import metadata

_When = DateTime(timezone=True)


class RequestState(StrEnum):
    WAITING = "waiting"  # in the queue's line as a virtual caller (also between retries)
    CALLING = "calling"  # its callback is handed to the dispatcher: placed, or about to be
    DONE = "done"  # the callback reached the customer
    CANCELLED = "cancelled"  # they rang again and were answered, or a person cancelled it
    FAILED = "failed"  # the callback's tries were used up


OPEN_STATES = (RequestState.WAITING.value, RequestState.CALLING.value)

keep_place_requests = Table(
    "keep_place_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # shown as KP-<id>
    Column("number", String(40), nullable=False),  # to call, as dialled: digits only
    Column("caller_number", String(40)),  # the caller ID of the call (as dialled when it is a number)
    Column("call_id", String(64), nullable=False),  # the call that pressed 1 (its Linkedid)
    Column("queue", String(80), nullable=False),
    Column("priority", Integer, nullable=False),  # the queue priority the call had (QUEUE_PRIO)
    Column("tier", String(20), nullable=False),
    Column("position", Integer),  # the call's position in the queue when it pressed 1
    Column("joined_at", _When, nullable=False),  # when the call joined the queue: its place
    Column("requested_at", _When, nullable=False),  # when 1 was pressed
    Column("state", String(16), nullable=False),  # RequestState
    Column("callback_id", Integer, ForeignKey("callbacks.id")),  # once due: the callback placed
    # How many attempts its callback had made when it was last handed to the dispatcher:
    # more than that, and the callback back to scheduled, means a retry to line up again.
    Column("attempts", Integer, nullable=False),
    # The window closed on it: it is called at the next opening, before that day's callers.
    Column("carried", Boolean, nullable=False),
    Column("not_before", _When),  # carried, or a retry's wait: not called before
    # The number while the request is open, else null: one open request per number.
    Column("open_key", String(40)),
    Column("note", Text),  # why it ended, in words (Chinese first)
    Column("ended_at", _When),  # done (the customer answered), failed or cancelled
    Column("created_at", _When, nullable=False),
    Column("updated_at", _When, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_keep_place_requests_state_queue", "state", "queue"),
    Index("ux_keep_place_requests_open_key", "open_key", unique=True),
    Index("ix_keep_place_requests_callback_id", "callback_id"),
)

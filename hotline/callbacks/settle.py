"""What becomes of a callback when one of its attempts ends (pure): done, scheduled again,
cancelled, or failed with a reason a supervisor can read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .model import CallbackState, Outcome
from .policy import RetryPolicy, next_attempt

# The agent's phone not answering an agent-first callback is not the customer's: it does
# not use up the customer's attempts, up to this many times, this far apart.
AGENT_LEG_TRIES = 3
AGENT_LEG_WAIT = timedelta(minutes=2)
# A failed callback's reason, read by supervisors: Chinese first.
_WORDS = {Outcome.BUSY: "占线", Outcome.NO_ANSWER: "无人接听", Outcome.REJECTED: "被拒接", Outcome.CONGESTION: "线路拥塞", Outcome.FAILED: "呼叫失败"}


@dataclass(frozen=True, slots=True)
class Ended:
    """How an attempt ended, as the dispatcher heard it."""

    outcome: Outcome
    retry: bool  # worth trying again (not after an answer, a refused number, a lost trace)
    agent_leg: bool = False  # agent-first: the agent's phone, not the customer, did not answer
    note: str | None = None  # the reason to show instead of the attempts' summary
    score: int | None = None


def settle(row: Mapping[str, Any], ended: Ended, *, agent_leg_failures: int, policy: RetryPolicy, now: datetime) -> dict[str, Any]:
    """The callback's new values; `row` is its row as it is (attempts already counts this
    one), `agent_leg_failures` the earlier agent-leg failures of this callback."""
    values: dict[str, Any] = {"outcome": ended.outcome.value, "updated_at": now, "version": row["version"] + 1}
    if ended.score is not None:
        values["score"] = ended.score
    if ended.outcome is Outcome.ANSWERED:
        return values | {"state": CallbackState.DONE.value, "open_key": None}
    if row["stop_reason"]:
        # The caller rang again and was answered while this call was being placed.
        return values | {"state": CallbackState.CANCELLED.value, "open_key": None, "note": _with_note(row["stop_reason"], row["note"])}
    if ended.agent_leg and ended.retry and agent_leg_failures < AGENT_LEG_TRIES:
        # The customer was never dialled: the attempt is given back.
        return values | {"state": CallbackState.SCHEDULED.value, "next_attempt_at": now + AGENT_LEG_WAIT, "max_attempts": row["max_attempts"] + 1}
    later = None
    if ended.retry and row["attempts"] < row["max_attempts"]:
        later = next_attempt(RetryPolicy(row["max_attempts"], policy.spacing), row["attempts"], ended.outcome, now)
    if later is not None:
        return values | {"state": CallbackState.SCHEDULED.value, "next_attempt_at": later}
    return values | {"state": CallbackState.FAILED.value, "open_key": None, "note": _with_note(ended.note or _summary(row["attempts"], ended), row["note"])}


def _summary(attempts: int, ended: Ended) -> str:
    if ended.agent_leg:
        return f"坐席分机 {AGENT_LEG_TRIES} 次未接，未能拨打客户 / the agent's phone did not answer {AGENT_LEG_TRIES} times: the customer was not dialled"
    word = _WORDS.get(ended.outcome, ended.outcome.value)
    return f"{attempts} 次均未接通，最后一次：{word} / {attempts} attempt(s), the last: {ended.outcome.value}"


def _with_note(reason: str, note: str | None) -> str:
    """The reason first; what a person wrote on the callback (a booking's note) stays."""
    return reason + (f"\n{note}" if note else "")

"""The words of a callback (pure): its kinds, how it is placed, its states and the outcomes
Asterisk reports for an Originate, read from OriginateResponse's `Response` and `Reason`.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from hotline.errors import HotlineError


class CallbackKind(StrEnum):
    ABANDONED = "abandoned"  # hung up in the queue (QueueCallerAbandon)
    AFTER_HOURS = "after_hours"  # called when nobody could answer
    FOLLOW_UP = "follow_up"  # 回访 within 24 h of a repair, complaint, installation
    VIP_MONTHLY = "vip_monthly"  # VIP客户每月电话回访一次
    SAMPLED = "sampled"  # drawn by sampling.sample
    MANUAL = "manual"  # an agent booked it for a time the customer asked for
    VISIT = "visit"  # 大客户、专网客户每月上门回访: scheduled and recorded, never called
    REPLY_LETTER = "reply_letter"  # 回函 to petitions and letter complaints: never called
    KEEP_PLACE = "keep_place"  # pressed 1 in the queue: called when their turn comes (hotline.keepplace)


# Kinds that are done by someone in person or on paper: the dialer never picks them.
NOT_CALLED = frozenset({CallbackKind.VISIT, CallbackKind.REPLY_LETTER})


def is_called(kind: CallbackKind) -> bool:
    """Whether the dialer places this kind through Asterisk."""
    return kind not in NOT_CALLED


class Mode(StrEnum):
    AGENT_FIRST = "agent_first"  # ring an agent, then dial the customer (hotline-callback)
    SURVEY = "survey"  # the customer is called into hotline-survey and keys a 1-5 score


# The default mode per called kind; configuration may override any row. A caller who
# wanted to talk to us gets a person; follow-ups and samples are what the survey is for.
DEFAULT_MODES: Mapping[CallbackKind, Mode] = MappingProxyType(
    {
        CallbackKind.ABANDONED: Mode.AGENT_FIRST,
        CallbackKind.AFTER_HOURS: Mode.AGENT_FIRST,
        CallbackKind.MANUAL: Mode.AGENT_FIRST,
        CallbackKind.VIP_MONTHLY: Mode.AGENT_FIRST,  # VIPs are served by higher-skilled staff
        CallbackKind.KEEP_PLACE: Mode.AGENT_FIRST,  # the free agent of the queue rings first
        CallbackKind.FOLLOW_UP: Mode.SURVEY,
        CallbackKind.SAMPLED: Mode.SURVEY,
    }
)


class CallbackState(StrEnum):
    SCHEDULED = "scheduled"
    PLACING = "placing"  # the Originate is about to be (or was) sent; its ChannelId is stored
    IN_FLIGHT = "in_flight"  # Asterisk accepted it; waiting for OriginateResponse
    DONE = "done"
    FAILED = "failed"  # retries used up: shown to a supervisor
    CANCELLED = "cancelled"  # e.g. the caller rang again and was answered


S = CallbackState

# Where each state may go. `placing` may fall back to `scheduled` when the Originate never
# reached Asterisk (reconciled after a restart), and may end directly when the response
# arrives before `in_flight` is written. Only a callback not yet placed can be cancelled:
# one that is ringing is let finish. `scheduled -> done` records a visit or a reply letter.
MOVES: Mapping[CallbackState, frozenset[CallbackState]] = MappingProxyType(
    {
        S.SCHEDULED: frozenset({S.PLACING, S.CANCELLED, S.DONE}),
        S.PLACING: frozenset({S.IN_FLIGHT, S.SCHEDULED, S.DONE, S.FAILED}),
        S.IN_FLIGHT: frozenset({S.DONE, S.FAILED, S.SCHEDULED}),
        S.DONE: frozenset(),
        S.FAILED: frozenset(),
        S.CANCELLED: frozenset(),
    }
)


class IllegalCallbackMove(HotlineError):
    """This callback cannot go to that state from the one it is in."""

    error_id = "illegal_callback_move"

    def __init__(self, state: CallbackState, to: CallbackState) -> None:
        super().__init__(
            f"不能把{state}的回呼改为{to} / a {state} callback cannot become {to}",
            state=state.value,
            to=to.value,
        )
        self.state = state
        self.to = to


def move(state: CallbackState, to: CallbackState) -> CallbackState:
    """`to`, if the table allows it; else IllegalCallbackMove."""
    if to not in MOVES[state]:
        raise IllegalCallbackMove(state, to)
    return to


class Outcome(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"  # rang until the Originate's Timeout
    REJECTED = "rejected"  # the far end hung up before answering (declined, or refused)
    CONGESTION = "congestion"  # no circuit or network congestion
    FAILED = "failed"  # no channel could be created (bad number, trunk down ...)


# OriginateResponse's Reason is not a hangup cause: it is the last AST_CONTROL frame the
# new channel sent before Asterisk stopped waiting (include/asterisk/frame.h). 0 means no
# frame at all: the channel could not be requested or dialled.
_REASONS: Mapping[int, Outcome] = MappingProxyType(
    {
        0: Outcome.FAILED,
        1: Outcome.REJECTED,  # AST_CONTROL_HANGUP
        2: Outcome.NO_ANSWER,  # AST_CONTROL_RING: local ring, then the timeout
        3: Outcome.NO_ANSWER,  # AST_CONTROL_RINGING: rang, then the timeout
        4: Outcome.ANSWERED,  # AST_CONTROL_ANSWER
        5: Outcome.BUSY,  # AST_CONTROL_BUSY
        8: Outcome.CONGESTION,  # AST_CONTROL_CONGESTION
    }
)


def outcome_of_reason(reason: str) -> Outcome:
    """The outcome an OriginateResponse `Reason` stands for; an unknown or garbled code is
    a failure (never an answer)."""
    try:
        code = int(reason.strip())
    except ValueError:
        return Outcome.FAILED
    return _REASONS.get(code, Outcome.FAILED)


def outcome_of_response(response: str, reason: str) -> Outcome:
    """The outcome of a whole OriginateResponse: `Success` is an answer whatever the Reason;
    `Failure` with a Reason that claims an answer is a failure.

    In agent-first mode this is the agent's leg: the customer's outcome comes from the call
    events of the hotline-callback context, not from here.
    """
    if response.strip().lower() == "success":
        return Outcome.ANSWERED
    outcome = outcome_of_reason(reason)
    return Outcome.FAILED if outcome is Outcome.ANSWERED else outcome


# The survey's 1-5 keypad score; 1 and 2 send the ticket back to its department (四.5).
SCORES = range(1, 6)
LOW_SCORES = frozenset({1, 2})
_SCORE_KEYS = frozenset(str(score) for score in SCORES)


def survey_score(value: str) -> int | None:
    """The score in a HotlineSurvey UserEvent, or None when the customer keyed nothing valid."""
    text = value.strip()
    return int(text) if text in _SCORE_KEYS else None


def sends_back(score: int) -> bool:
    """A low score goes back to the responsible department as a new forwarded item."""
    return score in LOW_SCORES

"""Callback outcomes read from OriginateResponse, the state table, and survey scores."""

import pytest

from hotline.callbacks.model import (
    DEFAULT_MODES,
    MOVES,
    CallbackKind,
    CallbackState,
    IllegalCallbackMove,
    Outcome,
    is_called,
    move,
    outcome_of_reason,
    outcome_of_response,
    sends_back,
    survey_score,
)
from hotline.testing.transcripts import TRACES_DIR, headers, split_messages

REASONS = [
    ("0", Outcome.FAILED),
    ("1", Outcome.REJECTED),
    ("2", Outcome.NO_ANSWER),
    ("3", Outcome.NO_ANSWER),
    ("4", Outcome.ANSWERED),
    ("5", Outcome.BUSY),
    ("8", Outcome.CONGESTION),
    (" 5 ", Outcome.BUSY),
    ("7", Outcome.FAILED),  # off hook: not an outcome of its own
    ("", Outcome.FAILED),
    ("<unknown>", Outcome.FAILED),
]


@pytest.mark.parametrize("reason, outcome", REASONS)
def test_reason_codes_are_read_as_asterisks_control_frames(reason: str, outcome: Outcome) -> None:
    assert outcome_of_reason(reason) is outcome


def _originate_responses(name: str) -> dict[str, dict[str, str]]:
    _, messages = split_messages((TRACES_DIR / f"{name}.ami").read_bytes())
    found = [headers(m) for m in messages]
    return {h["ActionID"]: h for h in found if h.get("Event") == "OriginateResponse"}


RECORDED = [
    ("callback-busy-and-noanswer", "rec-28", Outcome.BUSY),  # 13900000486 is busy
    ("callback-busy-and-noanswer", "rec-29", Outcome.NO_ANSWER),  # 13900000408 never answers
    ("callback-agent-first", "rec-25", Outcome.ANSWERED),  # the agent's leg
    ("survey-dtmf", "rec-32", Outcome.ANSWERED),
]


@pytest.mark.parametrize("trace, action_id, outcome", RECORDED)
def test_recorded_originate_responses_give_their_outcome(
    trace: str, action_id: str, outcome: Outcome
) -> None:
    response = _originate_responses(trace)[action_id]
    assert outcome_of_response(response["Response"], response["Reason"]) is outcome


def test_success_is_an_answer_and_a_failure_never_is() -> None:
    assert outcome_of_response("Success", "4") is Outcome.ANSWERED
    assert outcome_of_response("Failure", "4") is Outcome.FAILED
    assert outcome_of_response("Failure", "5") is Outcome.BUSY


def test_visits_and_reply_letters_are_never_called() -> None:
    assert not is_called(CallbackKind.VISIT)
    assert not is_called(CallbackKind.REPLY_LETTER)
    assert all(is_called(kind) for kind in DEFAULT_MODES)
    # Every called kind has a default mode, so the dialer never meets a kind without one.
    assert {kind for kind in CallbackKind if is_called(kind)} == set(DEFAULT_MODES)


LEGAL = [(state, to) for state, targets in MOVES.items() for to in targets]
ILLEGAL = [
    (state, to) for state in CallbackState for to in CallbackState if to not in MOVES[state]
]


@pytest.mark.parametrize("state, to", LEGAL)
def test_the_table_allows_its_moves(state: CallbackState, to: CallbackState) -> None:
    assert move(state, to) is to


@pytest.mark.parametrize("state, to", ILLEGAL)
def test_other_moves_raise_a_domain_error(state: CallbackState, to: CallbackState) -> None:
    with pytest.raises(IllegalCallbackMove) as raised:
        move(state, to)
    assert raised.value.error_id == "illegal_callback_move"
    assert raised.value.details == {"state": state.value, "to": to.value}


def test_a_ringing_callback_cannot_be_cancelled_and_ended_ones_stay_ended() -> None:
    assert CallbackState.CANCELLED not in MOVES[CallbackState.IN_FLIGHT]
    for final in (CallbackState.DONE, CallbackState.FAILED, CallbackState.CANCELLED):
        assert MOVES[final] == frozenset()


@pytest.mark.parametrize(
    "keyed, score", [("5", 5), ("1", 1), (" 3 ", 3), ("0", None), ("6", None), ("", None), ("#", None), ("12", None), ("５", None)]
)
def test_survey_score_accepts_one_key_from_1_to_5(keyed: str, score: int | None) -> None:
    assert survey_score(keyed) == score


@pytest.mark.parametrize("score, back", [(1, True), (2, True), (3, False), (4, False), (5, False)])
def test_low_scores_go_back_to_the_department(score: int, back: bool) -> None:
    assert sends_back(score) is back

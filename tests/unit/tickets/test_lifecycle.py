"""A ticket's lifecycle: open -> resolved on the spot, or forwarded -> acknowledged -> resolved
-> follow-up -> closed; anything else is refused with a message the console can show."""

import pytest

from hotline.errors import HotlineError
from hotline.tickets.lifecycle import (
    IllegalTransition,
    TicketAction,
    TicketStatus,
    allowed_actions,
    transition,
)

S, A = TicketStatus, TicketAction
OPEN_STATES = [s for s in TicketStatus if s is not S.CLOSED]
IN_PLACE = [
    A.CLASSIFY,
    A.NOTE,
    A.REPLY,
    A.REQUEST_EXTENSION,
    A.APPROVE_EXTENSION,
    A.REJECT_EXTENSION,
]

# from, action -> to
MOVES = [
    pytest.param(S.OPEN, A.RESOLVE, S.RESOLVED, id="resolved on the spot"),
    pytest.param(S.OPEN, A.FORWARD, S.FORWARDED, id="forwarded to a department"),
    pytest.param(S.FORWARDED, A.ACKNOWLEDGE, S.ACKNOWLEDGED, id="the department acknowledges"),
    pytest.param(S.FORWARDED, A.FORWARD, S.FORWARDED, id="handed on to another department"),
    pytest.param(S.ACKNOWLEDGED, A.RESOLVE, S.RESOLVED, id="the department resolves it"),
    pytest.param(S.ACKNOWLEDGED, A.FORWARD, S.FORWARDED, id="the department hands it on"),
    pytest.param(S.RESOLVED, A.START_FOLLOW_UP, S.FOLLOW_UP, id="the follow-up call starts"),
    pytest.param(S.RESOLVED, A.CLOSE, S.CLOSED, id="closed without its own follow-up"),
    pytest.param(S.RESOLVED, A.REOPEN, S.OPEN, id="not fixed after all"),
    pytest.param(S.FOLLOW_UP, A.CLOSE, S.CLOSED, id="closed after the follow-up"),
    pytest.param(S.FOLLOW_UP, A.REOPEN, S.OPEN, id="the follow-up finds a problem"),
]
STAYS = [
    pytest.param(status, action, status, id=f"{action} keeps {status}")
    for status in OPEN_STATES
    for action in IN_PLACE
]


@pytest.mark.parametrize("status, action, after", MOVES + STAYS)
def test_an_allowed_action_gives_the_next_state(status, action, after) -> None:
    assert transition(status, action) is after
    assert action in allowed_actions(status)


def test_nothing_is_allowed_beyond_the_tables_above() -> None:
    allowed = {(p.values[0], p.values[1]) for p in MOVES + STAYS}

    assert {(s, a) for s in TicketStatus for a in allowed_actions(s)} == allowed


REFUSED = [
    (S.CLOSED, A.FORWARD, "不能对已关闭的工单执行转办 / cannot forward a closed ticket"),
    (S.CLOSED, A.NOTE, "不能对已关闭的工单执行备注 / cannot add a note to a closed ticket"),
    (S.CLOSED, A.REOPEN, "不能对已关闭的工单执行重新打开 / cannot reopen a closed ticket"),
    (S.OPEN, A.ACKNOWLEDGE, "不能对待处理的工单执行响应 / cannot acknowledge an open ticket"),
    (S.OPEN, A.CLOSE, "不能对待处理的工单执行关闭 / cannot close an open ticket"),
    (S.FORWARDED, A.RESOLVE, "不能对已转办的工单执行办结 / cannot resolve a forwarded ticket"),
    (
        S.ACKNOWLEDGED,
        A.ACKNOWLEDGE,
        "不能对已响应的工单执行响应 / cannot acknowledge an acknowledged ticket",
    ),
    (S.RESOLVED, A.RESOLVE, "不能对已办结的工单执行办结 / cannot resolve a resolved ticket"),
    (S.FOLLOW_UP, A.FORWARD, "不能对回访中的工单执行转办 / cannot forward a ticket in follow-up"),
]


@pytest.mark.parametrize("status, action, message", REFUSED)
def test_an_illegal_action_is_refused_with_a_chinese_first_message(status, action, message) -> None:
    with pytest.raises(IllegalTransition) as refused:
        transition(status, action)

    assert refused.value.message == str(refused.value) == message
    assert refused.value.error_id == "illegal_transition"
    assert refused.value.details == {"status": status.value, "action": action.value}
    assert isinstance(refused.value, HotlineError)


@pytest.mark.parametrize("action", list(TicketAction))
def test_a_closed_ticket_refuses_every_action(action: TicketAction) -> None:
    with pytest.raises(IllegalTransition):
        transition(S.CLOSED, action)


@pytest.mark.parametrize("status", list(TicketStatus))
@pytest.mark.parametrize("action", list(TicketAction))
def test_every_refusal_has_words_in_both_languages(status, action) -> None:
    if action in allowed_actions(status):
        return
    with pytest.raises(IllegalTransition) as refused:
        transition(status, action)

    chinese, english = refused.value.message.split(" / ")
    assert chinese.startswith("不能对") and english.startswith("cannot ")

"""A ticket's states and the actions allowed in each, as one table (pure).

The service records who, when and why; this module only says whether an action may happen.
"""

from enum import StrEnum

from hotline.errors import HotlineError


class TicketStatus(StrEnum):
    OPEN = "open"
    FORWARDED = "forwarded"  # 已转办: waiting for the department to acknowledge
    ACKNOWLEDGED = "acknowledged"  # 已响应: the department is working on it
    RESOLVED = "resolved"  # 已办结: the work is done; the follow-up clock runs
    FOLLOW_UP = "follow_up"  # 回访中
    CLOSED = "closed"


class TicketAction(StrEnum):
    RESOLVE = "resolve"
    FORWARD = "forward"
    ACKNOWLEDGE = "acknowledge"
    START_FOLLOW_UP = "start_follow_up"
    CLOSE = "close"
    REOPEN = "reopen"
    # These record something and leave the state as it is.
    CLASSIFY = "classify"
    NOTE = "note"
    REPLY = "reply"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REJECT_EXTENSION = "reject_extension"


S, A = TicketStatus, TicketAction

# The actions that move a ticket. Not here: closed is final (a repeat problem is a new
# ticket, so the SLA report never changes under a closed one), and a forwarded ticket
# cannot be resolved before the department acknowledges, so the 5-minute response is
# always on record.
MOVES: dict[TicketStatus, dict[TicketAction, TicketStatus]] = {
    S.OPEN: {A.RESOLVE: S.RESOLVED, A.FORWARD: S.FORWARDED},
    # Forwarding again hands the ticket to another department (the wrong one got it).
    S.FORWARDED: {A.ACKNOWLEDGE: S.ACKNOWLEDGED, A.FORWARD: S.FORWARDED},
    S.ACKNOWLEDGED: {A.RESOLVE: S.RESOLVED, A.FORWARD: S.FORWARDED},
    # Closing straight from resolved is for tickets the standard only samples for
    # follow-up (standard.needs_follow_up says which); the service enforces that.
    S.RESOLVED: {A.START_FOLLOW_UP: S.FOLLOW_UP, A.CLOSE: S.CLOSED, A.REOPEN: S.OPEN},
    # A problem found in the follow-up sends the ticket back to be worked again.
    S.FOLLOW_UP: {A.CLOSE: S.CLOSED, A.REOPEN: S.OPEN},
    S.CLOSED: {},
}

# Allowed on every ticket that is not closed. Whether an extension request is pending
# (to approve or reject) is the service's check, not the state's.
IN_PLACE = frozenset(
    {A.CLASSIFY, A.NOTE, A.REPLY, A.REQUEST_EXTENSION, A.APPROVE_EXTENSION, A.REJECT_EXTENSION}
)

# For the message: "不能对<state>的工单执行<action> / cannot <verb> <a ... ticket>".
_STATE_WORDS = {
    S.OPEN: ("待处理", "an open ticket"),
    S.FORWARDED: ("已转办", "a forwarded ticket"),
    S.ACKNOWLEDGED: ("已响应", "an acknowledged ticket"),
    S.RESOLVED: ("已办结", "a resolved ticket"),
    S.FOLLOW_UP: ("回访中", "a ticket in follow-up"),
    S.CLOSED: ("已关闭", "a closed ticket"),
}
_ACTION_WORDS = {
    A.RESOLVE: ("办结", "resolve"),
    A.FORWARD: ("转办", "forward"),
    A.ACKNOWLEDGE: ("响应", "acknowledge"),
    A.START_FOLLOW_UP: ("回访", "start the follow-up of"),
    A.CLOSE: ("关闭", "close"),
    A.REOPEN: ("重新打开", "reopen"),
    A.CLASSIFY: ("分类", "classify"),
    A.NOTE: ("备注", "add a note to"),
    A.REPLY: ("答复", "reply on"),
    A.REQUEST_EXTENSION: ("申请延时", "request an extension for"),
    A.APPROVE_EXTENSION: ("批准延时", "approve an extension for"),
    A.REJECT_EXTENSION: ("驳回延时", "reject an extension for"),
}


class IllegalTransition(HotlineError):
    """This action is not allowed in the ticket's current state."""

    error_id = "illegal_transition"

    def __init__(self, status: TicketStatus, action: TicketAction) -> None:
        state_zh, state_en = _STATE_WORDS[status]
        action_zh, action_en = _ACTION_WORDS[action]
        # Chinese first: the console is Chinese-first, the English is for logs and us.
        message = f"不能对{state_zh}的工单执行{action_zh} / cannot {action_en} {state_en}"
        super().__init__(message, status=status.value, action=action.value)
        self.status = status
        self.action = action


def allowed_actions(status: TicketStatus) -> frozenset[TicketAction]:
    """What the console may offer for a ticket in `status`."""
    in_place = IN_PLACE if status is not S.CLOSED else frozenset()
    return frozenset(MOVES[status]) | in_place


def transition(status: TicketStatus, action: TicketAction) -> TicketStatus:
    """The state after `action`, or IllegalTransition."""
    if action in MOVES[status]:
        return MOVES[status][action]
    if action in IN_PLACE and status is not S.CLOSED:
        return status
    raise IllegalTransition(status, action)

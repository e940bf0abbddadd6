"""The ticket use cases' refusals, each with a stable error_id the web layer maps to a status."""

from __future__ import annotations

from hotline.errors import HotlineError


class Forbidden(HotlineError):
    """Your role may not do this to this ticket."""

    error_id = "forbidden"


class FollowUpRequired(HotlineError):
    """这张工单需要先回访再关闭 / this ticket needs its follow-up recorded before it is closed."""

    error_id = "follow_up_required"


class ExtensionPending(HotlineError):
    """这个时限已有待审批的延时申请 / this deadline already has an extension request waiting."""

    error_id = "extension_pending"


class ExtensionDecided(HotlineError):
    """这份延时申请已审批 / this extension request was already approved or rejected."""

    error_id = "extension_decided"


class DeadlineNotOpen(HotlineError):
    """这个时限已完成或已取消 / this deadline is already met or cancelled."""

    error_id = "deadline_not_open"


class ComplaintReported(HotlineError):
    """这次回访发现的投诉已转回部门 / the complaint found on this callback was already sent back."""

    error_id = "complaint_reported"

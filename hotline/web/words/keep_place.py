"""Words of keep-your-place on the console (issue "Supervisors see virtual waiting callers
beside live ones"): key -> (zh-CN, en)."""

MESSAGES: dict[str, tuple[str, str]] = {
    # --- the supervisor's live calls panel: the virtual callers ---------------------------------
    "kept.title": ("保留排位（虚拟排队）", "Kept places (virtual callers)"),
    "kept.polling": ("每10秒自动刷新", "Refreshed every 10 s"),
    "kept.summary": ("{count} 位等待回呼", "{count} waiting for a callback"),
    "kept.none": ("暂无保留排位的来电", "No kept places"),
    "kept.badge": ("保留排位", "Kept place"),
    "kept.caller": ("来电 {number}", "called from {number}"),
    "kept.position": ("按1时排第 {position} 位", "number {position} in line when 1 was pressed"),
    "kept.carried": ("次日优先", "First next day"),
    "kept.not_before": ("不早于 {when}", "not before {when}"),
    "kept.col.queue": ("队列", "Queue"),
    "kept.col.number": ("回呼号码", "Number to call"),
    "kept.col.tier": ("级别", "Tier"),
    "kept.col.joined": ("入队时间（排位）", "Joined the queue (the place)"),
    "kept.col.requested": ("按1时间", "Pressed 1"),
    "kept.col.waited": ("已等待回呼", "Waiting for the callback"),
    "kept.col.state": ("状态", "State"),
    "kept.col.when": ("回呼安排", "When to call"),
    # --- an open request's state, as GET /api/keep-place sends it --------------------------------
    "keep_place_state.waiting": ("等待回呼", "Waiting for a callback"),
    "keep_place_state.calling": ("正在回呼", "Being called back"),
}

"""Words of the floor's listen-in (监听 / 耳语 / 强插, hotline/floor/spy.py): key -> (zh-CN, en).
`spy.<mode>` is looked up by the mode the API sends (listen, whisper, barge)."""

MESSAGES: dict[str, tuple[str, str]] = {
    "spy.listen": ("监听", "Listen"),
    "spy.whisper": ("耳语", "Whisper"),
    "spy.barge": ("强插", "Barge in"),
    "spy.listen_hint": ("您听到坐席和客户，双方都听不到您", "You hear the agent and the caller; neither hears you"),
    "spy.whisper_hint": ("只有坐席听得到您，客户听不到", "Only the agent hears you, not the caller"),
    "spy.barge_hint": ("坐席和客户都听得到您", "Both the agent and the caller hear you"),
    "spy.confirm_barge": ("强插后客户也会听到您的声音，确定吗？", "After barging in the caller hears you too. Go ahead?"),
    "spy.calling": ("正在呼叫您的分机 {extension}，接听后开始{mode}（坐席 {agent}）", "Calling your phone {extension}: pick up to start ({mode}, agent {agent})"),
    "spy.ends": ("坐席这通电话结束时您的电话自动挂断；坐席没有通话时接听后立即挂断", "Your call ends with the agent's call, or at once if the agent is in no call"),
    "spy.no_phone": ("您的账号没有登记分机，无法呼叫您的电话；请管理员登记", "Your account has no extension, so your phone cannot be called; ask an admin to set one"),
    "spy.failed": ("未能呼叫您的电话：{message}", "Could not call your phone: {message}"),
}

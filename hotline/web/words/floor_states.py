"""Words of the floor (issue "Run the floor"): key -> (zh-CN, en). Agents' states
(floor.states.AgentState: `agent_state.<value>`, shown with label("agent_state", ...)) and
the agent page's controls (floor-agent.js)."""

MESSAGES: dict[str, tuple[str, str]] = {
    # --- agents' states (floor.states.AgentState) ---------------------------------------
    "agent_state.logged_out": ("未签入", "logged out"),
    "agent_state.ready": ("空闲", "ready"),
    "agent_state.ringing": ("振铃", "ringing"),
    "agent_state.on_call": ("通话", "on a call"),
    "agent_state.wrapup": ("话后整理", "after-call work"),
    "agent_state.paused": ("示忙", "not ready"),
    # Where a state change came from (AgentStateChanged.source; the `agent_state` message).
    "agent_source.console": ("坐席操作", "the agent"),
    "agent_source.supervisor": ("班长强制", "a supervisor"),
    "agent_source.phone": ("话机或交换机", "the phone or the PBX"),
    "agent_source.resync": ("重连后同步", "read again after a reconnect"),
    # --- the agent page's controls ---------------------------------------------------------
    "floor_agent.title": ("坐席状态", "My state"),
    "floor_agent.log_in": ("签入", "Log in"),
    "floor_agent.log_out": ("签出", "Log out"),
    "floor_agent.ready": ("示闲", "Ready"),
    "floor_agent.pause": ("示忙", "Not ready"),
    "floor_agent.reason": ("示忙原因", "Reason"),
    "floor_agent.end_wrapup": ("结束话后整理", "End after-call work"),
    "floor_agent.state_reason": ("{state}（{reason}）", "{state} ({reason})"),
    "floor_agent.for": ("已持续", "for"),
    "floor_agent.no_extension": ("您的账号没有分机，请联系管理员", "Your account has no extension; ask an admin"),
    "floor_agent.waiting": ("已发送，等待交换机确认…", "Sent; waiting for the PBX…"),
    "floor_agent.done": ("交换机已确认", "Confirmed by the PBX"),
    "floor_agent.polling": ("每5秒刷新", "Refreshed every 5 s"),
    "floor_agent.no_reason": ("未注明", "no reason given"),
    # --- what supervisors are told ---------------------------------------------------------
    "floor_agent.wrapup_over_limit": ("{name} 话后整理已超过 {minutes} 分钟", "{name} has been in after-call work over {minutes} min"),
    "floor_agent.force_pause": ("强制示忙", "Force not ready"),
    "floor_agent.force_log_out": ("强制签出", "Force log out"),
    "floor_agent.force_reason": ("原因", "Reason"),
}

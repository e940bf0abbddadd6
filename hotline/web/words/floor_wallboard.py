"""Words of the floor (issue "Run the floor"): key -> (zh-CN, en)."""

MESSAGES: dict[str, tuple[str, str]] = {
    # --- the pop: a repeat caller (重复来电) ---------------------------------------------
    "pop.repeat": ("重复来电", "Repeat caller"),
    "pop.repeat_detail": ("{days} 天内再次来电（上次 {at}），关联未结工单 {ticket}", "called again within {days} days (last {at}) about open ticket {ticket}"),
}

"""Words of the floor (issue "Run the floor"): key -> (zh-CN, en)."""

MESSAGES: dict[str, tuple[str, str]] = {}

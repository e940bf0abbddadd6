"""What each real transcript shows happened (from hotline/testing/traces/README.md):
(caller number, caller name, queue, agent, outcome) per hotline call."""

EXPECTED_CALLS = {
    "answered-regular": [("13912345678", "Zhang San", "hotline", "agent-8001", "answered")],
    "answered-vip": [("13800000001", "VIP Li Si", "vip", "vip-agent-8009", "answered")],
    "abandoned-in-queue": [("08275551234", "Wang Wu", "hotline", None, "abandoned")],
    "agent-no-answer-then-answer": [("13711112222", "Zhao Liu", "hotline", "agent-8002", "answered")],
    "chinese-names": [
        ("13800000001", "李四（巴中分公司）", "vip", "vip-agent-8009", "answered"),
        ("13912345678", "张三", "hotline", "agent-8002", "answered"),
    ],
    "keep-place": [
        ("13900000101", "钱七", "hotline", "agent-8001", "answered"),
        ("13900000202", "孙八", "hotline", None, "timeout"),
    ],
    "fastagi-callers": [
        ("08275551234", "王五", "hotline", "agent-8002", "answered"),
        ("13700000009", "Slow Route", None, None, "failed"),
        ("13800000001", "李四（VIP）", "vip", "vip-agent-8009", "answered"),
        ("13912345678", "张三", "hotline", "agent-8002", "answered"),
        (None, None, "hotline", "agent-8001", "answered"),
    ],
    "resync-snapshot": [
        ("13800000001", "VIP Li Si", "vip", "vip-agent-8009", "answered"),
        ("13912345678", "Zhang San", "hotline", "agent-8002", "answered"),
    ],
    "blind-transfer": [("13912345678", "Zhang San", "hotline", "agent-8001", "answered")],
    "attended-transfer": [("13912345678", "Zhang San", "hotline", "agent-8001", "answered")],
    "callback-agent-first": [],
    "callback-busy-and-noanswer": [],
    "survey-dtmf": [],
    "bad-actions": [],
}

"""A queue's line of live and virtual callers, and which kept places are due, worked by
hand: the line is Asterisk's order (priority, then join time), kept places keep the join
time of the call that pressed 1, and a callback goes only to a free agent with no live
caller before it."""

from __future__ import annotations

from datetime import datetime, timedelta

from hotline.calls.projection import CallRecord
from hotline.keepplace.model import KeptPlace, LiveCaller, ahead_of, due, line, live_callers
from tests.unit.callbacks.moments import at

NOW = at("2026-11-25 10:30")


def live(call_id: str, joined: str, *, priority: int = 0, number: str | None = None) -> LiveCaller:
    return LiveCaller(call_id, number, priority, at(f"2026-11-25 {joined}"))


def kept(request_id: int, joined: str, *, priority: int = 0, number: str | None = None, carried: bool = False, not_before: datetime | None = None, day: str = "2026-11-25") -> KeptPlace:
    return KeptPlace(request_id, number or f"1390000{request_id:04d}", priority, at(f"{day} {joined}"), carried, not_before)


def keys(places: list) -> list[str]:  # type: ignore[type-arg]
    return [place.key for place in places]


def due_keys(queue_line: list, agents: list[str]) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(place.key, agent) for place, agent in due(queue_line, agents)]


def test_live_and_virtual_callers_stand_in_join_order() -> None:
    # 10:00 a live caller, 10:01 a caller who pressed 1, 10:02 live, 10:03 pressed 1.
    queue = line([live("L1", "10:00"), live("L2", "10:02")], [kept(1, "10:01"), kept(2, "10:03")], NOW)
    assert keys(queue) == ["L1", "KP-1", "L2", "KP-2"]


def test_a_queue_with_live_and_virtual_callers_is_served_in_join_order() -> None:
    callers = [live("L1", "10:00"), live("L2", "10:02")]
    places = [kept(1, "10:01"), kept(2, "10:03")]
    # L1 waits first: the free agent is Asterisk's to give to L1; no callback goes before it.
    assert due_keys(line(callers, places, NOW), ["8001"]) == []
    # L1 answered: KP-1 is next; L2 stops KP-2 even with a second agent free.
    callers = [live("L2", "10:02")]
    assert due_keys(line(callers, places, NOW), ["8001", "8002"]) == [("KP-1", "8001")]
    # KP-1 is being called; L2 answered: KP-2 goes to the next free agent.
    assert due_keys(line([], [kept(2, "10:03")], NOW), ["8002"]) == [("KP-2", "8002")]


def test_vips_keep_their_priority_live_or_virtual() -> None:
    # A regular caller pressed 1 at 10:00; a VIP joined live at 10:05 with priority 10.
    queue = line([live("VIP", "10:05", priority=10)], [kept(1, "10:00")], NOW)
    assert keys(queue) == ["VIP", "KP-1"]
    assert due_keys(queue, ["8001"]) == []
    # A VIP who pressed 1 keeps that priority over regular callers who joined before.
    queue = line([live("L1", "09:55")], [kept(2, "10:10", priority=10)], NOW)
    assert keys(queue) == ["KP-2", "L1"]
    assert due_keys(queue, ["8001"]) == [("KP-2", "8001")]


def test_no_callback_while_every_agent_is_busy() -> None:
    queue = line([], [kept(1, "10:00"), kept(2, "10:01")], NOW)
    assert due_keys(queue, []) == []


def test_never_more_callbacks_than_free_agents_each_on_its_own_agent() -> None:
    queue = line([], [kept(1, "10:00"), kept(2, "10:01"), kept(3, "10:02")], NOW)
    assert due_keys(queue, ["8003", "8001"]) == [("KP-1", "8003"), ("KP-2", "8001")]


def test_carried_requests_go_before_the_new_days_callers_whatever_their_priority() -> None:
    yesterday = kept(1, "19:50", day="2026-11-24", carried=True, not_before=at("2026-11-25 09:00"))
    queue = line([live("VIP", "08:58", priority=10)], [yesterday, kept(2, "08:59")], at("2026-11-25 09:00"))
    assert keys(queue) == ["KP-1", "VIP", "KP-2"]
    assert due_keys(queue, ["8001", "8002"]) == [("KP-1", "8001")]


def test_a_kept_place_waits_for_its_time_and_does_not_hold_up_the_line_meanwhile() -> None:
    later = kept(1, "10:00", not_before=at("2026-11-25 11:00"))  # a retry's wait, or carried
    queue = line([], [later, kept(2, "10:05")], NOW)
    assert keys(queue) == ["KP-2"]
    assert keys(line([], [later, kept(2, "10:05")], at("2026-11-25 11:00"))) == ["KP-1", "KP-2"]


def test_a_kept_place_whose_number_is_waiting_live_is_not_called_meanwhile() -> None:
    # They rang again and wait in the queue: that call will be served (and ends the request).
    queue = line([live("L9", "10:20", number="13900000001")], [kept(1, "10:00", number="13900000001"), kept(2, "10:05")], NOW)
    assert keys(queue) == ["KP-2", "L9"]


def test_how_many_are_ahead_of_a_place() -> None:
    callers = [live("L1", "10:00"), live("L2", "10:02"), live("VIP", "10:20", priority=10)]
    queue = line(callers, [kept(1, "10:01")], NOW)
    assert ahead_of(queue, queue[2]) == 2  # VIP, L1 before KP-1
    assert keys(queue) == ["VIP", "L1", "KP-1", "L2"]


def _record(call_id: str, **fields: object) -> CallRecord:
    base: dict[str, object] = {"state": "queued", "queue": "hotline", "queued_at": at("2026-11-25 10:00"), "caller_number": "13900000001"}
    return CallRecord(call_id, call_id, at("2026-11-25 09:59"), **(base | fields))  # type: ignore[arg-type]


def test_the_live_line_is_the_calls_waiting_in_that_queue() -> None:
    records = [
        _record("queued", route_priority=10),
        _record("ringing", state="ringing", caller_number="+86 139 0000 0002"),
        _record("talking", state="talking", answered_at=at("2026-11-25 10:01")),
        _record("left", state="arriving"),  # pressed 1, or left by the exit key
        _record("other-queue", queue="vip"),
        _record("withheld", caller_number="anonymous"),
    ]
    found = live_callers(records, "hotline", "0827")
    assert [(c.call_id, c.number, c.priority) for c in found] == [("queued", "13900000001", 10), ("ringing", "13900000002", 0), ("withheld", None, 0)]
    assert all(c.joined_at == at("2026-11-25 10:00") for c in found)


def test_join_time_ties_are_broken_the_same_way_everywhere() -> None:
    same = "10:00"
    one = line([live("L1", same)], [kept(1, same)], NOW)
    two = line([live("L1", same)], [kept(1, same)], NOW + timedelta(minutes=1))
    assert keys(one) == keys(two)

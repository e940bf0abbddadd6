"""The wallboard's ticket panel, from rows worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

from hotline.floor.panel import panel

NOW = datetime.fromisoformat("2026-11-25T02:00:00+00:00")  # 10:00 in Bazhong
M = timedelta(minutes=1)


def row(ticket: int, kind: str, *, started: timedelta, limit: timedelta, area: str = "urban", tier: str = "regular") -> dict[str, object]:
    start = NOW - started
    return {"ticket_id": ticket, "number": f"T-{ticket}", "kind": kind, "warn_at": start + limit * 0.8, "due_at": start + limit, "area": area, "tier": tier}


def test_close_means_past_the_warning_point_and_overdue_past_the_limit() -> None:
    rows = [
        row(1, "forward", started=7 * M, limit=10 * M),  # 70 %: not yet close
        row(2, "forward", started=9 * M, limit=10 * M),  # 90 %: close
        row(3, "forward", started=11 * M, limit=10 * M),  # past: overdue
        row(4, "acknowledge", started=4 * M + timedelta(seconds=30), limit=5 * M),  # 90 %: close
        row(5, "reply", started=31 * M, limit=30 * M),  # overdue
    ]
    found = panel(rows, [], NOW)["limits"]
    assert (found["forward"]["close"], found["forward"]["overdue"]) == (1, 1)
    assert [t["number"] for t in found["forward"]["tickets"]] == ["T-3", "T-2"]  # most urgent first
    assert (found["acknowledge"]["close"], found["reply"]["overdue"]) == (1, 1)


def test_overdue_repairs_are_counted_by_area_and_tier() -> None:
    rows = [
        row(1, "repair_fix", started=5 * 60 * M, limit=4 * 60 * M, area="rural"),
        row(2, "repair_fix", started=5 * 60 * M, limit=4 * 60 * M, area="rural"),
        row(3, "repair_respond", started=2 * 60 * M, limit=60 * M, area="urban", tier="vip"),
        row(4, "repair_fix", started=60 * M, limit=4 * 60 * M, area="urban"),  # not yet due
    ]
    assert panel(rows, [], NOW)["overdue_repairs"] == [{"area": "rural", "tier": "regular", "count": 2}, {"area": "urban", "tier": "vip", "count": 1}]


def test_follow_ups_due_within_24_hours_and_those_late() -> None:
    follow_ups = [{"deadline_at": NOW + timedelta(hours=23)}, {"deadline_at": NOW - M}, {"deadline_at": NOW + timedelta(hours=25)}, {"deadline_at": None}]
    assert panel([], follow_ups, NOW)["follow_ups_due"] == {"count": 2, "late": 1}

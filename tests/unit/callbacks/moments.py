"""Moments on the Bazhong wall clock and small calendars for the callback tests."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from hotline.tickets.workdays import LOCAL_ZONE


def at(text: str) -> datetime:
    """at("2026-03-06 18:00") -> that moment in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_ZONE)


def day(text: str) -> date:
    return date.fromisoformat(text)


@dataclass(frozen=True)
class FakeCalendar:
    """Monday to Friday, minus `days_off`, plus `days_worked`: WorkCalendar's predicate shape."""

    days_off: frozenset[date] = field(default_factory=frozenset)
    days_worked: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, off: Iterable[str] = (), worked: Iterable[str] = ()) -> "FakeCalendar":
        return cls(frozenset(map(day, off)), frozenset(map(day, worked)))

    def is_working_day(self, when: date) -> bool:
        if when in self.days_worked:
            return True
        return when.weekday() < 5 and when not in self.days_off


"""China's working-day calendar for the service standard's day rules (pure, no clock reads).

Official holidays and swapped working days (调休) come from `chinesecalendar`; days an
administrator entered win over it, and a year it does not know yet falls back to Mon-Fri.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar

# The standard's wall-clock rules (17:00, next working day 08:30, 24:00) are Bazhong's.
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")

_SATURDAY = 5


def to_local(moment: datetime) -> datetime:
    """`moment` on the Bazhong wall clock; a naive datetime is refused, never guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; the hotline only uses aware datetimes")
    return moment.astimezone(LOCAL_ZONE)


def known_year(year: int) -> bool:
    """Whether `chinesecalendar` has the State Council's calendar for `year`."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True, kw_only=True)
class WorkCalendar:
    """Working days and hours: `overrides` maps a date to True (work) or False (day off)."""

    work_start: time = time(8, 30)
    close_of_business: time = time(17, 30)
    overrides: Mapping[date, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.work_start < self.close_of_business:
            raise ValueError(
                f"work starts at {self.work_start:%H:%M}, which is not before "
                f"close of business at {self.close_of_business:%H:%M}"
            )
        # A private read-only copy: the caller's dict changing later must not move deadlines.
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def known_year(self, year: int) -> bool:
        """False when `year` runs on the Mon-Fri fallback (plus overrides): warn about it."""
        return known_year(year)

    def is_working_day(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            # The year is not published yet (or before 2004): weekdays work until an
            # administrator enters the year's holidays as overrides.
            return day.weekday() < _SATURDAY

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        # Ends: overrides are finite and every unknown year has Mondays to Fridays.
        following = day + timedelta(days=1)
        while not self.is_working_day(following):
            following += timedelta(days=1)
        return following

    def next_working_day_start(self, after: datetime) -> datetime:
        """Work start on the first working day after `after`'s Bazhong date."""
        day = self.next_working_day(to_local(after).date())
        return datetime.combine(day, self.work_start, tzinfo=LOCAL_ZONE)

    def close_of_business_on(self, day: date) -> datetime:
        return datetime.combine(day, self.close_of_business, tzinfo=LOCAL_ZONE)

    @staticmethod
    def is_after(moment: datetime, cutoff: time) -> bool:
        """Strictly after `cutoff` on the Bazhong wall clock: 17:00:00 is not after 17:00."""
        return to_local(moment).time() > cutoff

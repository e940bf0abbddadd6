"""The sampled follow-ups (回访抽样, 四.4): who is drawn, fairly and reproducibly (pure).

A sample ranks the candidates by a keyed hash of a seed and their id and takes the first
ceil(fraction * n): the same seed always draws the same people, another period draws others,
and nobody can pick whom to call. The seed names the group and the period,
"inquiry:2026-W48" or "other.regular:2026".
"""

import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType


class SampleGroup(StrEnum):
    BUSINESS = "business"  # 业务受理
    INQUIRY = "inquiry"  # 咨询服务
    MARKETING = "marketing"  # 营销
    DIGITAL_TV = "digital_tv"  # 数字电视整转用户
    OTHER = "other"  # 其他客户, drawn per customer type (fee collection included)


class Cadence(StrEnum):
    WEEKLY = "weekly"  # one sample per ISO week, drawn on its Friday
    YEARLY = "yearly"


@dataclass(frozen=True)
class SampleRule:
    cadence: Cadence
    fraction: float  # at least this share of the period's candidates


# 四.4(1) business, inquiry, marketing every Friday >= 10 %; (5) digital-TV conversion weekly
# >= 20 %; (4) everyone else yearly >= 5 % per customer type.
SAMPLE_RULES: Mapping[SampleGroup, SampleRule] = MappingProxyType(
    {
        SampleGroup.BUSINESS: SampleRule(Cadence.WEEKLY, 0.10),
        SampleGroup.INQUIRY: SampleRule(Cadence.WEEKLY, 0.10),
        SampleGroup.MARKETING: SampleRule(Cadence.WEEKLY, 0.10),
        SampleGroup.DIGITAL_TV: SampleRule(Cadence.WEEKLY, 0.20),
        SampleGroup.OTHER: SampleRule(Cadence.YEARLY, 0.05),
    }
)

_FRIDAY = 5  # ISO weekday
_PERIOD = {
    Cadence.WEEKLY: re.compile(r"(?P<year>\d{4})-W(?P<week>\d{2})"),
    Cadence.YEARLY: re.compile(r"\d{4}"),
}
# Longer than any run of days off in China's calendar (Spring Festival is 9 days).
_SEARCH_DAYS = 60


def sample_size(n: int, fraction: float) -> int:
    """The fewest of `n` that make at least `fraction`: ceil(fraction * n), computed on the
    fraction as written (0.1 is a tenth), so 10 % of 30 is 3, never 4 from float error."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"a sample fraction is between 0 and 1, not {fraction}")
    return math.ceil(Fraction(str(fraction)) * n)


def _rank(seed: str, candidate: int) -> bytes:
    return hashlib.blake2b(f"{seed}\x00{candidate}".encode(), digest_size=16).digest()


def ranking(candidates: Sequence[int], *, seed: str) -> list[int]:
    """Every distinct candidate, in the seed's order."""
    return sorted(set(candidates), key=lambda candidate: (_rank(seed, candidate), candidate))


def sample(candidates: Sequence[int], fraction: float, *, seed: str) -> list[int]:
    """At least `fraction` of the distinct candidates, the first of the seed's ranking (in
    that order, so the next ones in `ranking` are the fair top-up if more are needed)."""
    ranked = ranking(candidates, seed=seed)
    return ranked[: sample_size(len(ranked), fraction)]


def period(day: date, cadence: Cadence) -> str:
    """The period `day` belongs to: "2026-W48" (ISO week and its year) or "2026"."""
    if cadence is Cadence.WEEKLY:
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    return f"{day.year}"


def seed(group: SampleGroup, period_label: str, *, customer_type: str | None = None) -> str:
    """The seed of `group`'s sample for a period ("2026-W48" weekly, "2026" yearly); the
    yearly sample is drawn per customer type, so its seed names the type."""
    pattern = _PERIOD[SAMPLE_RULES[group].cadence]
    if not pattern.fullmatch(period_label):
        raise ValueError(f"{period_label!r} is not a {SAMPLE_RULES[group].cadence} period")
    name = str(group)
    if group is SampleGroup.OTHER:
        if not customer_type:
            raise ValueError("the yearly sample is drawn per customer type; name the type")
        name = f"{group}.{customer_type}"
    elif customer_type is not None:
        raise ValueError(f"the {group} sample is not drawn per customer type")
    return f"{name}:{period_label}"


def _friday(week: str) -> date:
    match = _PERIOD[Cadence.WEEKLY].fullmatch(week)
    if match is None:
        raise ValueError(f"{week!r} is not an ISO week such as 2026-W48")
    return date.fromisocalendar(int(match["year"]), int(match["week"]), _FRIDAY)


def draw_day(week: str, is_working_day: Callable[[date], bool]) -> date:
    """The day `week`'s sample is drawn (at its start) and called: the week's Friday, or the
    last working day before it when Friday is a day off (the digest's reading)."""
    day = _friday(week)
    for _ in range(_SEARCH_DAYS):
        if is_working_day(day):
            return day
        day -= timedelta(days=1)
    raise ValueError(f"no working day in the {_SEARCH_DAYS} days up to {week}'s Friday")


def contacts_span(week: str, is_working_day: Callable[[date], bool]) -> tuple[date, date]:
    """The days [first, end) whose contacts are `week`'s candidates: from the previous
    week's draw day up to this one's, so every contact is in exactly one weekly sample."""
    previous = period(_friday(week) - timedelta(weeks=1), Cadence.WEEKLY)
    return draw_day(previous, is_working_day), draw_day(week, is_working_day)


def weeks_drawn_on(day: date, is_working_day: Callable[[date], bool]) -> list[str]:
    """The weeks whose sample is drawn on `day`: usually none or its own; the working day
    before a week of holidays draws that week's sample too."""
    ahead = (day + timedelta(weeks=n) for n in range(_SEARCH_DAYS // 7 + 1))
    weeks = (period(later, Cadence.WEEKLY) for later in ahead)
    return [week for week in weeks if draw_day(week, is_working_day) == day]


def yearly_draw_day(year: int, is_working_day: Callable[[date], bool]) -> date:
    """The yearly samples are drawn on the year's first working day, leaving it whole to call."""
    day = date(year, 1, 1)
    for _ in range(_SEARCH_DAYS):
        if is_working_day(day):
            return day
        day += timedelta(days=1)
    raise ValueError(f"no working day in the first {_SEARCH_DAYS} days of {year}")

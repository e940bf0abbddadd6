"""Moments on the Bazhong wall clock, written the way the standard and a person write them."""

from datetime import datetime, timedelta

from hotline.tickets.workdays import LOCAL_ZONE


def at(text: str) -> datetime:
    """at("2026-03-06 18:00") -> that moment in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_ZONE)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def hours(n: int) -> timedelta:
    return timedelta(hours=n)


def spoken(limit: timedelta) -> str:
    """A limit as the standard says it: "10 min", "4 h"."""
    whole_minutes = int(limit.total_seconds()) // 60
    return f"{whole_minutes // 60} h" if whole_minutes % 60 == 0 else f"{whole_minutes} min"

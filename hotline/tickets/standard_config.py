"""Reads the service standard's Policy from a configuration table (TOML), with a clear line
for every bad key, so one start-up shows the administrator the whole list to fix.
"""

import dataclasses
import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import time, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from hotline.errors import ConfigError
from hotline.tickets.standard import Area, Category, FaultKind, InstallKind, Policy, RepairGroup

_E = TypeVar("_E", bound=StrEnum)
_Reader = Callable[[Any, str, list[str]], Any]
_DURATION = re.compile(r"\s*(\d+)\s*(d|h|min|m|s)\s*")
_SECONDS = {"d": 86400, "h": 3600, "min": 60, "m": 60, "s": 1}


def _duration(value: Any, path: str, problems: list[str]) -> timedelta | None:
    parts = _DURATION.findall(value) if isinstance(value, str) else []
    if not parts or not re.fullmatch(f"(?:{_DURATION.pattern})+", value):
        problems.append(f'{path}: {value!r} is not a duration such as "10min", "4h" or "1h30min"')
        return None
    total = timedelta(seconds=sum(int(n) * _SECONDS[unit] for n, unit in parts))
    if total <= timedelta(0):
        problems.append(f"{path}: {value!r} must be longer than zero")
        return None
    return total


def _clock_time(value: Any, path: str, problems: list[str]) -> time | None:
    found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value) if isinstance(value, str) else None
    if found is None:
        problems.append(f'{path}: {value!r} is not a time of day written HH:MM, e.g. "17:00"')
        return None
    return time(int(found[1]), int(found[2]))


def _days(value: Any, path: str, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(f"{path}: {value!r} is not a whole number of days (1 or more)")
        return None
    return value


def _fraction(value: Any, path: str, problems: list[str]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        problems.append(f"{path}: {value!r} is not a fraction between 0 and 1, e.g. 0.8")
        return None
    return float(value)


def _unknown(path: str, key: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    close = difflib.get_close_matches(key, choices, n=1)
    hint = f"did you mean {close[0]}?" if close else f"one of: {', '.join(choices)}"
    return f"{path}.{key}: unknown key ({hint})"


def _table(keys: type[_E], read: _Reader) -> Callable[[Any, str, list[str]], dict[_E, Any]]:
    def read_table(value: Any, path: str, problems: list[str]) -> dict[_E, Any]:
        if not isinstance(value, Mapping):
            problems.append(f"{path}: must be a table of {', '.join(keys)}")
            return {}
        known = {key.value: key for key in keys}
        read_values = {}
        for name, cell in value.items():
            if name not in known:
                problems.append(_unknown(path, name, known))
            elif (parsed := read(cell, f"{path}.{name}", problems)) is not None:
                read_values[known[name]] = parsed
        return read_values

    return read_table


def _repair_cell(value: Any, path: str, problems: list[str]) -> dict[str, timedelta] | None:
    """A duration sets the fix limit; a table {fix, respond} sets either or both."""
    if not isinstance(value, Mapping):
        fix = _duration(value, path, problems)
        return None if fix is None else {"fix": fix}
    cell = {}
    for name, given in value.items():
        if name not in ("fix", "respond"):
            problems.append(_unknown(path, name, ("fix", "respond")))
        elif (parsed := _duration(given, f"{path}.{name}", problems)) is not None:
            cell[name] = parsed
    return cell


def _categories(value: Any, path: str, problems: list[str]) -> frozenset[Category] | None:
    known = {category.value for category in Category}
    names = value if isinstance(value, list | tuple) else [value]
    bad = [name for name in names if not isinstance(name, str) or name not in known]
    if bad or not isinstance(value, list | tuple):
        problems.append(f"{path}: {value!r} is not a list of: {', '.join(Category)}")
        return None
    return frozenset(Category(name) for name in names)


_READERS: dict[str, _Reader] = {
    "forward": _duration,
    "acknowledge": _duration,
    "reply": _duration,
    "repair": _table(RepairGroup, _table(FaultKind, _repair_cell)),
    "restoration": _table(Area, _duration),
    "restoration_cutoff": _table(Area, _clock_time),
    "installation_days": _table(InstallKind, _days),
    "follow_up": _duration,
    "follow_up_every": _categories,
    "warn_fraction": _fraction,
}


def read_policy(base: Policy, given: Mapping[str, Any], *, where: str) -> Policy:
    """`base` with the values in `given`; every problem found is one line of a ConfigError."""
    problems: list[str] = []
    changes: dict[str, Any] = {}
    for name, value in given.items():
        if name not in _READERS:
            problems.append(_unknown(where, name, _READERS))
        elif (parsed := _READERS[name](value, f"{where}.{name}", problems)) is not None:
            changes[name] = parsed
    if problems:
        raise ConfigError(problems)
    # Tables change only the cells given; the rest keep the standard's values.
    for name in ("restoration", "restoration_cutoff", "installation_days"):
        if name in changes:
            changes[name] = {**getattr(base, name), **changes[name]}
    if "repair" in changes:
        repair = dict(base.repair)
        for group, row in changes["repair"].items():
            for kind, cell in row.items():
                repair[group, kind] = dataclasses.replace(repair[group, kind], **cell)
        changes["repair"] = repair
    return dataclasses.replace(base, **changes)

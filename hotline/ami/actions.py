"""Values going into an AMI action: Asterisk discards input lines over 1024 bytes and ends
a line at a bare LF, so a value from outside (a caller name, a note) is cleaned first."""

from __future__ import annotations

from collections.abc import Mapping

MAX_LINE_BYTES = 1000  # Asterisk's limit is 1024 for the whole "Key: value" line


def clean_value(value: object, *, budget: int = MAX_LINE_BYTES) -> str:
    text = str(value).replace("\r", " ").replace("\n", " ").replace("\0", "")
    encoded = text.encode("utf-8")
    if len(encoded) <= budget:
        return text
    return encoded[:budget].decode("utf-8", "ignore")  # never cut a character in half


def clean_action(action: Mapping[str, object]) -> dict[str, str | list[str]]:
    """A copy of `action` safe to write to Asterisk; list values (Variable) stay lists."""
    cleaned: dict[str, str | list[str]] = {}
    for key, value in action.items():
        name = clean_value(key, budget=64).replace(":", "")
        budget = MAX_LINE_BYTES - len(name.encode()) - 2
        if isinstance(value, (list, tuple)):
            cleaned[name] = [clean_value(v, budget=budget) for v in value]
        else:
            cleaned[name] = clean_value(value, budget=budget)
    return cleaned

"""Domain events as JSON text and back, for the relay between instances (NOTIFY payloads).

Only the event types named to the codec are known; a payload of any other type, or one
that does not fit its type, is refused (CodecError), never half-read. Fields are decoded
by their annotations: datetimes from ISO 8601, enums from their values, tuples from lists.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from hotline.errors import HotlineError


class CodecError(HotlineError):
    """A relayed event could not be read."""

    error_id = "codec_error"


class EventCodec:
    def __init__(self, event_types: Iterable[type]) -> None:
        self._types = {t.__qualname__: t for t in event_types}
        self._hints = {name: typing.get_type_hints(t) for name, t in self._types.items()}

    def knows(self, event: object) -> bool:
        return self._types.get(type(event).__qualname__) is type(event)

    def encode(self, event: object, **envelope: Any) -> str:
        name = type(event).__qualname__
        if self._types.get(name) is not type(event):
            raise CodecError(f"not a relayed event type: {name}")
        fields = {f.name: plain(getattr(event, f.name)) for f in dataclasses.fields(event)}  # type: ignore[arg-type]
        return json.dumps({**envelope, "type": name, "fields": fields}, ensure_ascii=False, separators=(",", ":"))

    def decode(self, text: str) -> tuple[object, dict[str, Any]]:
        """(the event, the envelope's other keys)."""
        try:
            payload = json.loads(text)
            name, raw = payload.pop("type"), payload.pop("fields")
            event_type = self._types[name]
            hints = self._hints[name]
            values = {key: _typed(hints[key], value) for key, value in raw.items()}
            return event_type(**values), payload
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CodecError(f"unreadable relayed event: {exc}", head=text[:120]) from None


def plain(value: Any) -> Any:
    """A value as JSON can hold it (also json.dumps' `default`)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _typed(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        inner = typing.get_args(hint)
        return tuple(_typed(inner[0], v) for v in value) if inner else tuple(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is timedelta:
        return timedelta(seconds=float(value))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is float and isinstance(value, int):
        return float(value)
    return value

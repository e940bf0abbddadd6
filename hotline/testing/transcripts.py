"""Reads the recorded Asterisk transcripts (traces/*.ami) into exact message bytes for replay."""

import re
from pathlib import Path

TRACES_DIR: Path = Path(__file__).parent / "traces"

_LINE_END = b"\r\n"
_MESSAGE_END = b"\r\n\r\n"
# Events that answered the recording client's own login or actions: the double makes its
# own for its own clients, so replaying the recorded ones would duplicate them.
_SESSION_EVENTS = frozenset({"OriginateResponse", "FullyBooted"})


def split_messages(raw: bytes) -> tuple[bytes, list[bytes]]:
    """Split a transcript into its banner line and its messages, each ending in CRLF CRLF."""
    banner_end = raw.index(_LINE_END) + len(_LINE_END)
    messages: list[bytes] = []
    start = banner_end
    while (end := raw.find(_MESSAGE_END, start)) != -1:
        messages.append(raw[start : end + len(_MESSAGE_END)])
        start = end + len(_MESSAGE_END)
    if raw[start:]:
        raise ValueError(f"transcript ends inside a message: {raw[start : start + 40]!r}")
    return raw[:banner_end], messages


def headers(message: bytes) -> dict[str, str]:
    """Parse one AMI message into its headers; the first occurrence of a key wins."""
    parsed: dict[str, str] = {}
    for line in message.decode("utf-8").split("\r\n"):
        key, colon, value = line.partition(":")
        if colon and key not in parsed:
            parsed[key] = value.lstrip(" ")
    return parsed


def recorded_events(name: str) -> list[bytes]:
    """The unsolicited events of NAME.ami, exact bytes in order, without the recorder's own."""
    _, messages = split_messages((TRACES_DIR / f"{name}.ami").read_bytes())
    return [message for message in messages if _is_unsolicited_event(headers(message))]


def _is_unsolicited_event(fields: dict[str, str]) -> bool:
    event = fields.get("Event")
    return event is not None and "ActionID" not in fields and event not in _SESSION_EVENTS


def retimed(events: list[bytes], start: float) -> list[bytes]:
    """The same events moved in time so the first happens at `start` (epoch seconds): a
    recording replayed today makes today's calls, with today's deadlines. Only the values
    of the Timestamp headers change; the gaps between events stay as recorded."""
    stamps = [headers(event).get("Timestamp") for event in events]
    first = next((float(s) for s in stamps if s), None)
    if first is None:
        return list(events)
    shift = start - first
    moved = []
    for event, stamp in zip(events, stamps, strict=True):
        if stamp:
            old = f"\r\nTimestamp: {stamp}\r\n".encode()
            event = event.replace(old, f"\r\nTimestamp: {float(stamp) + shift:.6f}\r\n".encode(), 1)
        moved.append(event)
    return moved


def of_call(events: list[bytes], linkedid: str) -> list[bytes]:
    """The events of one call (Linkedid), with those that name no call (queue members,
    device states): one call picked out of a recording that holds several."""
    kept = []
    for event in events:
        found = headers(event).get("Linkedid")
        if found is None or found == linkedid:
            kept.append(event)
    return kept


def recorded_answer(name: str, ids: dict[str, str]) -> list[bytes]:
    """What Asterisk sent after the recorder's Originate in NAME.ami: every event, the
    OriginateResponse included, with each recorded id in `ids` (an ActionID, a Uniqueid)
    replaced whole by ours: the answer to our own Originate, as Asterisk would send it
    for a ChannelId (the callback-* and survey-* transcripts)."""
    _, messages = split_messages((TRACES_DIR / f"{name}.ami").read_bytes())
    pattern = re.compile(rb"(?<=: )(" + b"|".join(re.escape(k.encode()) for k in ids) + rb")(?=\r\n)")
    events = [m for m in messages if headers(m).get("Event") not in (None, "FullyBooted")]
    return [pattern.sub(lambda found: ids[found.group(1).decode()].encode(), m) for m in events]

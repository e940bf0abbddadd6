"""AMI bytes -> whole messages. Pure: frames on the blank line as bytes and decodes each
whole message as UTF-8, so a TCP read that ends inside a Chinese character loses nothing."""

from __future__ import annotations

from dataclasses import dataclass

Message = dict[str, str]

_END = b"\r\n\r\n"
_BANNER_PREFIX = b"Asterisk Call Manager/"
# Asterisk's own messages are a few KiB; a larger unterminated run is garbage, not a message.
MAX_FRAME_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class MalformedFrame:
    """A frame that is not an AMI message; logged and skipped by the reader."""

    reason: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Banner:
    version: str


Frame = Message | MalformedFrame | Banner


class AmiFramer:
    """Feed it the bytes of one connection in any chunking; it returns whole frames."""

    __slots__ = ("_buffer", "_expect_banner")

    def __init__(self, *, expect_banner: bool = True) -> None:
        self._buffer = b""
        self._expect_banner = expect_banner

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer + data if self._buffer else data
        frames: list[Frame] = []
        start = 0
        if self._expect_banner:
            start = self._take_banner(buffer, frames)
            if self._expect_banner:  # banner line not complete yet
                self._buffer = buffer
                return frames
        while True:
            end = buffer.find(_END, start)
            if end < 0:
                break
            if end > start:
                frames.append(parse_message(buffer[start:end]))
            start = end + 4
        rest = buffer[start:]
        if len(rest) > MAX_FRAME_BYTES:
            frames.append(MalformedFrame("frame too long without an end", rest[:200]))
            rest = b""
        self._buffer = rest
        return frames

    def _take_banner(self, buffer: bytes, frames: list[Frame]) -> int:
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) >= len(_BANNER_PREFIX) and not buffer.startswith(_BANNER_PREFIX):
                self._expect_banner = False  # no banner on this stream: frame it as messages
            return 0
        self._expect_banner = False
        line = buffer[:end]
        if not line.startswith(_BANNER_PREFIX):
            return 0
        frames.append(Banner(line[len(_BANNER_PREFIX):].decode("ascii", "replace")))
        return end + 2

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the end of a message."""
        return len(self._buffer)


def parse_message(raw: bytes) -> Message | MalformedFrame:
    """One framed message (without its blank line) -> headers, or why it is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return MalformedFrame(f"not UTF-8 at byte {exc.start}", raw[:200])
    message: Message = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":") and line.count(":") == 1:  # "AccountCode:" with no value
                key, value = line[:-1], ""
            elif not line:
                continue
            else:
                return MalformedFrame("line without 'Key: Value'", raw[:200])
        if key not in message:
            message[key] = value
    if "Event" not in message and "Response" not in message:
        return MalformedFrame("neither Event nor Response", raw[:200])
    return message

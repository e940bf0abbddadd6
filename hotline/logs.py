"""Logging set-up: structlog and every stdlib logger render through one handler, and the
processor that masks phone numbers and secrets runs on every line before it is written.
"""

import logging
import re
import sys
from collections.abc import Mapping
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

SECRET_MASK = "********"
_HANDLER_NAME = "hotline"
_SECRET_WORDS = ("secret", "password", "passwd", "token")

# Scanned left to right; at each place a "keep" token wins over a phone number, so
# digit runs that belong to something else are skipped whole.
_NUMBERS = re.compile(
    r"""
    (?P<keep>
        [0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}  # UUID
      | [0-9]{8}T[0-9]{4,6}                 # ISO 8601 basic date-time, 20260302T173000
      | [0-9]+(?:\.[0-9]+)+                 # Uniqueid/Linkedid 1795532957.0, decimals, IPs
      | (?<=-)0[0-9a-f]{7}(?![0-9A-Za-z])   # channel sequence, PJSIP/8001-0000001a
      | (?<=T-)[0-9]{8}-[0-9]{4}            # ticket number, T-20261125-0007
    )
  | (?<![0-9A-Za-z])                        # not the tail of an identifier such as a hash
    (?P<prefix>\+86|0086|\+|00)?
    (?P<digits>[0-9]{7,})
    (?![0-9A-Za-z]|\.[0-9])
    """,
    re.VERBOSE,
)

# "Secret: x" in an AMI action's text, "'password': 'x'" in a repr, "token=x" in a query.
_SECRET_IN_TEXT = re.compile(
    r"""(?P<key>(?<![0-9A-Za-z])[A-Za-z_]*(?:secret|passw(?:or)?d|token)["']?\s*[:=]\s*["']?)
        (?P<value>[^\s"',;&}\]\\]+)""",
    re.VERBOSE | re.IGNORECASE,
)
_URL_PASSWORD = re.compile(
    r"(?P<key>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<value>[^@\s/]+)(?=@)"
)


def mask_number(text: str) -> str:
    """`text` with every phone number masked, keeping its first 3 and last 4 digits."""
    return _NUMBERS.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    if match["keep"] is not None:
        return match[0]
    digits = match["digits"]
    # Always hide at least 4 digits, so a short local number is not shown almost whole.
    hidden = max(4, len(digits) - 7)
    tail = min(4, len(digits) - hidden)
    head = len(digits) - hidden - tail
    return f"{match['prefix'] or ''}{digits[:head]}{'*' * hidden}{digits[len(digits) - tail:]}"


def _scrub(text: str) -> str:
    text = _SECRET_IN_TEXT.sub(lambda m: m["key"] + SECRET_MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m["key"] + SECRET_MASK, text)
    return mask_number(text)


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and any(word in key.lower() for word in _SECRET_WORDS)


def _masked(value: object) -> object:
    if isinstance(value, str):
        return _scrub(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes):
        return _scrub(value.decode("utf-8", errors="replace"))
    if isinstance(value, Mapping):
        return {k: SECRET_MASK if _is_secret_key(k) else _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(item) for item in value]
    # Anything else would be rendered with its repr, so mask that repr instead: a domain
    # event logged whole must not carry the caller's number out unmasked.
    return _scrub(repr(value))


def mask_phone_numbers(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    """structlog processor: mask phone numbers in every value, hide secret-named keys.

    Must run after exceptions are formatted to text and before the renderer.
    """
    return {
        key: SECRET_MASK if _is_secret_key(key) else _masked(value)
        for key, value in event_dict.items()
    }


def configure_logging(
    *, format: str = "auto", level: str = "info", stream: TextIO | None = None
) -> None:
    """Send structlog and stdlib logging to `stream` (default stderr) as JSON or console lines."""
    stream = sys.stderr if stream is None else stream
    # Both are checked before anything changes, so a bad call leaves logging as it was.
    renderer = _renderer(format, stream)
    numeric_level = logging.getLevelNamesMapping().get(level.upper())
    if numeric_level is None:
        raise ValueError(f"unknown log level {level!r}")
    shared = _shared_processors()
    structlog.configure(
        # filter_by_level drops a line below the level before any work is done on it.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a logger cached here would keep this chain after a test resets
        # structlog, and capture_logs in a later test would miss its lines.
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(_handler(stream, shared, renderer))
    root.setLevel(numeric_level)


def _shared_processors() -> list[Processor]:
    """What both structlog's lines and the stdlib loggers' records go through first."""
    return [
        # First, so a call bound with bound_contextvars(call=...) is on every line,
        # the stdlib ones included.
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _handler(stream: TextIO, shared: list[Processor], renderer: Processor) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # Tracebacks become text before masking, so a number in one is masked too.
                structlog.processors.format_exc_info,
                mask_phone_numbers,
                renderer,
            ],
        )
    )
    return handler


def _renderer(format: str, stream: TextIO) -> Processor:
    if format == "auto":
        format = "console" if _is_tty(stream) else "json"
    if format == "json":
        return structlog.processors.JSONRenderer()
    if format == "console":
        return structlog.dev.ConsoleRenderer(colors=False)
    raise ValueError(f"unknown log format {format!r}")


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())

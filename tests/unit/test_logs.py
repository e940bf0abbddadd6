"""Logging: phone numbers and secrets never reach a log line, whoever logs them."""

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from structlog.contextvars import bound_contextvars
from structlog.testing import capture_logs

from hotline.logs import configure_logging, mask_number, mask_phone_numbers


class TerminalStream(io.StringIO):
    """A stream that says it is a terminal, as stderr does in an interactive shell."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Where configure_logging writes; logging and structlog are put back afterwards."""
    root = logging.getLogger()
    level = root.level
    yield io.StringIO()
    for handler in root.handlers[:]:
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter):
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    "text, masked",
    [
        ("13800000001", "138****0001"),
        ("08275551234", "082****1234"),
        ("+8613912345678", "+86139****5678"),
        ("008613912345678", "0086139****5678"),
        ("caller 13800000001 waits", "caller 138****0001 waits"),
        ("Local/13800000001@from-internal-0000001a;1", "Local/138****0001@from-internal-0000001a;1"),
        ("来电13800000001已接通", "来电138****0001已接通"),
        ("010-65551234", "010-****1234"),  # a local number keeps only its last 4 digits
        ("5551234", "****234"),
    ],
)
def test_a_phone_number_keeps_its_first_3_and_last_4_digits(text: str, masked: str) -> None:
    assert mask_number(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "extension 8001 answered 96655",
        "Uniqueid 1795532957.0 Linkedid 1795532957.12",
        "2026-03-02T17:30:00.123456789Z",
        "2026-03-02 17:30:00,123",
        "20260302T173000",
        "PJSIP/8001-00000012",
        "550e8400-e29b-41d4-a716-446655440000",
        "12345678-1234-1234-1234-123456789012",
        "sha 3f2a9c1234567890ab",
        "from 192.168.100.10",
    ],
)
def test_timestamps_ids_and_extensions_are_left_alone(text: str) -> None:
    assert mask_number(text) == text


def test_the_processor_masks_nested_values_and_hides_secret_keys() -> None:
    event = {
        "event": "callback.placed to 13800000001",
        "call": "1795532957.0",
        "caller": "+8613912345678",
        "Secret": "hunter2",
        "action": {"Action": "Login", "API_TOKEN": "abc", "numbers": ["13800000002", 8001]},
        "attempt": 2,
    }

    assert mask_phone_numbers(None, "info", event) == {
        "event": "callback.placed to 138****0001",
        "call": "1795532957.0",
        "caller": "+86139****5678",
        "Secret": "********",
        "action": {"Action": "Login", "API_TOKEN": "********", "numbers": ["138****0002", 8001]},
        "attempt": 2,
    }


def test_secrets_written_inside_text_are_hidden() -> None:
    event = {
        "event": "Fail to send 'Action: Login\\r\\nUsername: hotline\\r\\nSecret: hunter2\\r\\n'",
        "url": "postgresql+asyncpg://hotline:dbpass@db/hotline",
        "action": "{'password': 'pw1'}",
    }

    masked = mask_phone_numbers(None, "error", event)

    assert "hunter2" not in masked["event"] and "Secret: ********" in masked["event"]
    assert masked["url"] == "postgresql+asyncpg://hotline:********@db/hotline"
    assert masked["action"] == "{'password': '********'}"


def test_an_object_logged_whole_is_masked_in_its_repr() -> None:
    class CallOffered:
        def __repr__(self) -> str:
            return "CallOffered(caller='13800000001')"

    masked = mask_phone_numbers(None, "info", {"event": "call.offered", "call": CallOffered()})

    assert masked["call"] == "CallOffered(caller='138****0001')"


def test_the_processor_works_in_a_structlog_chain() -> None:
    with capture_logs(processors=[mask_phone_numbers]) as logs:
        structlog.get_logger().info("call.offered", caller="13800000001", queue="vip")

    assert logs == [
        {"event": "call.offered", "caller": "138****0001", "queue": "vip", "log_level": "info"}
    ]


def test_json_lines_carry_the_bound_call_and_masked_numbers(stream: io.StringIO) -> None:
    configure_logging(format="json", stream=stream)
    log = structlog.get_logger("hotline.ami.tracker")

    with bound_contextvars(call="1795532957.0"):
        log.info("call.queued", caller="13800000001", queue="vip")
    log.info("tracker.idle")

    queued, idle = json_lines(stream)
    assert queued["event"] == "call.queued"
    assert queued["call"] == "1795532957.0"
    assert queued["caller"] == "138****0001"
    assert queued["level"] == "info"
    assert queued["logger"] == "hotline.ami.tracker"
    assert str(queued["timestamp"]).endswith("Z")
    assert "call" not in idle


def test_a_stdlib_loggers_message_is_masked_and_has_the_context(stream: io.StringIO) -> None:
    configure_logging(format="json", stream=stream)

    with bound_contextvars(call="1795532957.0"):
        logging.getLogger("panoramisk.manager").warning("Originate to %s failed", "13800000001")

    [line] = json_lines(stream)
    assert line["event"] == "Originate to 138****0001 failed"
    assert line["logger"] == "panoramisk.manager"
    assert line["level"] == "warning"
    assert line["call"] == "1795532957.0"


def test_a_traceback_is_masked_too(stream: io.StringIO) -> None:
    configure_logging(format="json", stream=stream)

    try:
        raise LookupError("no customer for 13800000001")
    except LookupError:
        logging.getLogger("hotline.routing").exception("route.failed")

    [line] = json_lines(stream)
    assert "LookupError: no customer for 138****0001" in str(line["exception"])
    assert "13800000001" not in stream.getvalue()


def test_console_lines_are_readable_and_plain(stream: io.StringIO) -> None:
    configure_logging(format="console", stream=stream)

    with bound_contextvars(call="1795532957.0"):
        structlog.get_logger("hotline").info("call.answered", agent="8001", caller="13800000001")

    output = stream.getvalue()
    assert "call.answered" in output
    assert "agent=8001" in output and "call=1795532957.0" in output
    assert "caller=138****0001" in output
    assert "\x1b[" not in output
    assert len(output.splitlines()) == 1


@pytest.mark.parametrize(
    "terminal, is_json",
    [(False, True), (True, False)],
)
def test_auto_picks_console_on_a_terminal_and_json_elsewhere(
    stream: io.StringIO, terminal: bool, is_json: bool
) -> None:
    output = TerminalStream() if terminal else stream

    configure_logging(format="auto", stream=output)
    structlog.get_logger().info("service.started")

    assert output.getvalue().startswith("{") is is_json


def test_configuring_twice_leaves_one_handler(stream: io.StringIO) -> None:
    configure_logging(format="json", stream=stream)
    configure_logging(format="json", stream=stream)

    structlog.get_logger().info("service.started")

    assert len(json_lines(stream)) == 1


def test_lines_below_the_level_are_dropped(stream: io.StringIO) -> None:
    configure_logging(format="json", level="warning", stream=stream)

    structlog.get_logger().info("call.offered")
    logging.getLogger("aiohttp.access").info("GET /")
    structlog.get_logger().warning("ami.disconnected")

    assert [line["event"] for line in json_lines(stream)] == ["ami.disconnected"]


@pytest.mark.parametrize("options", [{"format": "xml"}, {"level": "loud"}])
def test_a_bad_option_is_refused_before_anything_changes(
    stream: io.StringIO, options: dict[str, str]
) -> None:
    handlers = logging.getLogger().handlers[:]

    with pytest.raises(ValueError):
        configure_logging(stream=stream, **options)

    assert logging.getLogger().handlers == handlers


def test_ticket_numbers_are_not_taken_for_phone_numbers() -> None:
    from hotline.logs import mask_number

    assert mask_number("ticket T-20261125-0007 for 13800000001") == "ticket T-20261125-0007 for 138****0001"

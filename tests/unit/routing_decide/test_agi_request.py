"""The pure parts of the FastAGI adapter: header block -> request -> caller; route -> variables."""

from __future__ import annotations

import pytest

from hotline.routing.agi import agi_value, parse_request
from hotline.routing.answer import caller_of, route_variables
from hotline.routing.decide import Caller, Route
from tests.integration.agi.asterisk import read_trace

ZHANG_SAN, _, WITHHELD, _, _ = read_trace("fastagi-callers")
KEEP_PLACE = read_trace("keep-place")[2]


def digits_only(raw: str) -> str:
    if not raw.isdigit():
        raise ValueError("not digits")
    return raw


def test_a_recorded_header_block_is_a_route_request() -> None:
    request = parse_request(ZHANG_SAN.headers)

    assert request is not None
    assert (request.script, request.args) == ("route", ())
    assert request.known("calleridname") == "张三"
    assert request.known("dnid") is None  # Asterisk's "unknown"
    assert request.known("accountcode") is None


def test_keep_place_carries_its_arguments_in_order() -> None:
    request = parse_request(KEEP_PLACE.headers)

    assert request is not None
    assert (request.script, request.args) == ("keep_place", ("hotline", "2"))


def test_the_script_comes_from_the_request_url_when_network_script_is_missing() -> None:
    block = b"agi_network: yes\nagi_request: agi://127.0.0.1:4573/route?x=1\n\n"

    assert parse_request(block).script == "route"


@pytest.mark.parametrize(
    "block",
    [b"\n\n", b"hello world\n\n", b"agi_network: yes\nGET / HTTP/1.1\n\n", b"agi_network: yes\n\n", b"\xff\xfe\n\n"],
)
def test_anything_but_an_agi_header_block_is_refused(block) -> None:
    assert parse_request(block) is None


@pytest.mark.parametrize(
    "callerid, callingpres, number",
    [
        ("13912345678", "0", "13912345678"),
        ("unknown", "67", None),  # as Asterisk 22 sent it for a withheld number
        ("13912345678", "32", None),  # presentation restricted: not looked up
        ("13912345678", "67", None),
        ("anonymous", "0", None),
        ("", "0", None),
        ("13912345678", "junk", "13912345678"),
    ],
)
def test_the_callers_number_is_read_unless_withheld(callerid, callingpres, number) -> None:
    session = ZHANG_SAN.with_headers(callerid=callerid, callingpres=callingpres)

    caller = caller_of(parse_request(session.headers), digits_only)

    assert caller == Caller(number, "张三", "Local/96655@hotline-in-0000000f;2", "1795544601.31")


def test_a_junk_number_is_refused_by_the_normaliser() -> None:
    with pytest.raises(ValueError):
        caller_of(parse_request(ZHANG_SAN.with_headers(callerid="139-x").headers), digits_only)


@pytest.mark.parametrize(
    "value, sent",
    [
        ("vip", "vip"),
        (10, "10"),
        ('a"b', "ab"),
        ("a\\b", "ab"),
        ("a\r\nb\x00c", "a  bc"),
        ("张三" * 100, "张三" * 42 + "张"),  # 255 bytes at most, never half a character
    ],
)
def test_a_value_is_made_safe_inside_a_quoted_agi_argument(value, sent) -> None:
    assert agi_value(value) == sent
    assert len(agi_value(value).encode()) <= 255


def test_only_the_variables_that_are_set_are_sent() -> None:
    bare = Route("hotline", 0, "regular", None, None, "abc", "unknown", fallback=False)
    full = Route("key-account", 10, "key_account", "4", "8005", "abc", "", fallback=False)

    assert route_variables(bare) == [
        ("HOTLINE_QUEUE", "hotline"), ("QUEUE_PRIO", "0"), ("HOTLINE_TIER", "regular"), ("HOTLINE_CALL", "abc"),
    ]
    assert dict(route_variables(full))["HOTLINE_FIRST_TRY"] == "8005"
    assert dict(route_variables(full))["HOTLINE_CUSTOMER"] == "4"

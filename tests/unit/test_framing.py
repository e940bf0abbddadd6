"""Framing AMI bytes: whole messages, UTF-8 decoded per message, under any chunking."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.ami.framing import AmiFramer, Banner, MalformedFrame, parse_message
from hotline.testing.replay import chunks
from hotline.testing.transcripts import TRACES_DIR

CHINESE = (TRACES_DIR / "chinese-names.ami").read_bytes()


def _frames(pieces: list[bytes]) -> list[object]:
    framer = AmiFramer()
    out: list[object] = []
    for piece in pieces:
        out += framer.feed(piece)
    return out


def test_banner_then_messages() -> None:
    frames = _frames([b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\n"])
    assert frames == [Banner("11.0.0"), {"Response": "Success", "ActionID": "1"}]


def test_a_read_ending_inside_a_chinese_character_loses_nothing() -> None:
    cut = CHINESE.index("张三".encode()) + 1  # inside the first character's three bytes
    names = [f.get("CallerIDName") for f in _frames([CHINESE[:cut], CHINESE[cut:]]) if isinstance(f, dict)]
    assert "张三" in names
    assert "三" not in names


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(CHINESE) - 1), max_size=40))
def test_any_chunking_gives_the_same_messages(cuts: list[int]) -> None:
    assert _frames(chunks(CHINESE, cuts)) == _frames([CHINESE])


def test_byte_by_byte_gives_the_same_messages() -> None:
    one_by_one = [CHINESE[i : i + 1] for i in range(len(CHINESE))]
    assert _frames(one_by_one) == _frames([CHINESE])


def test_empty_header_value_is_kept() -> None:
    assert parse_message(b"Event: Newchannel\r\nAccountCode: \r\nLanguage: en") == {"Event": "Newchannel", "AccountCode": "", "Language": "en"}


def test_garbage_is_reported_and_the_next_message_still_arrives() -> None:
    framer = AmiFramer(expect_banner=False)
    frames = framer.feed(b"\xff\xfe\x00garbage\r\n\r\nno colon here\r\n\r\nEvent: Ping\r\n\r\n")
    assert [type(f) for f in frames] == [MalformedFrame, MalformedFrame, dict]
    assert frames[2] == {"Event": "Ping"}


def test_a_frame_that_never_ends_is_dropped_not_kept_forever() -> None:
    framer = AmiFramer(expect_banner=False)
    frames = framer.feed(b"Event: X\r\n" + b"A: " + b"x" * 300_000)
    assert isinstance(frames[-1], MalformedFrame)
    assert framer.pending == 0
    assert framer.feed(b"Event: Y\r\n\r\n") != []

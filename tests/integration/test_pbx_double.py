"""The PBX double over real TCP: it must speak AMI the way the recorded Asterisk 22 did."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable

import pytest

from hotline.testing.pbx import BANNER, PbxDouble
from hotline.testing.transcripts import TRACES_DIR, headers, recorded_events, split_messages

SECRET = "s3cret"
READ_TIMEOUT = 3.0


class RawAmiClient:
    """A bare AMI client: writes actions, reads whole messages, nothing else."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> RawAmiClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        assert await client.read_exactly(len(BANNER)) == BANNER
        return client

    @classmethod
    async def logged_in(cls, port: int) -> RawAmiClient:
        client = await cls.connect(port)
        await client.login()
        return client

    def send(self, *pairs: tuple[str, str]) -> None:
        lines = "".join(f"{key}: {value}\r\n" for key, value in pairs)
        self.writer.write(lines.encode("utf-8") + b"\r\n")

    async def login(self, secret: str = SECRET) -> dict[str, str]:
        self.send(("Action", "Login"), ("ActionID", "login-1"), ("Username", "hotline"),
                  ("Secret", secret), ("Events", "on"))  # fmt: skip
        response = headers(await self.read_message())
        if response["Response"] == "Success":
            assert headers(await self.read_message())["Event"] == "FullyBooted"
        return response

    async def read_message(self) -> bytes:
        async with asyncio.timeout(READ_TIMEOUT):
            return await self.reader.readuntil(b"\r\n\r\n")

    async def read_exactly(self, size: int) -> bytes:
        async with asyncio.timeout(READ_TIMEOUT):
            return await self.reader.readexactly(size)

    async def read_to_eof(self) -> bytes:
        async with asyncio.timeout(READ_TIMEOUT):
            return await self.reader.read()

    async def read_list(self, action: str, action_id: str) -> list[dict[str, str]]:
        """Send a list action; return its items (the response and Complete event left out)."""
        self.send(("Action", action), ("ActionID", action_id))
        assert headers(await self.read_message())["Response"] == "Success"
        items = []
        while not (item := headers(await self.read_message()))["Event"].endswith("Complete"):
            items.append(item)
        return items

    async def resync(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        channels = await self.read_list("CoreShowChannels", "resync-channels")
        queues = await self.read_list("QueueStatus", "resync-queues")
        return channels, queues

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@pytest.fixture
async def pbx() -> AsyncIterator[PbxDouble]:
    double = PbxDouble(secret=SECRET)
    await double.start()
    yield double
    await double.stop()


@pytest.fixture
async def client(pbx: PbxDouble) -> AsyncIterator[RawAmiClient]:
    connected = await RawAmiClient.logged_in(pbx.port)
    yield connected
    await connected.close()


def _one_byte_writes(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def _random_writes(seed: int) -> Callable[[bytes], list[bytes]]:
    rng = random.Random(seed)

    def split(data: bytes) -> list[bytes]:
        cuts = sorted(rng.sample(range(1, len(data)), k=min(3, len(data) - 1)))
        return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]

    return split


def _recorded(name: str) -> list[bytes]:
    return split_messages((TRACES_DIR / f"{name}.ami").read_bytes())[1]


def _recorded_actions(name: str) -> list[list[tuple[str, str]]]:
    """NAME.actions as header pairs per action, the masked secret put back."""
    text = (TRACES_DIR / f"{name}.actions").read_text("utf-8")
    actions = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#")]
        pairs = [tuple(line.split(": ", 1)) for line in lines]
        if pairs:
            actions.append([(k, SECRET if k == "Secret" else v) for k, v in pairs])
    return actions


# -- session -----------------------------------------------------------------------------


async def test_greets_with_the_asterisk_22_banner(pbx: PbxDouble) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", pbx.port)
    assert await asyncio.wait_for(reader.readline(), READ_TIMEOUT) == (
        b"Asterisk Call Manager/11.0.0\r\n"
    )
    writer.close()
    await writer.wait_closed()


async def test_right_secret_is_accepted_then_fully_booted(pbx: PbxDouble) -> None:
    client = await RawAmiClient.connect(pbx.port)
    client.send(("Action", "Login"), ("ActionID", "a1"), ("Username", "hotline"),
                ("Secret", SECRET))  # fmt: skip
    assert await client.read_message() == (
        b"Response: Success\r\nActionID: a1\r\nMessage: Authentication accepted\r\n\r\n"
    )
    booted = headers(await client.read_message())
    assert list(booted) == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
    assert booted["Status"] == "Fully Booted"
    assert (pbx.logins, pbx.failed_logins, pbx.connections) == (1, 0, 1)
    await client.close()


async def test_wrong_secret_is_refused_and_the_connection_closed(pbx: PbxDouble) -> None:
    client = await RawAmiClient.connect(pbx.port)
    client.send(("Action", "Login"), ("ActionID", "a1"), ("Username", "hotline"),
                ("Secret", "guess"))  # fmt: skip
    assert await client.read_to_eof() == (
        b"Response: Error\r\nActionID: a1\r\nMessage: Authentication failed\r\n\r\n"
    )
    assert (pbx.logins, pbx.failed_logins) == (0, 1)
    await client.close()


async def test_actions_before_login_are_denied(pbx: PbxDouble) -> None:
    client = await RawAmiClient.connect(pbx.port)
    client.send(("Action", "CoreShowChannels"), ("ActionID", "early"))
    assert await client.read_message() == (
        b"Response: Error\r\nActionID: early\r\nMessage: Permission denied\r\n\r\n"
    )
    await client.close()


async def test_actions_are_recorded_with_the_secret_masked(pbx: PbxDouble) -> None:
    client = await RawAmiClient.logged_in(pbx.port)
    client.send(("Action", "Ping"), ("ActionID", "p1"))
    await client.read_message()
    assert pbx.actions == [
        {"Action": "Login", "ActionID": "login-1", "Username": "hotline",
         "Secret": "********", "Events": "on"},
        {"Action": "Ping", "ActionID": "p1"},
    ]  # fmt: skip
    await client.close()


async def test_ping_answers_pong_at_the_time_of_the_last_event(
    pbx: PbxDouble, client: RawAmiClient
) -> None:
    events = recorded_events("answered-regular")[:5]
    pbx.play(events)
    await client.read_exactly(sum(map(len, events)))
    client.send(("Action", "Ping"), ("ActionID", "rec-42"))
    reply = headers(await client.read_message())
    assert list(reply) == ["Response", "ActionID", "Ping", "Timestamp"]
    assert reply["Ping"] == "Pong"
    assert reply["Timestamp"] == headers(events[-1])["Timestamp"]


async def test_bad_actions_are_answered_as_asterisk_answered_them(pbx: PbxDouble) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", pbx.port)
    client = RawAmiClient(reader, writer)
    for action in _recorded_actions("bad-actions"):
        client.send(*action)
    received = await client.read_to_eof()
    banner, messages = split_messages(received)
    recorded_banner, recorded = split_messages((TRACES_DIR / "bad-actions.ami").read_bytes())
    assert banner == recorded_banner
    # FullyBooted's Uptime is the PBX's own; every other byte must be the same.
    assert messages[:1] + messages[2:] == recorded[:1] + recorded[2:]
    assert headers(messages[1]).keys() == headers(recorded[1]).keys()
    await client.close()


async def test_logoff_says_goodbye_and_closes(client: RawAmiClient) -> None:
    client.send(("Action", "Logoff"), ("ActionID", "bye"))
    assert await client.read_to_eof() == (
        b"Response: Goodbye\r\nActionID: bye\r\nMessage: Thanks for all the fish.\r\n\r\n"
    )


# -- replay -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chunking",
    [None, _one_byte_writes, _random_writes(seed=7)],
    ids=["one-write-per-message", "byte-by-byte", "random-splits"],
)
async def test_replay_delivers_the_recorded_event_bytes_in_order(
    pbx: PbxDouble, client: RawAmiClient, chunking: Callable[[bytes], list[bytes]] | None
) -> None:
    pbx.chunking = chunking
    events = recorded_events("answered-regular")
    pbx.play(events)
    await pbx.wait_sent()
    assert await client.read_exactly(sum(map(len, events))) == b"".join(events)


def test_recorded_events_leave_out_what_answered_the_recording_client() -> None:
    for path in TRACES_DIR.glob("*.ami"):
        banner, messages = split_messages(path.read_bytes())
        assert banner + b"".join(messages) == path.read_bytes()
        events = recorded_events(path.stem)
        kept = [headers(event) for event in events]
        assert all("Event" in fields and "ActionID" not in fields for fields in kept)
        assert not {"OriginateResponse", "FullyBooted"} & {fields["Event"] for fields in kept}
        assert all(event in messages for event in events)


async def test_events_reach_every_logged_in_client(pbx: PbxDouble, client: RawAmiClient) -> None:
    other = await RawAmiClient.logged_in(pbx.port)
    events = recorded_events("survey-dtmf")
    pbx.play(events)
    expected = b"".join(events)
    assert await client.read_exactly(len(expected)) == expected
    assert await other.read_exactly(len(expected)) == expected
    await other.close()


async def test_garbage_passes_through_between_events(pbx: PbxDouble, client: RawAmiClient) -> None:
    events = recorded_events("answered-regular")[:3]
    garbage = b"\xff\xfe garbage\r\nno colon line\r\n\r\n"
    pbx.play(events[:2])
    pbx.send_garbage(garbage)
    pbx.play(events[2:])
    expected = events[0] + events[1] + garbage + events[2]
    assert await client.read_exactly(len(expected)) == expected


async def test_events_wait_for_a_logged_in_client(pbx: PbxDouble) -> None:
    events = recorded_events("answered-regular")[:4]
    pbx.play(events)
    with pytest.raises(TimeoutError):
        await pbx.wait_sent(timeout=0.05)
    client = await RawAmiClient.logged_in(pbx.port)
    await pbx.wait_sent()
    assert await client.read_exactly(sum(map(len, events))) == b"".join(events)
    await client.close()


# -- the snapshot a reconnecting client resyncs from ---------------------------------------


def _resync_snapshot_before_the_list_actions() -> tuple[list[bytes], list[bytes]]:
    """resync-snapshot.ami's events up to its CoreShowChannels, and the recorded answers."""
    messages = _recorded("resync-snapshot")
    first_answer = next(i for i, m in enumerate(messages) if b"ActionID: rec-39" in m)
    before = set(messages[:first_answer])
    played = [event for event in recorded_events("resync-snapshot") if event in before]
    return played, messages[first_answer:]


def _answer_items(messages: list[bytes], action_id: str, event: str) -> list[dict[str, str]]:
    items = [headers(message) for message in messages]
    return [i for i in items if i.get("ActionID") == action_id and i.get("Event") == event]


def _keyed(items: list[dict[str, str]], *keys: str) -> set[tuple[str, ...]]:
    return {tuple(item[key] for key in keys) for item in items}


CHANNEL_KEYS = ("Channel", "Uniqueid", "Linkedid", "Context", "Exten", "BridgeId")
ENTRY_KEYS = ("Queue", "Position", "Uniqueid")


async def test_resync_lists_the_channels_and_callers_the_recording_showed(
    pbx: PbxDouble, client: RawAmiClient
) -> None:
    played, answers = _resync_snapshot_before_the_list_actions()
    pbx.play(played)
    await pbx.wait_sent()
    await client.read_exactly(sum(map(len, played)))

    channels, queues = await client.resync()

    recorded_channels = _answer_items(answers, "rec-39", "CoreShowChannel")
    assert _keyed(channels, *CHANNEL_KEYS) == _keyed(recorded_channels, *CHANNEL_KEYS)
    assert all(list(c) == list(recorded_channels[0]) for c in channels)  # same fields, order
    entries = [item for item in queues if item["Event"] == "QueueEntry"]
    recorded_entries = _answer_items(answers, "rec-40", "QueueEntry")
    assert _keyed(entries, *ENTRY_KEYS) == _keyed(recorded_entries, *ENTRY_KEYS)
    members = [item for item in queues if item["Event"] == "QueueMember"]
    member_keys = ("Queue", "Name", "Location", "Status", "Paused", "PausedReason", "InCall")
    recorded_members = _answer_items(answers, "rec-40", "QueueMember")
    assert _keyed(members, *member_keys) == _keyed(recorded_members, *member_keys)


async def test_vip_caller_is_listed_with_its_queue_priority(
    pbx: PbxDouble, client: RawAmiClient
) -> None:
    events = recorded_events("answered-vip")
    joined = next(i for i, e in enumerate(events) if b"Event: QueueCallerJoin" in e)
    pbx.play(events[: joined + 1])
    await client.read_exactly(sum(map(len, events[: joined + 1])))
    _, queues = await client.resync()
    [entry] = [item for item in queues if item["Event"] == "QueueEntry"]
    assert (entry["Queue"], entry["Priority"], entry["CallerIDNum"]) == ("vip", "10", "13800000001")


# -- faults --------------------------------------------------------------------------------


def _inside_a_chinese_character(event: bytes) -> int:
    return event.index("张".encode()) + 1  # after the first of its three bytes


def _inside_a_line(event: bytes) -> int:
    return event.index(b"Channel: ") + 4


def _between_the_two_crlfs(event: bytes) -> int:
    return len(event) - 2


@pytest.mark.parametrize(
    "cut_at",
    [_inside_a_chinese_character, _inside_a_line, _between_the_two_crlfs],
    ids=["inside-a-chinese-character", "inside-a-line", "between-the-two-crlfs"],
)
async def test_cut_delivers_the_prefix_then_replay_resumes_after_resync(
    pbx: PbxDouble, client: RawAmiClient, cut_at: Callable[[bytes], int]
) -> None:
    events = recorded_events("chinese-names")
    cut_in = next(i for i, event in enumerate(events) if "张".encode() in event)
    before = b"".join(events[:cut_in])
    offset = len(before) + cut_at(events[cut_in])
    pbx.cut_after(offset, lose=2)
    pbx.play(events)

    assert await client.read_to_eof() == (before + events[cut_in])[:offset]

    again = await RawAmiClient.logged_in(pbx.port)
    with pytest.raises(TimeoutError):  # nothing before the resync
        async with asyncio.timeout(0.05):
            await again.reader.readuntil(b"\r\n\r\n")
    channels, _ = await again.resync()
    lost_caller_id = headers(events[cut_in])  # applied to the PBX although never sent
    [renamed] = [c for c in channels if c["Uniqueid"] == lost_caller_id["Uniqueid"]]
    assert renamed["CallerIDName"] == "张三"
    assert await again.read_message() == events[cut_in + 3]
    await pbx.wait_sent()
    rest = b"".join(events[cut_in + 4 :])
    assert await again.read_exactly(len(rest)) == rest
    await again.close()


async def test_replay_resumes_after_a_grace_when_the_client_skips_resync(
    pbx: PbxDouble, client: RawAmiClient
) -> None:
    pbx.resync_grace = 0.05
    events = recorded_events("survey-dtmf")
    pbx.cut_after(len(events[0]) + 10)
    pbx.play(events)
    assert await client.read_to_eof() == (events[0] + events[1])[: len(events[0]) + 10]
    again = await RawAmiClient.logged_in(pbx.port)
    assert await again.read_message() == events[2]
    await again.close()


async def test_dropped_connections_resume_after_relogin_and_resync(
    pbx: PbxDouble, client: RawAmiClient
) -> None:
    events = recorded_events("answered-regular")
    pbx.play(events[:10])
    await client.read_exactly(sum(map(len, events[:10])))
    pbx.drop_connections()
    pbx.play(events[10:])
    assert await client.read_to_eof() == b""
    assert pbx.connections == 1

    again = await RawAmiClient.logged_in(pbx.port)
    await again.resync()
    rest = b"".join(events[10:])
    assert await again.read_exactly(len(rest)) == rest
    assert (pbx.connections, pbx.logins) == (2, 2)
    await again.close()


async def test_a_client_vanishing_mid_replay_does_not_stop_the_double(
    pbx: PbxDouble, client: RawAmiClient
) -> None:
    pbx.chunking = _one_byte_writes
    events = recorded_events("answered-regular")
    pbx.play(events)
    await client.read_exactly(100)
    client.writer.transport.abort()
    later = await RawAmiClient.logged_in(pbx.port)
    await pbx.wait_sent()
    received = b""  # the events from its login on: some, then all the rest, whole
    while not received.endswith(events[-1]):
        received += await later.read_message()
    assert received in b"".join(events)
    assert received.startswith(b"Event: ")
    await later.close()


# -- Originate -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number, outcome, response, reason",
    [
        ("13912345678", "answer", "Success", "4"),
        ("13900000486", "busy", "Failure", "5"),
        ("13900000408", "noanswer", "Failure", "3"),
    ],
)
async def test_originate_reports_its_outcome_with_the_action_id(
    pbx: PbxDouble,
    client: RawAmiClient,
    number: str,
    outcome: str,
    response: str,
    reason: str,
) -> None:
    pbx.originate_outcomes[number] = outcome
    client.send(("Action", "Originate"), ("ActionID", "cb-1"),
                ("Channel", f"Local/{number}@customers"), ("Context", "hotline-survey"),
                ("Exten", "s"), ("Priority", "1"), ("CallerID", '"96655" <96655>'),
                ("Async", "true"), ("ChannelId", "cb-T-1002-1"))  # fmt: skip
    assert await client.read_message() == (
        b"Response: Success\r\nActionID: cb-1\r\nMessage: Originate successfully queued\r\n\r\n"
    )
    event = headers(await client.read_message())
    recorded = headers(next(m for m in _recorded("callback-busy-and-noanswer")
                            if b"Event: OriginateResponse" in m))  # fmt: skip
    assert list(event) == list(recorded)
    assert (event["ActionID"], event["Response"], event["Reason"]) == ("cb-1", response, reason)
    assert event["Uniqueid"] == "cb-T-1002-1"
    assert event["Channel"].startswith(f"Local/{number}@customers")
    assert (event["CallerIDNum"], event["CallerIDName"]) == ("96655", "96655")


async def test_originate_without_channel_id_fails_with_unknown_uniqueid(
    pbx: PbxDouble, client: RawAmiClient
) -> None:
    pbx.originate_outcomes["13900000486"] = "busy"
    client.send(("Action", "Originate"), ("ActionID", "rec-28"),
                ("Channel", "Local/13900000486@customers"), ("Context", "hotline-survey"),
                ("Exten", "s"), ("Priority", "1"), ("CallerID", '"96655" <96655>'),
                ("Async", "true"))  # fmt: skip
    await client.read_message()
    event = headers(await client.read_message())
    recorded = headers(next(m for m in _recorded("callback-busy-and-noanswer")
                            if b"Event: OriginateResponse" in m))  # fmt: skip
    del event["Timestamp"], recorded["Timestamp"]
    assert event == recorded


async def test_originate_to_an_unknown_technology_is_refused(client: RawAmiClient) -> None:
    client.send(("Action", "Originate"), ("ActionID", "o1"), ("Channel", "Bogus/123"),
                ("Context", "hotline-survey"), ("Exten", "s"), ("Priority", "1"),
                ("Async", "true"))  # fmt: skip
    assert await client.read_message() == (
        b"Response: Error\r\nActionID: o1\r\nMessage: Extension does not exist.\r\n\r\n"
    )


# -- shutdown ------------------------------------------------------------------------------


async def test_stop_closes_every_client_and_leaves_no_task_running() -> None:
    pbx = PbxDouble(secret=SECRET)
    await pbx.start()
    client = await RawAmiClient.logged_in(pbx.port)
    half = await RawAmiClient.connect(pbx.port)
    half.writer.write(b"Action: Ping\r\nActionID: unfinished")
    pbx.play(recorded_events("answered-regular"))
    client.send(("Action", "Originate"), ("ActionID", "late"), ("Channel", "Local/1@customers"),
                ("Context", "hotline-survey"), ("Exten", "s"), ("Async", "true"))  # fmt: skip
    await pbx.stop()
    await client.read_to_eof()  # returns: the link ended in EOF, not a hang
    assert await half.read_to_eof() == b""
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", pbx.port)
    await client.close()
    await half.close()

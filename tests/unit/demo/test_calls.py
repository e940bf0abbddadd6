"""The demo's callers: a call made from a recording carries the demo customer's number and
name, fresh ids no other call shares, the routed queue, and the recording's pace; the
routing's FastAGI answer is read as Asterisk reads it; the accelerated clock runs its speed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from hotline.clock import AcceleratedClock, FakeClock
from hotline.demo.calls import SCENARIOS, Caller, Ids, _variables_set, call_events, stamped
from hotline.testing.transcripts import headers

CALLER = Caller("13300000010", "吴十")
CLOCK = FakeClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.kind)
def test_a_call_has_the_customers_number_and_name_and_ids_of_its_own(scenario: object) -> None:
    ids = Ids(CLOCK)
    first, second = call_events(scenario, CALLER, ids), call_events(scenario, CALLER, ids)  # type: ignore[arg-type]
    texts = [e for _, e in first]
    assert not any(scenario.number in t or scenario.name in t for t in texts)  # type: ignore[attr-defined]
    assert any(f"CallerIDNum: {CALLER.number}\r\n".encode() in t for t in texts)
    assert any(f"CallerIDName: {CALLER.name}\r\n".encode() in t for t in texts)
    ids_of = lambda events: {headers(e).get(k) for _, e in events for k in ("Uniqueid", "Linkedid")} - {None}  # noqa: E731
    assert ids_of(first) and not ids_of(first) & ids_of(second)
    assert all(i.startswith(str(int(CLOCK.now().timestamp()))) for i in ids_of(first))
    offsets = [after for after, _ in first]
    assert offsets == sorted(offsets) and offsets[0] == 0 and offsets[-1] > 1  # the recording's pace


def test_a_call_goes_to_the_routed_queue() -> None:
    regular = next(s for s in SCENARIOS if s.kind == "answered")
    queues = {headers(e).get("Queue") for _, e in call_events(regular, CALLER, Ids(CLOCK), "key-account")} - {None}
    assert queues == {"key-account"}


def test_stamped_sets_the_timestamp_only() -> None:
    event = b"Event: Newchannel\r\nTimestamp: 1795512345.000001\r\nUniqueid: 1795512345.12\r\n\r\n"
    assert stamped(event, 1800000000.5) == b"Event: Newchannel\r\nTimestamp: 1800000000.500000\r\nUniqueid: 1795512345.12\r\n\r\n"


@pytest.mark.parametrize(
    ("command", "variables"),
    [
        ('EXEC Set "ARRAY(HOTLINE_QUEUE,QUEUE_PRIO,HOTLINE_TIER)=vip,10,vip"', {"HOTLINE_QUEUE": "vip", "QUEUE_PRIO": "10", "HOTLINE_TIER": "vip"}),
        ('SET VARIABLE HOTLINE_QUEUE "hotline"', {"HOTLINE_QUEUE": "hotline"}),
        ("ANSWER", {}),
    ],
)
def test_the_routing_answer_is_read_as_asterisk_applies_it(command: str, variables: dict[str, str]) -> None:
    assert _variables_set(command) == variables


async def test_the_accelerated_clock_runs_its_speed_and_sleeps_in_real_time_divided() -> None:
    real = [100.0]
    clock = AcceleratedClock(60, monotonic=lambda: real[0])
    start = clock.now()
    real[0] += 2
    assert (clock.now() - start).total_seconds() == pytest.approx(120)
    fast = AcceleratedClock(1000)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await fast.sleep_until(fast.now() + timedelta(seconds=50))
    assert loop.time() - began < 0.3  # 50 s of demo time: 0.05 s
    with pytest.raises(ValueError):
        AcceleratedClock(0)

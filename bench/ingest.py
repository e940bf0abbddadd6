"""Ingest benchmark: a long stream built from the real transcripts (>= 100,000 events) through
framing, tracking and persistence, beside panoramisk 1.4's own parse-only rate.

    .venv/bin/python bench/ingest.py [--events 100000] [--database-url URL]

Targets (issue "Capture every 96655 call"): the whole path at >= 0.5x panoramisk's parse-only
rate with persistence on; framing + tracking alone faster than panoramisk's parse-only rate.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from panoramisk.ami_protocol import AMIProtocol  # noqa: E402

from bench.streams import BANNER, long_stream, reads  # noqa: E402
from hotline.ami.framing import AmiFramer, Banner, MalformedFrame  # noqa: E402
from hotline.ami.tracker import CallTracker  # noqa: E402
from hotline.calls.capture import BATCH, CallCapture  # noqa: E402
from hotline.calls.store import CallStore  # noqa: E402
from hotline.db.engine import create_engine  # noqa: E402
from hotline.db.migrate import upgrade  # noqa: E402
from hotline.events import EventBus  # noqa: E402
from hotline.metrics import Metrics  # noqa: E402


class _Factory:
    """What AMIProtocol needs around it to parse and dispatch, doing nothing with events."""

    def __init__(self) -> None:
        self.events = 0
        self.forgetable_actions: tuple[str, ...] = ()
        self.awaiting_actions: list[Any] = []

    def dispatch(self, message: Any) -> None:
        self.events += 1


class _Transport:
    def close(self) -> None:
        pass


def panoramisk_parse_only(chunks: list[bytes]) -> tuple[float, int]:
    protocol = AMIProtocol()
    protocol.connection_made(_Transport())
    factory = _Factory()
    protocol.factory = factory
    protocol.encoding = "utf-8"
    start = time.perf_counter()
    for chunk in chunks:
        protocol.data_received(chunk)
    return time.perf_counter() - start, factory.events


def framing_and_tracking(chunks: list[bytes]) -> tuple[float, int, int]:
    framer, tracker = AmiFramer(), CallTracker({"96655"})
    messages = call_events = 0
    start = time.perf_counter()
    for chunk in chunks:
        for frame in framer.feed(chunk):
            if type(frame) is dict:
                messages += 1
                call_events += len(tracker.feed(frame))
            elif isinstance(frame, (MalformedFrame, Banner)):
                pass
    return time.perf_counter() - start, messages, call_events


async def whole_path(chunks: list[bytes], url: str) -> tuple[float, int, int]:
    await upgrade(url)
    engine = create_engine(url)
    store = CallStore(engine)
    capture = CallCapture(CallTracker({"96655"}), store, EventBus(), Metrics())
    framer = AmiFramer()
    pending: list[Any] = []
    messages = 0
    start = time.perf_counter()
    for chunk in chunks:
        for frame in framer.feed(chunk):
            if type(frame) is dict:
                messages += 1
                pending.append(frame)
                if len(pending) >= BATCH:
                    await capture.handle(pending)
                    pending = []
    await capture.handle(pending)
    elapsed = time.perf_counter() - start
    calls = await store.count()
    await engine.dispose()
    return elapsed, messages, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()
    import logging

    logging.disable(logging.CRITICAL)  # measure the pipeline, not the log sink
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    stream, events = long_stream(args.events)
    chunks = reads(BANNER + stream)
    print(f"stream: {events} events, {len(stream) / 1e6:.1f} MB, {len(chunks)} reads of 4096 bytes")
    p_time, p_events = panoramisk_parse_only(chunks)
    p_rate = p_events / p_time
    print(f"panoramisk 1.4 parse only:        {p_rate:>10,.0f} events/s  ({p_events} messages in {p_time:.2f} s)")
    f_time, f_messages, f_calls = framing_and_tracking(chunks)
    f_rate = f_messages / f_time
    print(f"framing + tracking:               {f_rate:>10,.0f} events/s  ({f_calls} call events)  = {f_rate / p_rate:.2f}x panoramisk")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        w_time, w_messages, w_calls = asyncio.run(whole_path(chunks, url))
    w_rate = w_messages / w_time
    print(f"framing + tracking + persistence: {w_rate:>10,.0f} events/s  ({w_calls} calls stored)  = {w_rate / p_rate:.2f}x panoramisk")
    print(f"targets: framing+tracking > 1.0x: {'met' if f_rate > p_rate else 'MISSED'}; whole path >= 0.5x: {'met' if w_rate >= 0.5 * p_rate else 'MISSED'}")


if __name__ == "__main__":
    main()

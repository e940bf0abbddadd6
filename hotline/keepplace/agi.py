"""The FastAGI `keep_place` answer: the dialplan's hotline-exit asks once a waiting caller
has pressed 1 and confirmed the number; channel -> KeepPlaceAsk -> the desk's request,
within the budget -> HOTLINE_KEEP* channel variables. The caller always gets an answer:
a request id, or HOTLINE_KEEP_ERROR, after which the dialplan puts them back in the queue."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

import structlog

from hotline.keepplace.ask import KeepPlaceAnswer, KeepPlaceAsk, KeepPlaceRefused
from hotline.metrics import Metrics
from hotline.routing.agi import AgiCommandRefused, AgiHangup, AgiRequest, AgiSession
from hotline.routing.answer import caller_of
from hotline.routing.rules import REGULAR

log = structlog.get_logger(__name__)

Request = Callable[[KeepPlaceAsk], Awaitable[KeepPlaceAnswer]]

REQUESTS = "hotline_keep_place_requests_total"
ERRORS = "hotline_keep_place_errors_total"
# Every variable the answer sets, in the order of the one command that sets them all: an
# empty one is emptied, so nothing from an earlier press of 1 survives.
KEEP_VARIABLES = ("HOTLINE_KEEP", "HOTLINE_KEEP_MINUTES", "HOTLINE_KEEP_NEXT_DAY", "HOTLINE_KEEP_ERROR")
# What hotline-exit leaves on the channel: the number confirmed or keyed, and whether keyed.
NUMBER_VARIABLE = "HOTLINE_KEEP_NUMBER"
KEYED_VARIABLE = "HOTLINE_KEEP_KEYED"
# The numbers hotline-exit and hotline-callback accept: no short (emergency, service) ones.
_DIALLABLE = re.compile(r"[0-9]{7,15}")
_GOT = re.compile(r"200 result=1 \((.*)\)")
_UNSET = "200 result=0"


class BadAsk(Exception):
    """The channel does not say what a keep-place request needs."""


class KeepPlaceAgi:
    """The `keep_place` handler: reads the caller's place and number, asks the desk."""

    def __init__(self, request: Request, *, budget_ms: int = 2000, metrics: Metrics | None = None) -> None:
        self._request, self._budget = request, budget_ms / 1000
        self._metrics = metrics or Metrics()
        for name in (REQUESTS, ERRORS):
            self._metrics.inc(name, 0)  # shown at 0 on /metrics before the first call

    async def __call__(self, request: AgiRequest, session: AgiSession) -> None:
        try:
            await session.set_variables(await self.answer(request, session))
        finally:
            await session.close()  # the dialplan goes on only once the socket is closed

    async def answer(self, request: AgiRequest, session: AgiSession) -> list[tuple[str, str]]:
        """The variables to set; never raises but for the session itself ending."""
        started = time.perf_counter()
        self._metrics.inc(REQUESTS)
        try:
            async with asyncio.timeout(self._budget):
                ask = await read_ask(request, session)
                answer = await self._request(ask)
        except (AgiHangup, AgiCommandRefused):
            raise  # the server logs and counts these; nothing can be set any more
        except BadAsk as exc:
            return self._failed("invalid", started, reason=str(exc))
        except KeepPlaceRefused as exc:
            return self._failed("refused", started, reason=exc.reason)
        except TimeoutError:
            return self._failed("timeout", started, budget_ms=self._budget * 1000)
        except Exception as exc:
            return self._failed("error", started, exc_info=exc)
        # The desk logs each request it keeps; this says only how long the answer took.
        log.debug(
            "keep_place.kept", request_id=answer.request_id, queue=ask.queue, position=ask.position,
            priority=ask.priority, keyed=ask.keyed, minutes=answer.minutes, next_day=answer.next_day,
            elapsed_ms=_ms_since(started),
        )  # fmt: skip
        return kept(answer)

    def _failed(self, error: str, started: float, **details: object) -> list[tuple[str, str]]:
        self._metrics.inc(ERRORS)
        log.warning("keep_place.failed", error=error, elapsed_ms=_ms_since(started), **details)
        return not_kept(error)


def kept(answer: KeepPlaceAnswer) -> list[tuple[str, str]]:
    values = (answer.request_id, str(max(answer.minutes, 0)), "1" if answer.next_day else "0", "")
    return list(zip(KEEP_VARIABLES, values, strict=True))


def not_kept(error: str) -> list[tuple[str, str]]:
    return list(zip(KEEP_VARIABLES, ("", "", "", error), strict=True))


async def read_ask(request: AgiRequest, session: AgiSession) -> KeepPlaceAsk:
    """The request from the AGI arguments (queue, position) and the caller's channel."""
    if not request.args or not request.args[0].strip():
        raise BadAsk("no queue argument")
    queue = request.args[0].strip()
    position = _count(request.args[1] if len(request.args) > 1 else None)
    if position is None:  # not passed: the place the queue itself recorded
        position = _count(await get_variable(session, "QUEUEPOSITION"))
    if position is None:
        raise BadAsk("no queue position")
    priority = _integer(await get_variable(session, "QUEUE_PRIO")) or 0  # unset: the default route's
    tier = await get_variable(session, "HOTLINE_TIER") or REGULAR
    number = await get_variable(session, NUMBER_VARIABLE)
    keyed = number is not None and await get_variable(session, KEYED_VARIABLE) == "1"
    caller_number = request.known("callerid")
    if number is None:  # asked without a confirmed number: the caller id, unless withheld
        number = _presented(request)
    if number is None or not _DIALLABLE.fullmatch(number):
        raise BadAsk("not a number to call")
    call_id = request.known("uniqueid")
    if call_id is None:
        raise BadAsk("no agi_uniqueid")
    return KeepPlaceAsk(number, keyed, queue, position, priority, tier, call_id, caller_number)


async def get_variable(session: AgiSession, name: str) -> str | None:
    """A channel variable (or function, CALLERID(num)); None when unset or empty."""
    reply = await session.command(f"GET VARIABLE {name}")
    if reply == _UNSET:
        return None
    got = _GOT.fullmatch(reply)
    if got is None:
        raise AgiCommandRefused(reply)
    return got[1].strip() or None


def _presented(request: AgiRequest) -> str | None:
    try:
        return caller_of(request, lambda raw: raw.strip()).number
    except ValueError:
        return None


def _count(text: str | None) -> int | None:
    value = _integer(text)
    return value if value is not None and value >= 1 else None


def _integer(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)

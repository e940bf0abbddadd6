"""The routing answer: a `route` request -> caller -> directory profile -> decision ->
channel variables, or the default route within the budget whatever goes wrong."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from hotline.metrics import Metrics
from hotline.routing.agi import UNKNOWN, AgiRequest, AgiSession
from hotline.routing.decide import Caller, Route, decide, default_route, new_call_ref
from hotline.routing.profile import CallerProfile
from hotline.routing.rules import RoutingRules

log = structlog.get_logger(__name__)

DECISIONS = "hotline_routing_decisions_total"
FALLBACKS = "hotline_routing_fallbacks_total"
# What Asterisk and SIP trunks put in the caller id of a withheld number.
_WITHHELD = frozenset({*UNKNOWN, "anonymous", "restricted", "private", "unavailable", "withheld"})
_PRESENTATION_HIDDEN = 0x60  # AST_PRES_RESTRICTED (0x20) or AST_PRES_UNAVAILABLE (0x40)


def caller_of(request: AgiRequest, normalise: Callable[[str], str]) -> Caller:
    """The caller in a route request; ValueError (or normalise's error) on bad input."""
    raw = request.headers.get("agi_callerid")
    if raw is None:
        raise ValueError("no agi_callerid header")
    number = None
    if not _hidden(request.known("callingpres")) and raw.lower() not in _WITHHELD:
        number = normalise(raw)
    return Caller(number, *_context(request))


def _context(request: AgiRequest) -> tuple[str | None, str | None, str | None]:
    return request.known("calleridname"), request.known("channel"), request.known("uniqueid")


def _hidden(presentation: str | None) -> bool:
    # A withheld number is not looked up, even when Asterisk still passes the digits.
    try:
        return bool(int(presentation or 0) & _PRESENTATION_HIDDEN)
    except ValueError:
        return False


# Every variable the answer sets, in the order of the one command that sets them.
ROUTE_VARIABLES = (
    "HOTLINE_QUEUE", "QUEUE_PRIO", "HOTLINE_TIER", "HOTLINE_CUSTOMER", "HOTLINE_CALL",
    "HOTLINE_FIRST_TRY",
)


def route_assignment(route: Route) -> list[tuple[str, str]]:
    """Every route variable with its value; "" for an unset one, which empties it."""
    values = (
        route.queue, str(route.priority), route.tier, route.customer or "", route.call_ref,
        route.first_try or "",
    )
    return list(zip(ROUTE_VARIABLES, values, strict=True))


def route_variables(route: Route) -> list[tuple[str, str]]:
    """The channel variables the dialplan reads as set; unset ones are left out."""
    return [(name, value) for name, value in route_assignment(route) if value]


Lookup = Callable[[str], Awaitable[CallerProfile | None]]
Record = Callable[[Route, Caller], Awaitable[None]]


class RoutingService:
    """The `route` handler: caller -> profile -> decision, or the default route in time."""

    def __init__(
        self,
        lookup: Lookup,
        rules: RoutingRules,
        clock: Callable[[], datetime],
        agent_available: Callable[[str], bool],
        budget_ms: int,
        record: Record | None = None,
        *,
        normalise: Callable[[str], str],
        metrics: Metrics | None = None,
    ) -> None:
        self._lookup, self._rules, self._clock = lookup, rules, clock
        self._agent_available, self._budget = agent_available, budget_ms / 1000
        self._record, self._normalise = record, normalise
        self._metrics = metrics or Metrics()
        for name in (DECISIONS, FALLBACKS):
            self._metrics.inc(name, 0)  # shown at 0 on /metrics before the first call

    async def __call__(self, request: AgiRequest, session: AgiSession) -> None:
        route, caller = await self.route(request)
        try:
            await session.set_variables(route_assignment(route))
        finally:
            await session.close()  # the caller moves on before the decision is recorded
            await self._keep(route, caller)

    async def route(self, request: AgiRequest) -> tuple[Route, Caller]:
        """The decision for one request; never raises, never takes much over the budget."""
        started, call_ref = time.perf_counter(), new_call_ref()
        try:
            caller = caller_of(request, self._normalise)
        except Exception as exc:
            # The reason may be stored with the call, so it names the kind, not the digits.
            caller = Caller(None, *_context(request))
            reason = f"bad caller id ({type(exc).__name__})"
            return self._fallback(reason, call_ref, started, error=str(exc)), caller
        try:
            route = await self._decide(caller, call_ref)
        except TimeoutError:
            reason = f"over budget ({self._budget * 1000:g} ms)"
            return self._fallback(reason, call_ref, started), caller
        except Exception as exc:
            reason = f"error ({type(exc).__name__})"
            return self._fallback(reason, call_ref, started, exc_info=exc), caller
        # No log line: the call record keeps every decision; a fallback is a warning below.
        self._metrics.inc(DECISIONS)
        return route, caller

    async def _decide(self, caller: Caller, call_ref: str) -> Route:
        async with asyncio.timeout(self._budget):
            profile = None if caller.number is None else await self._lookup(caller.number)
        return decide(
            caller, profile, self._rules, now=self._clock(),
            agent_available=self._available, call_ref=call_ref,
        )

    def _available(self, extension: str) -> bool:
        # Presence is a nicety: when it cannot be read the call goes to its queue.
        try:
            return bool(self._agent_available(extension))
        except Exception:
            log.warning("route.availability_failed", extension=extension, exc_info=True)
            return False

    def _fallback(self, reason: str, call_ref: str, started: float, **details: object) -> Route:
        route = default_route(self._rules, reason=reason, fallback=True, call_ref=call_ref)
        self._metrics.inc(DECISIONS)
        self._metrics.inc(FALLBACKS)
        log.warning("route.fallback", **_fields(route), elapsed_ms=_ms_since(started), **details)
        return route

    async def _keep(self, route: Route, caller: Caller) -> None:
        if self._record is None:
            return
        try:
            await self._record(route, caller)
        except Exception:
            log.error("route.record_failed", call_ref=route.call_ref, exc_info=True)


def _fields(route: Route) -> dict[str, object]:
    return {
        "call_ref": route.call_ref, "queue": route.queue, "priority": route.priority,
        "tier": route.tier, "customer": route.customer, "first_try": route.first_try,
        "reason": route.reason,
    }


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)

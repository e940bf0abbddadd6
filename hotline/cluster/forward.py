"""Several instances: what needs the AMI connection (an agent's 示闲/示忙, a supervisor's
force or listen-in), asked on an instance that does not own it, is done by the instance
that does, and its answer comes back.

The request goes over the relay's connection (NOTIFY on REQUESTS), with the asking user's
id; only the AMI owner takes it up: it reads that user again (their role as it is now) and
runs the same use case as for its own users, whose own checks apply once more. The answer,
or the error with its error_id, comes back on ANSWERS to the instance that asked, which
answers its HTTP request with it as if it had done it itself. When no instance holds the
AMI lease (a takeover is under way) or none answers in time, the asker says so at once
(OwnerUnreachable): nothing is queued to happen later behind the user's back.

On the owner (and with one instance), `call` runs the use case directly.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from hotline.errors import HotlineError
from hotline.metrics import Metrics
from hotline.users.store import User

from .codec import plain
from .relay import EventRelay

log = structlog.get_logger(__name__)

REQUESTS = "hotline_owner_requests"
ANSWERS = "hotline_owner_answers"

Handler = Callable[[User, dict[str, Any]], Awaitable[Any]]  # -> what to answer (JSON: dicts, lists, times)


class OwnerUnreachable(HotlineError):
    """此刻没有实例连接着 Asterisk（可能正在切换），请几秒后再试 / no instance is connected to Asterisk now (a takeover may be under way): try again in a few seconds."""

    error_id = "ami_owner_unreachable"


class Forwarded(HotlineError):
    """The AMI owner refused the request: its error, as it gave it."""

    def __init__(self, error_id: str, message: str, details: dict[str, Any]) -> None:
        self.error_id = error_id  # the owner's: the HTTP status is the one it would have had
        super().__init__(message, **details)


class AtTheOwner:
    def __init__(
        self, relay: EventRelay, instance: str, *, is_owner: Callable[[], bool], someone_owns: Callable[[], Awaitable[bool]],
        user: Callable[[int], Awaitable[User | None]], metrics: Metrics, timeout: float = 15.0,
    ) -> None:  # fmt: skip
        self.relay, self.instance, self.is_owner, self.someone_owns, self.user = relay, instance, is_owner, someone_owns, user
        self.metrics, self.timeout = metrics, timeout
        self._handlers: dict[str, Handler] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        relay.listen(REQUESTS, self._request)
        relay.listen(ANSWERS, self._answer)

    def expose(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    async def call(self, name: str, actor: User, args: dict[str, Any]) -> Any:
        """`name`'s handler run for `actor`: here when this instance owns AMI, else by the owner."""
        handler = self._handlers[name]
        if self.is_owner():
            return await handler(actor, args)
        if not await self.someone_owns():
            raise OwnerUnreachable()
        request_id = uuid.uuid4().hex
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        try:
            text = _dumps({"id": request_id, "from": self.instance, "name": name, "actor": actor.id, "args": args})
            if not self.relay.post(REQUESTS, text, kind=name):
                raise HotlineError("the request is too large to pass to the instance connected to Asterisk")
            self.metrics.inc("hotline_owner_requests_sent_total")
            reply = await asyncio.wait_for(answer, self.timeout)
        except TimeoutError:
            self.metrics.inc("hotline_owner_requests_unanswered_total")
            log.warning("owner.no_answer", request=name, timeout=self.timeout)
            raise OwnerUnreachable() from None
        finally:
            self._waiting.pop(request_id, None)
        if reply.get("ok"):
            return reply.get("result")
        raise Forwarded(str(reply.get("error_id", "hotline_error")), str(reply.get("message", "")), dict(reply.get("details") or {}))

    # -- on the owner ----------------------------------------------------------------------------

    async def _request(self, payload: str) -> None:
        if not self.is_owner():
            return  # only the AMI owner takes requests up
        try:
            request = json.loads(payload)
            request_id, asker, name, actor_id, args = request["id"], request["from"], request["name"], int(request["actor"]), dict(request["args"])
        except (ValueError, KeyError, TypeError):
            self.metrics.inc("hotline_owner_requests_unreadable_total")
            log.warning("owner.unreadable_request", head=payload[:120])
            return
        answer: dict[str, Any] = {"id": request_id, "to": asker}
        try:
            answer |= {"ok": True, "result": await self._run(name, actor_id, args)}
        except HotlineError as exc:
            answer |= {"ok": False, "error_id": exc.error_id, "message": str(exc), "details": exc.details}
        except Exception:
            log.exception("owner.request_failed", request=name)
            answer |= {"ok": False, "error_id": "owner_failed", "message": "the instance connected to Asterisk failed to do it (see its log)", "details": {}}
        self.metrics.inc("hotline_owner_requests_served_total")
        if not self.relay.post(ANSWERS, _dumps(answer), kind=name):
            self.relay.post(ANSWERS, _dumps({"id": request_id, "to": asker, "ok": False, "error_id": "answer_too_large", "message": "done, but the answer was too large to pass back", "details": {}}))

    async def _run(self, name: str, actor_id: int, args: dict[str, Any]) -> Any:
        handler = self._handlers.get(name)
        if handler is None:
            raise HotlineError(f"the instance connected to Asterisk does not know {name!r} (an older version?)")
        actor = await self.user(actor_id)
        if actor is None or actor.disabled:
            raise HotlineError("the user who asked is no longer active", user_id=actor_id)
        return await handler(actor, args)

    # -- on the asker ----------------------------------------------------------------------------

    async def _answer(self, payload: str) -> None:
        try:
            answer = json.loads(payload)
            if answer.get("to") != self.instance:
                return
            waiting = self._waiting.get(answer["id"])
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("owner.unreadable_answer", head=payload[:120])
            return
        if waiting is not None and not waiting.done():
            waiting.set_result(answer)


def _dumps(data: Any) -> str:
    return json.dumps(data, default=plain, ensure_ascii=False, separators=(",", ":"))

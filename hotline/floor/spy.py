"""监听 / 耳语 / 强插: a supervisor listens to, whispers to or barges in on an agent's call.
The service rings the supervisor's own phone (an async Originate) into the dialplan's
hotline-spy context, which runs ChanSpy on the agent's phone (asterisk-config/README.md).

spy_originate() builds the action (pure); ListenIn decides who may, sends it through the
AMI connection and records every attempt it sends in floor_actions, with Asterisk's answer."""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.ami.client import AmiDisconnected
from hotline.clock import Clock
from hotline.config import FloorSettings
from hotline.db.engine import write_transaction
from hotline.db.tables import users
from hotline.errors import BadRequest, HotlineError, NotFound
from hotline.users.store import Role, User, user_from, user_query

from .tables import floor_actions

log = structlog.get_logger(__name__)

SendOriginate = Callable[[dict[str, Any]], Awaitable[Any]]
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
CONTEXT = "hotline-spy"
HOTLINE_NUMBER = "96655"
RING_SECONDS = 30  # how long the supervisor's phone rings before Asterisk gives up
# What the dialplan lets through to ChanSpy() (hotline-spy's REGEX): checked here too, so
# a floor.member_interface it would refuse is reported, not rung and hung up.
_TARGET = re.compile(r"[A-Za-z0-9]+/[A-Za-z0-9_.@-]+")


class SpyMode(enum.StrEnum):
    """The Exten in hotline-spy; the dialplan gives ChanSpy q, qw or qB (plus bES)."""

    LISTEN = "listen"  # 监听: hears agent and caller, heard by nobody
    WHISPER = "whisper"  # 耳语: heard by the agent only
    BARGE = "barge"  # 强插: heard by both


LABELS = {SpyMode.LISTEN: "监听", SpyMode.WHISPER: "耳语", SpyMode.BARGE: "强插"}


class ListenInForbidden(HotlineError):
    """只有班长和管理员可以监听、耳语或强插 / only supervisors and admins may listen to, whisper to or barge in on an agent's call."""

    error_id = "forbidden"


class SupervisorWithoutPhone(HotlineError):
    """您的账号没有登记分机，无法呼叫您的电话；请管理员在系统管理中为您登记分机 / your account has no extension, so your phone cannot be called: ask an admin to set one on the admin page."""

    error_id = "supervisor_without_phone"


class AgentNotListenable(HotlineError):
    """无法监听这个坐席的电话：floor.member_interface 给出的名称不是一个分机 / this agent's phone cannot be listened to: floor.member_interface does not give a phone's name."""

    error_id = "agent_not_listenable"


class ListenInRefused(HotlineError):
    """Asterisk 拒绝了呼叫您电话的请求 / Asterisk refused to call your phone."""

    error_id = "listen_in_refused"


class PbxUnavailable(HotlineError):
    """未连接到 Asterisk，或它没有答复；您的电话可能没有被呼叫 / not connected to Asterisk, or it did not answer: your phone may not have been called."""

    error_id = "pbx_unavailable"


# --- the action (pure) ---------------------------------------------------------------------


def spy_target(member_interface: str, extension: str) -> str:
    """The agent's phone as the start of its calls' channel names: the queue member
    interface without its options (Local/8001@agents/n -> Local/8001@agents). Asterisk
    names a call's channel PJSIP/8001-0000002a; the dialplan adds the "-"."""
    technology, _, rest = member_interface.format(extension=extension).partition("/")
    return f"{technology}/{rest.partition('/')[0]}"


def spy_originate(mode: SpyMode | str, supervisor_extension: str, agent_extension: str, settings_floor: FloorSettings, action_id: str) -> dict[str, Any]:
    """The Originate that rings the supervisor's phone into hotline-spy. The ActionID is
    also the supervisor's channel's Uniqueid (ChannelId): ChanSpyStart names it as the
    spyer. The caller id shows the supervisor what the call is for: "监听 8001"."""
    mode = SpyMode(mode)
    return {
        "Action": "Originate",
        "ActionID": action_id,
        "ChannelId": action_id,
        "Channel": settings_floor.supervisor_phone.format(extension=supervisor_extension),
        "Context": CONTEXT,
        "Exten": mode.value,
        "Priority": "1",
        "CallerID": f'"{LABELS[mode]} {agent_extension}" <{HOTLINE_NUMBER}>',
        "Timeout": str(RING_SECONDS * 1000),
        "Async": "true",
        "Variable": [f"HOTLINE_SPY_TARGET={spy_target(settings_floor.member_interface, agent_extension)}"],
    }


def _mode(value: str) -> SpyMode:
    try:
        return SpyMode(value)
    except ValueError:
        raise BadRequest(f"mode must be one of: {', '.join(SpyMode)}", mode=value) from None


def _answer(reply: Mapping[str, Any]) -> dict[str, str]:
    return {str(key): str(value) for key, value in reply.items()}


# --- the use case -----------------------------------------------------------------------------


class ListenIn:
    def __init__(self, engine: AsyncEngine, clock: Clock, send_originate: SendOriginate, settings_floor: FloorSettings) -> None:
        self.engine = engine
        self.clock = clock
        self.send = send_originate
        self.floor = settings_floor

    async def start(self, actor: User, mode: SpyMode | str, agent_extension: str) -> dict[str, Any]:
        """Rings the actor's phone into ChanSpy on the agent's; what was sent and Asterisk's
        first answer ("Originate successfully queued"). Refusals before sending (role, no
        phone, no such agent) send and record nothing; every attempt sent is recorded."""
        if actor.role not in SUPERVISORS:
            raise ListenInForbidden(role=actor.role.value)
        mode = _mode(mode)
        if not actor.extension:
            raise SupervisorWithoutPhone(user=actor.name)
        agent = await self._agent(agent_extension)
        assert agent.extension is not None, "found by its extension"
        if not _TARGET.fullmatch(spy_target(self.floor.member_interface, agent.extension)):
            raise AgentNotListenable(member_interface=self.floor.member_interface, extension=agent.extension)
        action = spy_originate(mode, actor.extension, agent.extension, self.floor, f"spy-{secrets.token_hex(8)}")
        try:
            answer = _answer(await self.send(action))
        except (AmiDisconnected, TimeoutError, OSError) as exc:
            # Not connected, the link broke, or no answer in time: it may or may not have rung.
            await self._record(actor, mode, agent, ok=False, data={"sent": action, "error": str(exc) or type(exc).__name__})
            log.warning("floor.listen_in_unanswered", mode=mode.value, actor=actor.name, agent=agent.extension, error=repr(exc))
            raise PbxUnavailable(error=str(exc) or type(exc).__name__) from None
        ok = answer.get("Response") == "Success"
        recorded = await self._record(actor, mode, agent, ok=ok, data={"sent": action, "answer": answer})
        log.info("floor.listen_in", mode=mode.value, actor=actor.name, agent=agent.extension, ok=ok, message=answer.get("Message"))
        if not ok:
            raise ListenInRefused(f"Asterisk 拒绝了呼叫您电话的请求 / Asterisk refused to call your phone: {answer.get('Message', '')}", answer=answer)
        return {
            "id": recorded["id"], "at": recorded["at"], "mode": mode.value,
            "agent": {"id": agent.id, "name": agent.name, "extension": agent.extension},
            "supervisor_phone": action["Channel"], "sent": action, "answer": answer,
        }  # fmt: skip

    async def _agent(self, extension: str) -> User:
        async with self.engine.connect() as conn:
            row = (await conn.execute(user_query().where(users.c.extension == extension))).first()
        agent = user_from(row) if row else None
        if agent is None or agent.role is not Role.AGENT:
            raise NotFound(f"没有分机为 {extension} 的坐席 / no agent has extension {extension}", extension=extension)
        return agent

    async def _record(self, actor: User, mode: SpyMode, agent: User, *, ok: bool, data: dict[str, Any]) -> dict[str, Any]:
        at = self.clock.now()
        values = {"at": at, "actor_user_id": actor.id, "action": mode.value, "target_extension": agent.extension, "target_user_id": agent.id, "ok": ok, "data": data}
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(insert(floor_actions).values(**values))
        return {"id": result.inserted_primary_key[0], "at": at}

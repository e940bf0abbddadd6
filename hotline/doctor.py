"""`hotline doctor`: logs in to Asterisk's AMI as the service does and checks that its manager
user may do what the service needs, naming what is missing and the manager.conf line that
gives it. An edge (one AMI session) that gathers what Asterisk shows, and a pure verdict.

How each right shows (Asterisk 22's main/manager.c, checked on the real PBX):
- write: ListCommands lists exactly the actions the user may run, by the test the action
  itself meets (it needs no class, or the user has one of its classes).
- read: Asterisk sends an event only to a user that reads its class, so every event that
  arrives proves its classes. FullyBooted follows a login for `system` only. For `call` and
  `dialplan` the doctor originates a Local channel into a context that does not exist
  (nothing runs or rings; Newchannel and VarSet come back); for `agent` it adds a paused
  placeholder member to a login queue and removes it (QueueMemberAdded). `user` shows only in
  a UserEvent, which takes write `user` (not granted) or a real call: it is not checked.

Over the 400-line guide by a little: a third of it is the operator's messages in both
languages, which read best beside the checks that give them.
"""

from __future__ import annotations

import enum
import errno
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hotline.ami.framing import Message
from hotline.ami.session import AmiSession, NoAnswer, NotAmi
from hotline.config import AmiSettings
from hotline.floor.spy import CONTEXT as SPY_CONTEXT
from hotline.floor.spy import SpyMode

PROBE_WAIT = 2.0  # seconds for a probe's events; Asterisk sends them within milliseconds
PROBE_CONTEXT = "hotline-doctor-probe"  # must not exist: the probe call then goes nowhere
PROBE_CHANNEL = f"Local/hotline-doctor@{PROBE_CONTEXT}"
PROBE_MEMBER = "hotline-doctor"
SAMPLE_NUMBER = "13800000000"  # a customer's number, as hotline-callback gets it

Bilingual = tuple[str, str]  # (中文, English)


@dataclass(frozen=True)
class WriteNeed:
    cls: str  # "": the actions need no class
    actions: tuple[str, ...]
    use: Bilingual


@dataclass(frozen=True)
class ReadNeed:
    cls: str
    event: str  # the event the check waits for
    use: Bilingual
    lost: Bilingual  # what the service loses without it


WRITE_NEEDS = (
    WriteNeed("", ("Ping", "QueueStatus"), ("保活与排队快照", "keep-alive and the queues' snapshot")),
    WriteNeed("reporting", ("CoreShowChannels",), ("断线重连后重建通话", "rebuilding the calls after a reconnect")),
    WriteNeed("originate", ("Originate",), ("回呼、满意度调查、监听耳语强插", "callbacks, surveys, listen-in")),
    WriteNeed("agent", ("QueueAdd", "QueueRemove", "QueuePause"), ("坐席签入签出、示闲示忙", "agents' log-in, log-out and pauses")),
)  # fmt: skip
READ_NEEDS = (
    ReadNeed("system", "FullyBooted", ("Asterisk 就绪", "Asterisk is ready"), ("Asterisk 重启后服务不知道它何时就绪", "after a restart the service cannot tell when Asterisk is ready")),
    ReadNeed("call", "Newchannel", ("通话本身：通道、拨号、桥接、挂机、转接、外呼结果", "the calls: channels, dials, bridges, hangups, transfers, Originate outcomes"), ("服务看不到任何通话", "the service sees no call at all")),
    ReadNeed("agent", "QueueMemberAdded", ("排队、振铃坐席、应答、放弃、坐席状态", "queue joins, agents rung, answers, abandons, agents' states"), ("看不到排队、应答、放弃和坐席状态", "queue joins, answers, abandons and agents' states go unseen")),
    ReadNeed("dialplan", "VarSet", ("路由决定和离队去向（VarSet、Newexten）", "the routing decision and where a caller went (VarSet, Newexten)"), ("看不到路由决定和离队去向", "routing decisions and where callers went go unseen")),
    ReadNeed("user", "UserEvent", ("满意度评分、保留排位请求（UserEvent）", "survey scores, keep-place requests (UserEvent)"), ("收不到满意度评分和保留排位请求", "survey scores and keep-place requests are lost")),
)  # fmt: skip
# Rights the service never uses, each shown by an action that needs that class alone.
EXCESS = (
    ("command", "Command", ("可执行任意 CLI 命令", "it runs any CLI command")),
    ("system", "ModuleLoad", ("可重载、关机，并让 Originate 运行 System", "it reloads, shuts down, and lets Originate run System")),
    ("config", "UpdateConfig", ("可改写配置文件", "it rewrites configuration files")),
)  # fmt: skip
# Where the service's Originates go: callbacks (callbacks/dispatcher.py), listen-in (floor/spy.py).
CONTEXTS = (
    ("hotline-callback", (SAMPLE_NUMBER,), ("回呼", "callbacks")),
    ("hotline-survey", ("s",), ("满意度调查", "surveys")),
    (SPY_CONTEXT, tuple(SpyMode), ("监听、耳语、强插", "listen, whisper, barge")),
)
_RELOAD = ('然后执行 asterisk -rx "manager reload" 并重启服务（已登录的会话保留旧权限）',
           'then asterisk -rx "manager reload" and restart the service (a session keeps the rights it logged in with)')  # fmt: skip


class Verdict(enum.Enum):
    OK = "正常 OK"
    PROBLEM = "问题 PROBLEM"
    UNCHECKED = "未检查 NOT CHECKED"
    WARNING = "注意 WARNING"
    NOTE = "说明 NOTE"


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    subject: str
    text: str
    fix: str = ""
    grant: tuple[str, str] | None = None  # ("read" or "write", class) the fix adds


def _say(zh: str, en: str) -> str:
    return f"{zh} / {en}"


_UNTESTABLE_USER = _say("只有 UserEvent 能证明，而产生它需要 write user（不授予）或一通真实呼叫；请确认 read = 含 user",
                        "only a UserEvent shows it, which takes write user (not granted) or a real call: make sure read = includes user")  # fmt: skip


@dataclass
class Observed:
    """What one AMI session showed; `diagnose` turns it into findings."""

    banner: str = ""
    listed: frozenset[str] = frozenset()  # the actions ListCommands names
    heard: set[str] = field(default_factory=set)  # read classes some event proved
    tested: set[str] = field(default_factory=lambda: {"system"})  # read classes a probe asked for
    untested: dict[str, str] = field(default_factory=lambda: {"user": _UNTESTABLE_USER})  # read class -> why not
    timed: int = 0  # events with a Timestamp header
    untimed: set[str] = field(default_factory=set)  # names of events without one
    contexts: list[tuple[str, str, str | None]] = field(default_factory=list)  # (context, extension, error; "" found, None not asked)
    queues: list[tuple[str, bool | None]] = field(default_factory=list)  # None: not asked
    did: list[str] = field(default_factory=list)  # what the probes changed, for the operator

    def hear(self, messages: Sequence[Message]) -> None:
        for message in messages:
            if "Event" not in message or "Privilege" not in message:
                continue  # a list action's items are answers, not events
            self.heard |= {name for name in message["Privilege"].split(",") if name and name != "all"}
            if message["Event"] != "FullyBooted":  # the one Asterisk writes without a Timestamp
                if "Timestamp" in message:
                    self.timed += 1
                else:
                    self.untimed.add(message["Event"])


@dataclass(frozen=True)
class Report:
    target: str
    username: str
    findings: tuple[Finding, ...]

    @property
    def healthy(self) -> bool:
        return not any(f.verdict is Verdict.PROBLEM for f in self.findings)

    def render(self) -> str:
        lines = [f"hotline doctor: Asterisk AMI {self.target}, 用户 / user {self.username}"]
        for f in self.findings:
            lines.append(f"{f.verdict.value}  {f.subject}: {f.text}")
            if f.fix:
                lines.append(f"    → {f.fix}")
        problems = sum(f.verdict is Verdict.PROBLEM for f in self.findings)
        unchecked = sum(f.verdict is Verdict.UNCHECKED for f in self.findings)
        if problems:
            lines += self._grants()
            lines.append(_say(f"结论：发现 {problems} 个问题，按 → 修复后再运行", f"result: {problems} problem(s) found: fix them as shown after →, then run again"))
        else:
            zh, en = "结论：一切正常，服务所需的权限都已具备", "result: all is well: the manager user may do what the service needs"
            if unchecked:
                zh, en = f"{zh}（{unchecked} 项未能检查，见上）", f"{en} ({unchecked} could not be checked, see above)"
            lines.append(_say(zh, en))
        return "\n".join(lines)

    def _grants(self) -> list[str]:
        """The manager.conf edit that gives every missing class, as one line."""
        wanted = {kind: [f.grant[1] for f in self.findings if f.grant and f.grant[0] == kind] for kind in ("read", "write")}
        zh = "；".join(f"{kind} = 加上 {', '.join(classes)}" for kind, classes in wanted.items() if classes)
        en = "; ".join(f"add {', '.join(classes)} to {kind} =" for kind, classes in wanted.items() if classes)
        if not zh:
            return []
        return [_say(f"修改 manager.conf 的 [{self.username}] 段：{zh}；{_RELOAD[0]}", f"in [{self.username}] of manager.conf: {en}; {_RELOAD[1]}")]


# --- the verdict (pure) ---------------------------------------------------------------------


def diagnose(seen: Observed, username: str) -> list[Finding]:
    findings = [_connected(seen.banner), Finding(Verdict.OK, "登录 login", _say("登录成功", "logged in"))]
    findings += _write_findings(seen.listed, username)
    findings += [_read_finding(need, seen, username) for need in READ_NEEDS]
    findings.append(_timestamp_finding(seen))
    findings += _context_findings(seen.contexts)
    findings += [_queue_finding(queue, exists) for queue, exists in seen.queues]
    findings += [Finding(Verdict.NOTE, "probe", did) for did in seen.did]
    return findings


def _connected(banner: str) -> Finding:
    return Finding(Verdict.OK, "连接 connection", f"Asterisk Call Manager/{banner}")


def _fix(kind: str, cls: str, username: str) -> str:
    return _say(f"在 manager.conf 的 [{username}] 段把 {cls} 加到 {kind} = 中", f"add {cls} to {kind} = in [{username}] of manager.conf")


def _write_findings(listed: frozenset[str], username: str) -> list[Finding]:
    found = []
    queue_loaded = "QueueStatus" in listed
    for need in WRITE_NEEDS:
        subject = f"write {need.cls}" if need.cls else "write（无需类别 no class）"
        missing = [action for action in need.actions if action not in listed]
        names = ", ".join(need.actions)
        if not missing:
            found.append(Finding(Verdict.OK, subject, _say(f"{names}：{need.use[0]}", f"{names}: {need.use[1]}")))
        elif not queue_loaded and set(missing) <= {"QueueStatus", "QueueAdd", "QueueRemove", "QueuePause"}:
            found.append(Finding(Verdict.PROBLEM, subject, _say(f"Asterisk 没有 {', '.join(missing)}：app_queue.so 没有加载", f"Asterisk has no {', '.join(missing)}: app_queue.so is not loaded"),
                                 _say("在 modules.conf 中加入 load = app_queue.so，然后重启 Asterisk", "add load = app_queue.so to modules.conf, then restart Asterisk")))  # fmt: skip
        else:
            text = _say(f"不能发送 {', '.join(missing)}（{need.use[0]}）", f"may not send {', '.join(missing)} ({need.use[1]})")
            found.append(Finding(Verdict.PROBLEM, subject, text, _fix("write", need.cls, username), ("write", need.cls)) if need.cls else Finding(Verdict.PROBLEM, subject, text))
    for cls, action, why in EXCESS:
        if action in listed:
            text = _say(f"write 含 {cls}，服务用不到：{why[0]}", f"write includes {cls}, which the service never uses: {why[1]}")
            found.append(Finding(Verdict.WARNING, f"write {cls}", text, _say(f"从 [{username}] 的 write = 中删去 {cls}", f"remove {cls} from write = in [{username}]")))
    return found


def _read_finding(need: ReadNeed, seen: Observed, username: str) -> Finding:
    subject = f"read {need.cls}"
    if need.cls in seen.heard:
        return Finding(Verdict.OK, subject, _say(need.use[0], need.use[1]))
    if need.cls in seen.tested:
        zh, en = f"没有收到 {need.event}：{need.lost[0]}", f"no {need.event} arrived: {need.lost[1]}"
        if need.cls == "system":
            zh, en = f"{zh}（若 Asterisk 正在启动，稍后再运行）", f"{en} (if Asterisk was still starting, run the doctor again)"
        return Finding(Verdict.PROBLEM, subject, _say(zh, en), _fix("read", need.cls, username), ("read", need.cls))
    return Finding(Verdict.UNCHECKED, subject, seen.untested.get(need.cls, ""))


def _timestamp_finding(seen: Observed) -> Finding:
    if seen.untimed:
        names = ", ".join(sorted(seen.untimed))
        return Finding(Verdict.PROBLEM, "timestampevents", _say(f"事件没有 Timestamp（{names}）：服务拒收没有时间的事件", f"events come without a Timestamp ({names}): the service refuses them"),
                       _say('在 manager.conf 的 [general] 中设置 timestampevents = yes，然后 asterisk -rx "manager reload"', 'set timestampevents = yes in [general] of manager.conf, then asterisk -rx "manager reload"'))  # fmt: skip
    if seen.timed:
        return Finding(Verdict.OK, "timestampevents", _say("事件带有 Timestamp", "events carry their Timestamp"))
    return Finding(Verdict.UNCHECKED, "timestampevents", _say("没有收到可查看的事件", "no event arrived to look at"))


def _context_findings(asked: list[tuple[str, str, str | None]]) -> list[Finding]:
    found = []
    for context, _, use in CONTEXTS:
        answers = {exten: error for name, exten, error in asked if name == context}
        subject = f"context {context}"
        fix = _say(f"从 asterisk-config/extensions.conf 复制 [{context}]，然后 asterisk -rx \"dialplan reload\"", f"copy [{context}] from asterisk-config/extensions.conf, then asterisk -rx \"dialplan reload\"")
        if not answers or None in answers.values():
            found.append(Finding(Verdict.UNCHECKED, subject, _say("查看拨号方案需要 write reporting", "reading the dialplan needs write reporting")))
        elif any((error or "").startswith("Did not find context") for error in answers.values()):
            found.append(Finding(Verdict.PROBLEM, subject, _say(f"拨号方案中没有这个上下文：{use[0]}无法接通", f"the dialplan has no such context: {use[1]} cannot connect"), fix))
        elif missing := [exten for exten, error in answers.items() if error]:
            found.append(Finding(Verdict.PROBLEM, subject, _say(f"缺少分机 {', '.join(missing)}：{use[0]}无法接通", f"no extension {', '.join(missing)}: {use[1]} cannot connect"), fix))
        else:
            names = ", ".join(answers)
            found.append(Finding(Verdict.OK, subject, _say(f"{use[0]}：{names} 可以拨入", f"{use[1]}: {names} can be reached")))
    return found


def _queue_finding(queue: str, exists: bool | None) -> Finding:
    subject = f"queue {queue}"
    if exists is None:
        return Finding(Verdict.UNCHECKED, subject, _say("查看队列需要 write agent", "looking at the queue needs write agent"))
    if not exists:
        return Finding(Verdict.PROBLEM, subject, _say("queues.conf 中没有这个队列（floor.login_queues）：坐席无法签入", "queues.conf has no such queue (floor.login_queues): agents cannot log in to it"),
                       _say("在 queues.conf 中加上它（见 asterisk-config/queues.conf），或改正 floor.login_queues", "add it to queues.conf (see asterisk-config/queues.conf), or correct floor.login_queues"))  # fmt: skip
    return Finding(Verdict.OK, subject, _say("队列存在（floor.login_queues）", "the queue exists (floor.login_queues)"))


# --- the session (the edge) ------------------------------------------------------------------


class _Stop(Exception):
    """The check cannot go on; the finding says why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.text)
        self.finding = finding


async def examine(settings: AmiSettings, login_queues: Sequence[str], *, probe: bool = True, wait: float = PROBE_WAIT) -> Report:
    """Log in as the service does and look; what Asterisk does is reported, never raised."""
    target = f"{settings.host}:{settings.port}"
    seen = Observed()
    try:
        ami = await _open(settings)
    except _Stop as stop:
        return Report(target, settings.username, (stop.finding,))
    try:
        seen.banner = ami.banner or ""
        await _login(ami, settings)
        await _look(ami, seen, login_queues, probe=probe, wait=wait)
        seen.hear(ami.messages)
    except NoAnswer as exc:
        lost = Finding(Verdict.PROBLEM, "连接 connection", _say(f"Asterisk 断开了连接，或 {exc.timeout:g} 秒内没有答复 {exc.action}", f"Asterisk closed the connection, or did not answer {exc.action} within {exc.timeout:g} s"))
        return Report(target, settings.username, (_connected(seen.banner), lost))
    except _Stop as stop:
        return Report(target, settings.username, (_connected(seen.banner), stop.finding))
    finally:
        await ami.close()
    return Report(target, settings.username, tuple(diagnose(seen, settings.username)))


async def _open(s: AmiSettings) -> AmiSession:
    where = f"{s.host}:{s.port}"
    try:
        return await AmiSession.open(s.host, s.port, connect_timeout=s.connect_timeout, answer_timeout=s.ping_timeout * 2, id_prefix="doctor")
    except socket.gaierror:
        raise _Stop(_unreachable(_say(f"无法解析主机名 {s.host}", f"cannot resolve the host name {s.host}"), _say("检查 ami.host（HOTLINE_AMI_HOST）", "check ami.host (HOTLINE_AMI_HOST)"))) from None
    except TimeoutError:
        raise _Stop(_unreachable(_say(f"{where} 在 {s.connect_timeout:g} 秒内没有应答：地址不对，或防火墙丢弃了连接", f"no answer from {where} within {s.connect_timeout:g} s: a wrong address, or a firewall drops the connection"),
                                 _say("检查 ami.host、ami.port 和两台机器之间的防火墙", "check ami.host, ami.port and any firewall between the two hosts"))) from None  # fmt: skip
    except NotAmi:
        raise _Stop(_unreachable(_say(f"{where} 上应答的不是 Asterisk 的 AMI（没有 “Asterisk Call Manager” 问候）", f"what answers at {where} is not Asterisk's AMI (no 'Asterisk Call Manager' greeting)"),
                                 _say("检查 ami.port 是否为 manager.conf [general] 的 port", "check that ami.port is the port of [general] in manager.conf"))) from None  # fmt: skip
    except OSError as exc:
        if isinstance(exc, ConnectionRefusedError) or os.strerror(errno.ECONNREFUSED) in str(exc):
            raise _Stop(_unreachable(_say(f"{where} 拒绝连接：那里没有 AMI 在监听", f"{where} refused the connection: no AMI listens there"),
                                     _say(f"确认 Asterisk 在运行，manager.conf 的 [general] 中 enabled = yes、port = {s.port}，且 bindaddr 是本机能连到的地址（不是只监听另一个地址）",
                                          f"check that Asterisk runs and that [general] of manager.conf has enabled = yes, port = {s.port} and a bindaddr this host can reach (not another address only)"))) from None  # fmt: skip
        raise _Stop(_unreachable(_say(f"无法连接 {where}：{exc}", f"cannot connect to {where}: {exc}"), _say("检查 ami.host 和 ami.port", "check ami.host and ami.port"))) from None


def _unreachable(text: str, fix: str) -> Finding:
    return Finding(Verdict.PROBLEM, "连接 connection", text, fix)


async def _login(ami: AmiSession, s: AmiSettings) -> None:
    reply = await ami.action("Login", Username=s.username, Secret=s.secret, Events="on")
    if reply.get("Response") == "Success":
        ami.logged_in = True
        return
    if "already in use" in reply.get("Message", "").lower():
        raise _Stop(Finding(Verdict.PROBLEM, "登录 login", _say(f"用户 {s.username} 已在别处登录，而 [{s.username}] 设置了 allowmultiplelogin = no", f"user {s.username} is logged in elsewhere and [{s.username}] sets allowmultiplelogin = no"),
                            _say(f"结束另一个会话，或在 manager.conf 的 [{s.username}] 中设置 allowmultiplelogin = yes", f"end the other session, or set allowmultiplelogin = yes in [{s.username}] of manager.conf")))  # fmt: skip
    # Asterisk answers an unknown user, a wrong secret and a refused address alike.
    message = reply.get("Message", "")
    raise _Stop(Finding(Verdict.PROBLEM, "登录 login", _say(f"Asterisk 拒绝了用户 {s.username} 的登录（{message}）", f"Asterisk refused the login of user {s.username} ({message})"),
                        _say(f"核对 manager.conf 中有 [{s.username}] 段、其 secret 与 ami.secret（HOTLINE_AMI_SECRET）一致，且其 deny/permit 放行本机地址 {ami.local_address}；是哪一项，Asterisk 的 security 日志会写明",
                             f"check that manager.conf has a [{s.username}] section whose secret is ami.secret (HOTLINE_AMI_SECRET) and whose deny/permit let in this host's address {ami.local_address}; Asterisk's security log says which it was")))  # fmt: skip


async def _look(ami: AmiSession, seen: Observed, login_queues: Sequence[str], *, probe: bool, wait: float) -> None:
    await ami.action("Ping")  # FullyBooted, if it comes, comes before the Pong
    listing = await ami.action("ListCommands")
    seen.listed = frozenset(listing) - {"Response", "ActionID", "Message"}
    probe_context_free = await _ask_contexts(ami, seen)
    queue = await _ask_queues(ami, seen, login_queues)
    if not probe:
        seen.untested.update(dict.fromkeys(("call", "dialplan", "agent"), _say("用 --no-probe 跳过了", "skipped with --no-probe")))
        return
    await _probe(ami, seen, queue, probe_context_free, wait)


async def _ask_contexts(ami: AmiSession, seen: Observed) -> bool:
    """Each (context, extension) the service originates into. True when PROBE_CONTEXT is
    known not to exist, or cannot be looked up (the name is the doctor's own)."""
    if "ShowDialPlan" not in seen.listed:
        seen.contexts = [(context, exten, None) for context, extensions, _ in CONTEXTS for exten in extensions]
        return True
    for context, extensions, _ in CONTEXTS:
        for exten in extensions:
            reply = await ami.list_action("ShowDialPlan", Context=context, Extension=exten)
            seen.contexts.append((context, exten, "" if reply.get("Response") == "Success" else reply.get("Message", "?")))
    return (await ami.list_action("ShowDialPlan", Context=PROBE_CONTEXT)).get("Response") != "Success"


async def _ask_queues(ami: AmiSession, seen: Observed, login_queues: Sequence[str]) -> str | None:
    """Whether each login queue exists, by removing a member that is not there: Asterisk says
    "No such queue" or "Not there" and changes nothing (a placeholder a crashed run left goes)."""
    if "QueueRemove" not in seen.listed:
        seen.queues = [(queue, None) for queue in login_queues]
        return None
    for queue in login_queues:
        reply = await ami.action("QueueRemove", Queue=queue, Interface=PROBE_CHANNEL)
        seen.queues.append((queue, "No such queue" not in reply.get("Message", "")))
    return next((queue for queue, exists in seen.queues if exists), None)


async def _probe(ami: AmiSession, seen: Observed, queue: str | None, context_free: bool, wait: float) -> None:
    """Both probes, then one wait for the events they should bring; the placeholder member
    goes again whatever happens."""
    start = len(ami.messages)
    expected: list[Callable[[Message], bool]] = []
    added_to = await _add_placeholder(ami, seen, queue, expected)
    try:
        await _originate_nowhere(ami, seen, context_free, expected)
        await ami.until(lambda: all(ami.find(match, start) for match in expected), wait)
    finally:
        if added_to is not None:
            await ami.action("QueueRemove", Queue=added_to, Interface=PROBE_CHANNEL)


async def _add_placeholder(ami: AmiSession, seen: Observed, queue: str | None, expected: list[Callable[[Message], bool]]) -> str | None:
    """A paused member nobody can reach, in a login queue: QueueMemberAdded shows read agent."""
    if not {"QueueAdd", "QueueRemove"} <= seen.listed or queue is None:
        seen.untested["agent"] = _say("需要 write agent 和一个存在的签入队列", "it needs write agent and a login queue that exists")
        return None
    reply = await ami.action("QueueAdd", Queue=queue, Interface=PROBE_CHANNEL, MemberName=PROBE_MEMBER, Paused="true", Reason="hotline doctor")
    if reply.get("Response") != "Success":
        seen.untested["agent"] = _say(f"QueueAdd 被拒绝：{reply.get('Message', '')}", f"QueueAdd was refused: {reply.get('Message', '')}")
        return None
    seen.tested.add("agent")
    expected.append(_event("QueueMemberAdded", Interface=PROBE_CHANNEL))
    seen.did.append(_say(f"在队列 {queue} 中加入又移除了一个暂停的占位成员 {PROBE_CHANNEL}（queue_log 记两行）",
                         f"a paused placeholder member {PROBE_CHANNEL} was added to queue {queue} and removed (two queue_log lines)"))  # fmt: skip
    return queue


async def _originate_nowhere(ami: AmiSession, seen: Observed, context_free: bool, expected: list[Callable[[Message], bool]]) -> None:
    """A Local channel into a context that does not exist: Newchannel shows read call, the
    VarSet of its Variable read dialplan; Asterisk finds no extension, so nothing runs."""
    if "Originate" not in seen.listed or not context_free:
        why = ("需要 write originate", "it needs write originate") if context_free else (f"上下文 {PROBE_CONTEXT} 存在，不向其中呼叫", f"context {PROBE_CONTEXT} exists: the doctor does not call into it")
        seen.untested.update(dict.fromkeys(("call", "dialplan"), _say(*why)))
        return
    channel_id = f"hotline-doctor-{secrets.token_hex(4)}"  # the ;1 half's Uniqueid
    reply = await ami.action("Originate", Channel=PROBE_CHANNEL, Application="NoOp", Data="hotline doctor", Async="true",
                             ChannelId=channel_id, Variable="HOTLINE_DOCTOR=probe", Timeout="1000")  # fmt: skip
    if reply.get("Response") != "Success":
        seen.untested.update(dict.fromkeys(("call", "dialplan"), _say(f"Originate 被拒绝：{reply.get('Message', '')}", f"Originate was refused: {reply.get('Message', '')}")))
        return
    seen.tested |= {"call", "dialplan"}
    expected += [_event("Newchannel", Uniqueid=channel_id), _event("VarSet", Uniqueid=channel_id)]
    seen.did.append(_say(f"向不存在的上下文发起了一次呼叫 {PROBE_CHANNEL}：没有电话振铃，Asterisk 日志记一条 NOTICE",
                         f"one call was originated to {PROBE_CHANNEL}, a context that does not exist: no phone rang, Asterisk logs one NOTICE"))  # fmt: skip


def _event(name: str, **fields: str) -> Callable[[Message], bool]:
    return lambda m: m.get("Event") == name and all(m.get(key) == value for key, value in fields.items())

"""Screen pops over real WebSockets, driven by Asterisk 22's recorded calls through the real
capture path: each pop reaches exactly the agent whose phone rings, with the caller's
directory profile, then the ticket and its forward countdown, and settles when the call ends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from hotline.calls.capture import CallCapture
from hotline.calls.store import CallStore
from hotline.ami.tracker import CallTracker
from hotline.events import CallArrived, EventBus
from hotline.metrics import Metrics
from hotline.users.store import Role, User, UserStore

from .conftest import VIP_NOTES, Console, Socket, agents, messages

ZHANG_SAN = "1795533174.102"  # chinese-names: 张三 13912345678, rings agent 8002
LI_SI = "1795533175.106"  # chinese-names: 李四（巴中分公司） 13800000001 (VIP), rings agent 8009
LI_SI_ANSWERED = datetime.fromisoformat("2026-11-24T15:12:55.573517+00:00")
NO_ANSWER = "1795532996.10"  # agent-no-answer-then-answer: 8003 rings in vain, 8002 answers
TRANSFERRED = "1795576001.0"  # blind-transfer: 8001 answers, hands on to 8002@agents
VIP = "1795532969.4"  # answered-vip: 13800000001, vip-agent-8009
REGULAR = "1795532957.0"  # answered-regular: Zhang San 13912345678, agent-8001


def stages(socket: Socket) -> list[tuple[str, str, bool]]:
    """(call, stage, has a ticket) of every pop the socket received, in order."""
    return [(m["call_id"], m["stage"], m["ticket"] is not None) for m in socket.of_type("pop")]


@pytest.mark.parametrize("one_by_one", [True, False], ids=["streamed", "one-batch"])
async def test_the_ringing_pop_with_the_chinese_name_and_vip_tier_reaches_exactly_the_ringing_agent(console: Console, one_by_one: bool) -> None:
    a8001, a8002, a8009, supervisor, repair = await agents(console, "agent8001", "agent8002", "王经理", "值班长", "维修员")

    await console.play("chinese-names", one_by_one=one_by_one)

    ring = await a8009.next("pop", call_id=LI_SI, stage="ringing")
    assert ring["queue"] == "vip"
    assert ring["caller"] == {
        "number": "13800000001",
        "display": "138 0000 0001",
        "callerid_name": "李四（巴中分公司）",
        "name": "李四",
        "customer_id": ring["caller"]["customer_id"],
        "tier": "vip",
        "area": "urban",
        "account_manager": {"name": "王经理", "extension": "8009"},
        "notes": VIP_NOTES,
    }
    assert ring["caller"]["customer_id"] is not None
    assert ring["ticket"] is None and ring["open_tickets"] == [] and ring["last_calls"] == [] and ring["repeat"] is None
    zhang = await a8002.next("pop", call_id=ZHANG_SAN, stage="ringing")
    assert zhang["caller"]["callerid_name"] == "张三"
    assert zhang["caller"]["tier"] == "regular" and zhang["caller"]["name"] is None and zhang["caller"]["notes"] is None
    await console.settled()
    for socket, call in ((a8009, LI_SI), (a8002, ZHANG_SAN)):
        if one_by_one:
            assert stages(socket) == [(call, "ringing", False), (call, "talking", False), (call, "talking", True), (call, "ended", True)]
        else:
            # One batch: the pops hear the whole call (live bus) before it is stored and its
            # ticket opened; the pop still settles, last, into the ended call's ticket.
            assert stages(socket) == [(call, "ringing", False), (call, "talking", False), (call, "ended", False), (call, "ended", True)]
    assert a8001.of_type("pop") == supervisor.of_type("pop") == repair.of_type("pop") == []


async def test_talking_shows_the_ticket_with_its_forward_countdown_then_the_pop_settles(console: Console) -> None:
    (a8009,) = await agents(console, "王经理")

    await console.play("chinese-names")

    await a8009.next("pop", call_id=LI_SI, stage="ringing")
    assert (await a8009.next("pop", call_id=LI_SI, stage="talking"))["ticket"] is None  # answered: the ticket is opening
    talking = await a8009.next("pop", call_id=LI_SI, stage="talking")
    ticket = talking["ticket"]
    assert ticket["number"].startswith("T-2026112") and ticket["status"] == "open" and ticket["linked"] is False
    assert datetime.fromisoformat(ticket["forward_due_at"]) == LI_SI_ANSWERED + timedelta(minutes=10)
    assert {"kind": "forward", "due_at": ticket["forward_due_at"], "state": "pending"} in ticket["deadlines"]
    ended = await a8009.next("pop", call_id=LI_SI, stage="ended")
    assert ended["ticket"] == ticket
    assert ended["caller"] == talking["caller"]


async def test_a_reconnected_agent_is_greeted_with_the_current_pop(console: Console) -> None:
    a8009, a8002 = await agents(console, "王经理", "agent8002")
    await console.play("chinese-names")
    await console.settled()
    last = a8009.of_type("pop")[-1]
    await a8009.close()

    again = await console.connect("王经理")
    hello = await again.next("hello")

    assert hello["pop"] == last
    assert hello["pop"]["stage"] == "ended" and hello["pop"]["call_id"] == LI_SI
    assert hello["user"]["extension"] == "8009" and "calls" not in hello
    other = await (await console.connect("agent8002")).next("hello")
    assert other["pop"]["call_id"] == ZHANG_SAN


async def test_the_agent_who_did_not_answer_gets_missed_and_the_one_who_did_talks(console: Console) -> None:
    a8003, a8002 = await agents(console, "agent8003", "agent8002")

    await console.play("agent-no-answer-then-answer")
    await console.settled()

    assert stages(a8003) == [(NO_ANSWER, "ringing", False), (NO_ANSWER, "missed", False)]
    assert stages(a8002) == [(NO_ANSWER, "ringing", False), (NO_ANSWER, "talking", False), (NO_ANSWER, "talking", True), (NO_ANSWER, "ended", True)]
    assert (await (await console.connect("agent8003")).next("hello"))["pop"]["stage"] == "missed"


async def test_a_blind_transfer_settles_the_first_agents_pop_as_transferred(console: Console) -> None:
    a8001, a8002 = await agents(console, "agent8001", "agent8002")

    await console.play("blind-transfer")
    await console.settled()

    assert stages(a8001) == [(TRANSFERRED, "ringing", False), (TRANSFERRED, "talking", False), (TRANSFERRED, "talking", True), (TRANSFERRED, "transferred", True)]
    assert a8002.of_type("pop") == []


async def test_a_caller_name_that_looks_like_html_arrives_unchanged_as_text(console: Console) -> None:
    (a8001,) = await agents(console, "agent8001")
    evil = "<img src=x onerror=alert(1)>"

    await console.play("answered-regular", replace={b"Zhang San": evil.encode()})

    ring = await a8001.next("pop", call_id=REGULAR, stage="ringing")
    assert ring["caller"]["callerid_name"] == evil
    assert any(f'"callerid_name": "{evil}"' in frame for frame in a8001.frames)  # not &lt;, not \u003c


async def test_a_repeat_caller_sees_the_open_ticket_and_last_call_then_the_call_is_linked(console: Console) -> None:
    (a8009,) = await agents(console, "王经理")
    await console.play("answered-vip")
    first = (await a8009.next("pop", call_id=VIP, stage="ended"))["ticket"]

    await console.play("chinese-names")

    ring = await a8009.next("pop", call_id=LI_SI, stage="ringing")
    assert [(t["id"], t["status"]) for t in ring["open_tickets"]] == [(first["id"], "open")]
    assert ring["open_tickets"][0]["next_due_at"] is not None
    assert ring["open_tickets"][0]["next_due_kind"] == "forward"  # its countdown warns as a forward does
    assert [(c["id"], c["outcome"], c["agent"]) for c in ring["last_calls"]] == [(VIP, "answered", "vip-agent-8009")]
    # 重复来电: rang again within 3 days about a ticket still open.
    assert (ring["repeat"]["ticket_id"], ring["repeat"]["ticket"], ring["repeat"]["days"]) == (first["id"], first["number"], 3)
    linked = await a8009.next("pop", call_id=LI_SI, stage="talking", ticket=None)
    linked = await a8009.next("pop", call_id=LI_SI, stage="talking")
    assert linked["ticket"]["id"] == first["id"] and linked["ticket"]["linked"] is True


async def test_after_a_restart_a_ring_for_a_call_already_live_still_pops_the_caller(console: Console) -> None:
    """The service stopped after the call arrived: no CallArrived comes again."""
    (a8009,) = await agents(console, "王经理")
    found = messages("answered-vip")
    cut = next(i for i, m in enumerate(found) if m.get("Event") == "AgentCalled")
    before = CallCapture(CallTracker({"96655"}), CallStore(console.engine), EventBus(), Metrics())
    await before.handle(found[:cut])  # type: ignore[arg-type]
    await console.capture.restore()

    await console.capture.handle(found[cut:])  # type: ignore[arg-type]

    ring = await a8009.next("pop", call_id=VIP, stage="ringing")
    assert ring["caller"]["name"] == "李四" and ring["caller"]["tier"] == "vip" and ring["caller"]["callerid_name"] == "VIP Li Si"
    await a8009.next("pop", call_id=VIP, stage="talking", ticket=None)
    assert (await a8009.next("pop", call_id=VIP, stage="talking"))["ticket"]["status"] == "open"


async def test_a_calls_context_is_forgotten_minutes_after_it_ended(console: Console) -> None:
    await console.play("chinese-names")
    await console.settled()
    assert {ZHANG_SAN, LI_SI} <= console.pops.known_calls()
    ended: Any = datetime.fromisoformat("2026-11-24T15:13:00+00:00")

    await console.pops.on_arrived(CallArrived("later.1", ended + timedelta(minutes=5), "13700000000", None, "PJSIP/trunk-1"))
    assert {ZHANG_SAN, LI_SI} <= console.pops.known_calls()
    await console.pops.on_arrived(CallArrived("later.2", ended + timedelta(minutes=11), "13700000000", None, "PJSIP/trunk-2"))

    assert console.pops.known_calls() == {"later.1", "later.2"}
    assert (await (await console.connect("王经理")).next("hello"))["pop"]["call_id"] == LI_SI  # the settled pop stays


async def test_an_agent_added_after_the_start_gets_their_pop_and_an_unknown_extension_none(console: Console) -> None:
    (a8001,) = await agents(console, "agent8001")
    await console.play("answered-vip")  # the users' extensions are in memory now
    added, _ = await UserStore(console.engine).add("agent8005", "agent", extension="8005")
    console.people["agent8005"] = User(added.id, "agent8005", Role.AGENT, extension="8005")
    a8005 = await console.connect("agent8005")
    await a8005.next("hello")

    await console.play("answered-regular", replace={b"Local/8001@": b"Local/8005@", b"agent-8001": b"agent-8005"})
    await console.play("blind-transfer", replace={b"Local/8001@": b"Local/8006@", b"agent-8001": b"agent-8006"})

    assert (await a8005.next("pop", call_id=REGULAR, stage="ringing"))["caller"]["callerid_name"] == "Zhang San"
    await console.settled()
    assert a8001.of_type("pop") == []
    assert {m["call_id"] for m in a8005.of_type("pop")} == {REGULAR}

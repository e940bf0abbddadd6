"""The live feeds over real WebSockets: ticket messages reach the owner, the ticket's
department and the supervisors, never another department; deadline messages the users the
scheduler names and the supervisors; call messages supervisors and admins only."""

from __future__ import annotations

from datetime import datetime

from hotline.events import CallArrived
from hotline.tickets.events import DeadlineBreached, DeadlineWarned

from .conftest import Console, Socket, agents, messages
from .test_pops import LI_SI, VIP, ZHANG_SAN


def calls_of(socket: Socket) -> list[tuple[str, str]]:
    return [(m["call"]["id"], m["call"]["state"]) for m in socket.of_type("call")]


async def test_supervisors_and_admins_see_every_change_of_a_live_call_and_nobody_else_does(console: Console) -> None:
    supervisor, admin, agent, repair = await agents(console, "值班长", "管理员", "王经理", "维修员")

    await console.play("answered-vip")

    for socket in (supervisor, admin):
        ended = await socket.next("call", where=lambda m: m["call"]["state"] == "ended")
        assert ended["call"]["id"] == VIP and ended["call"]["outcome"] == "answered"
        assert ended["call"]["caller_number"] == "13800000001" and ended["call"]["tier"] == "vip" and ended["call"]["queue"] == "vip"
        assert ended["call"]["agent"] == "vip-agent-8009" and ended["call"]["answered_at"] is not None
        states = [state for call_id, state in calls_of(socket) if call_id == VIP]
        assert states[0] == "arriving" and states[-1] == "ended" and {"queued", "ringing", "talking"} <= set(states)
    await console.settled()
    assert agent.of_type("call") == repair.of_type("call") == []


async def test_a_supervisor_is_greeted_with_the_live_calls(console: Console) -> None:
    found = messages("chinese-names")
    cut = next(i for i, m in enumerate(found) if m.get("Event") == "AgentConnect")
    await console.capture.handle(found[:cut])  # type: ignore[arg-type]

    hello = await (await console.connect("值班长")).next("hello")
    agent_hello = await (await console.connect("agent8002")).next("hello")

    assert [(c["id"], c["caller_name"], c["state"]) for c in hello["calls"]] == [(ZHANG_SAN, "张三", "ringing")]
    assert "calls" not in agent_hello


async def test_ticket_messages_reach_the_owner_the_department_and_supervisors_but_never_another_department(console: Console) -> None:
    owner, other_agent, supervisor, admin, repair, hall = await agents(console, "王经理", "agent8001", "值班长", "管理员", "维修员", "营业员")
    await console.play("answered-vip")
    opened = await owner.next("ticket", kind="opened")
    assert opened["owner_user_id"] == console.people["王经理"].id and opened["status"] == "open" and opened["department_id"] is None
    assert (await supervisor.next("ticket", kind="opened"))["ticket_id"] == opened["ticket_id"]
    assert (await admin.next("ticket", kind="opened"))["number"] == opened["number"]

    await console.tickets.forward(console.people["王经理"], opened["ticket_id"], "维修部", "光猫故障")

    forwarded = await repair.next("ticket", kind="forwarded")
    assert forwarded["department_id"] == console.department_ids["维修部"] and forwarded["status"] == "forwarded"
    assert forwarded["actor_user_id"] == console.people["王经理"].id
    assert (await owner.next("ticket", kind="forwarded"))["ticket_id"] == opened["ticket_id"]
    await supervisor.next("ticket", kind="forwarded")
    await console.settled()
    assert hall.of_type("ticket") == other_agent.of_type("ticket") == []
    assert [m["kind"] for m in repair.of_type("ticket")] == ["forwarded"]  # the opening was not its business


async def test_deadline_messages_reach_the_named_users_and_supervisors_only(console: Console) -> None:
    repair, hall, supervisor, admin, agent = await agents(console, "维修员", "营业员", "值班长", "管理员", "agent8001")
    moment = datetime.fromisoformat("2026-11-25T02:05:00+00:00")

    await console.bus.publish(DeadlineBreached(3, "T-20261125-0003", moment, "acknowledge", moment, 2, (console.people["维修员"].id,), 0.0))
    await console.bus.publish(DeadlineWarned(3, "T-20261125-0003", moment, "forward", moment, (console.people["agent8001"].id,), 0.0))

    breached = await repair.next("deadline")
    assert breached == {"type": "deadline", "event": "breached", "ticket_id": 3, "number": "T-20261125-0003", "deadline": "acknowledge", "due_at": "2026-11-25T02:05:00+00:00", "level": 2, "late_seconds": 0.0, "at": "2026-11-25T02:05:00+00:00"}
    warned = await agent.next("deadline")
    assert warned["event"] == "warned" and warned["level"] is None
    for socket in (supervisor, admin):
        assert [(m["event"], m["deadline"]) for m in [await socket.next("deadline"), await socket.next("deadline")]] == [("breached", "acknowledge"), ("warned", "forward")]
    await console.settled()
    assert hall.of_type("deadline") == []
    assert len(repair.of_type("deadline")) == len(agent.of_type("deadline")) == 1


async def test_agents_and_departments_never_receive_call_messages_even_for_their_own_calls(console: Console) -> None:
    a8002, a8009, repair = await agents(console, "agent8002", "王经理", "维修员")

    await console.play("chinese-names")
    await console.settled()

    assert a8002.of_type("pop") and a8009.of_type("pop")
    assert a8002.of_type("call") == a8009.of_type("call") == repair.of_type("call") == []
    assert {m["call_id"] for m in a8009.of_type("pop")} == {LI_SI}


async def test_a_call_whose_end_never_came_is_forgotten_after_hours(console: Console) -> None:
    found = messages("chinese-names")
    cut = next(i for i, m in enumerate(found) if m.get("Event") == "AgentConnect")
    await console.capture.handle(found[:cut])  # type: ignore[arg-type]
    console.store._live.clear()  # the store has long since let it go (a resync ended it unseen)
    later = datetime.fromisoformat("2026-11-25T04:00:00+00:00")

    await console.feed.on_call_event(CallArrived("later.1", later, "13700000000", None, "PJSIP/trunk-1"))

    hello = await (await console.connect("值班长")).next("hello")
    assert [c["id"] for c in hello["calls"]] == ["later.1"]

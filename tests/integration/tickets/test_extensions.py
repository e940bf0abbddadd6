"""Extension requests (工作延时完成申请): filed with a reason by who works the ticket, decided
by a supervisor; the deadline moves only on approval, and everything is on the timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hotline.errors import BadRequest
from hotline.tickets.errors import DeadlineNotOpen, ExtensionDecided, ExtensionPending, Forbidden
from hotline.tickets.standard import Area, Category, FaultKind

from .conftest import START, Desk

H = timedelta(hours=1)


@pytest.fixture
async def duct_fault(desk: Desk) -> int:
    """An urban duct fault (12 h to fix), forwarded to and acknowledged by 维修部."""
    ticket_id = await desk.open(category=Category.FAULT_REPORT, fault_kind=FaultKind.DUCT)
    await desk.service.forward(desk.people["小王"], ticket_id, "维修部")
    await desk.service.acknowledge(desk.people["维修员"], ticket_id)
    return ticket_id


async def test_the_deadline_moves_only_when_a_supervisor_approves(desk: Desk, duct_fault: int) -> None:
    svc, p = desk.service, desk.people
    desk.clock.advance(9 * H)

    first = await svc.request_extension(p["维修员"], duct_fault, "repair_fix", START + 20 * H, "管道被占, 需协调市政")
    assert (await desk.deadlines(duct_fault))["repair_fix"].due_at == START + 12 * H
    await svc.reject_extension(p["值班长"], duct_fault, first, "先协调再说")
    assert (await desk.deadlines(duct_fault))["repair_fix"].due_at == START + 12 * H

    second = await svc.request_extension(p["小王"], duct_fault, "repair_fix", START + 18 * H, "市政许可明早下发")
    desk.clock.advance(H)
    await svc.approve_extension(p["值班长"], duct_fault, second, "同意")

    fix = (await desk.deadlines(duct_fault))["repair_fix"]
    assert (fix.due_at, fix.started_at, fix.warn_at) == (START + 18 * H, START, START + timedelta(hours=14, minutes=24))
    assert (fix.warned_at, fix.next_fire_at, fix.version) == (None, fix.warn_at, 1)
    timeline = await desk.timeline(duct_fault)
    assert timeline[-4:] == [
        ("extension_requested", desk.id_of("维修员"), "管道被占, 需协调市政"),
        ("extension_rejected", desk.id_of("值班长"), "先协调再说"),
        ("extension_requested", desk.id_of("小王"), "市政许可明早下发"),
        ("extension_approved", desk.id_of("值班长"), "同意"),
    ]
    requests = (await svc.detail(p["值班长"], duct_fault))["extension_requests"]
    assert [(r["state"], r["deadline"], r["decided_by_name"]) for r in requests] == [("rejected", "repair_fix", "值班长"), ("approved", "repair_fix", "值班长")]


async def test_one_pending_request_per_deadline(desk: Desk, duct_fault: int) -> None:
    await desk.service.request_extension(desk.people["维修员"], duct_fault, "repair_fix", START + 20 * H, "缺料")

    with pytest.raises(ExtensionPending):
        await desk.service.request_extension(desk.people["小王"], duct_fault, "repair_fix", START + 24 * H, "缺料")

    detail = await desk.service.detail(desk.people["小王"], duct_fault)
    [fix] = [d for d in detail["deadlines"] if d["kind"] == "repair_fix"]
    assert fix["pending_extension"]["reason"] == "缺料"


async def test_an_agent_cannot_approve_and_a_decided_request_is_not_decided_twice(desk: Desk, duct_fault: int) -> None:
    request = await desk.service.request_extension(desk.people["维修员"], duct_fault, "repair_fix", START + 20 * H, "缺料")

    with pytest.raises(Forbidden):
        await desk.service.approve_extension(desk.people["小王"], duct_fault, request)
    with pytest.raises(Forbidden):
        await desk.service.approve_extension(desk.people["维修部主任"], duct_fault, request)
    await desk.service.approve_extension(desk.people["管理员"], duct_fault, request)
    with pytest.raises(ExtensionDecided):
        await desk.service.reject_extension(desk.people["值班长"], duct_fault, request)
    assert (await desk.deadlines(duct_fault))["repair_fix"].due_at == START + 20 * H


async def test_a_met_deadline_or_an_earlier_due_time_cannot_be_requested(desk: Desk, duct_fault: int) -> None:
    with pytest.raises(DeadlineNotOpen):
        await desk.service.request_extension(desk.people["维修员"], duct_fault, "acknowledge", START + 2 * H, "迟了")
    with pytest.raises(DeadlineNotOpen):
        await desk.service.request_extension(desk.people["维修员"], duct_fault, "installation", START + 2 * H, "无此时限")
    with pytest.raises(BadRequest):
        await desk.service.request_extension(desk.people["维修员"], duct_fault, "repair_fix", START + 11 * H, "提前?")


async def test_approving_a_breached_deadline_into_the_future_starts_its_timer_over(desk: Desk, duct_fault: int) -> None:
    desk.clock.advance(13 * H)
    await desk.scheduler_breaches(duct_fault, "repair_fix")
    request = await desk.service.request_extension(desk.people["维修员"], duct_fault, "repair_fix", START + 16 * H, "暴雨停工")

    await desk.service.approve_extension(desk.people["值班长"], duct_fault, request)

    fix = (await desk.deadlines(duct_fault))["repair_fix"]
    assert (fix.state, fix.breached_at, fix.escalation_level) == ("pending", None, 0)
    assert (fix.warned_at, fix.next_fire_at) == (START + timedelta(hours=9, minutes=36), START + 16 * H)  # its new warning (12 h 48 min) has passed


async def test_an_approved_extension_survives_a_correction(desk: Desk, duct_fault: int) -> None:
    request = await desk.service.request_extension(desk.people["维修员"], duct_fault, "repair_fix", START + 20 * H, "缺料")
    await desk.service.approve_extension(desk.people["值班长"], duct_fault, request)

    await desk.service.classify(desk.people["小王"], duct_fault, {"area": Area.SUBURBAN})  # suburban duct: 24 h
    assert (await desk.deadlines(duct_fault))["repair_fix"].due_at == START + 24 * H
    await desk.service.classify(desk.people["小王"], duct_fault, {"area": Area.URBAN})  # back to 12 h: the extension stands
    assert (await desk.deadlines(duct_fault))["repair_fix"].due_at == START + 20 * H


async def test_closing_rejects_requests_still_waiting(desk: Desk) -> None:
    ticket_id = await desk.open(category=Category.INQUIRY)
    await desk.service.request_extension(desk.people["小王"], ticket_id, "reply", START + 2 * H, "等资费部门确认")
    await desk.service.resolve(desk.people["小王"], ticket_id, "已答复")
    await desk.service.close(desk.people["小王"], ticket_id)

    [request] = (await desk.service.detail(desk.people["小王"], ticket_id))["extension_requests"]
    assert (request["state"], request["decided_by"]) == ("rejected", desk.id_of("小王"))

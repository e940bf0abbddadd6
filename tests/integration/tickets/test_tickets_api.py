"""The tickets API over HTTP: opening by hand, the actions and their refusals (400 with every
problem named and nothing changed, 403, 409), the list's filters, the detail, departments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from .conftest import Api


async def test_a_ticket_opened_by_hand_comes_back_with_its_deadlines(api: Api) -> None:
    status, ticket = await api.call("POST", "/api/tickets", json={"source": "walk_in", "category": "fault_report", "fault_kind": "major", "summary": "整栋楼无信号", "caller_number": "0827-5551234"})

    assert status == 201
    assert (ticket["number"], ticket["status"], ticket["owner"], ticket["caller_number"]) == ("T-20261125-0001", "open", "小王", "+868275551234")
    assert [(d["kind"], d["due_at"], d["late_seconds"], d["breached"]) for d in ticket["deadlines"]] == [
        ("forward", "2026-11-25T02:10:00+00:00", 0.0, False),
        ("repair_respond", "2026-11-25T02:10:00+00:00", 0.0, False),
        ("repair_fix", "2026-11-26T02:00:00+00:00", 0.0, False),
    ]
    assert [e["kind"] for e in ticket["timeline"]] == ["opened"]
    assert ticket["allowed_actions"] == sorted(["resolve", "forward", "classify", "note", "reply", "request_extension", "approve_extension", "reject_extension"])


@pytest.mark.parametrize(
    "body, problems",
    [
        ({}, ["source is missing", "category is missing", "summary is missing"]),
        (
            {"source": "fax", "category": "gossip", "summary": "", "color": "red"},
            [
                "unknown field 'color'; the fields are: source, category, summary, caller_number, caller_name, tier, area, fault_kind, install_kind",
                "source must be one of: walk_in, letter, government_referral, other",
                "category must be one of: inquiry, fault_report, complaint, business, restoration, other",
                "summary must be a text of 1 to 4000 characters",
            ],
        ),
    ],
)
async def test_a_bad_ticket_is_refused_with_every_problem_and_nothing_is_stored(api: Api, body: dict[str, Any], problems: list[str]) -> None:
    status, refused = await api.call("POST", "/api/tickets", json=body)

    assert status == 400
    assert (refused["error_id"], refused["details"]["problems"]) == ("bad_request", problems)
    assert await api.desk.count_tickets() == 0


async def test_the_actions_over_http_with_their_refusals(api: Api) -> None:
    ticket = await api.open()
    tid = ticket["id"]

    status, forwarded = await api.act(tid, "forward", department="维修部", reason="需上门")
    assert (status, forwarded["status"], forwarded["department"]) == (200, "forwarded", "维修部")

    status, refused = await api.act(tid, "acknowledge")
    assert (status, refused["error_id"]) == (403, "forbidden")
    status, _ = await api.act(tid, "acknowledge", as_="维修员", reason="收到")
    assert status == 200

    status, refused = await api.act(tid, "close")
    assert (status, refused["error_id"]) == (409, "illegal_transition")
    assert refused["message"] == "不能对已响应的工单执行关闭 / cannot close an acknowledged ticket"
    assert refused["details"] == {"status": "acknowledged", "action": "close"}

    status, resolved = await api.act(tid, "resolve", as_="维修员", resolution="已更换分支器")
    assert resolved["status"] == "resolved"
    status, refused = await api.act(tid, "close")
    assert (status, refused["error_id"]) == (409, "follow_up_required")
    await api.act(tid, "follow-up", result="客户满意")
    status, closed = await api.act(tid, "close", reason="回访完成")
    assert (status, closed["status"]) == (200, "closed")
    assert [(e["kind"], e["actor"], e["reason"]) for e in closed["timeline"]] == [
        ("opened", "小王", None),
        ("forwarded", "小王", "需上门"),
        ("acknowledged", "维修员", "收到"),
        ("resolved", "维修员", "已更换分支器"),
        ("followed_up", "小王", "客户满意"),
        ("closed", "小王", "回访完成"),
    ]


@pytest.mark.parametrize(
    "action, body, problem",
    [
        ("forward", {"department": 3.5}, "department must be a text of 1 to 200 characters"),
        ("forward", {}, "department is missing"),
        ("note", {"text": "  "}, "text must be a text of 1 to 4000 characters"),
        ("classify", {"tier": "gold"}, "tier must be one of: vip, key_account, private_network, regular"),
        ("request-extension", {"deadline": "reply", "new_due_at": "2026-11-25 18:00", "reason": "等确认"}, 'new_due_at must be a time with its zone, e.g. "2026-11-25T18:00:00+08:00"'),
        ("request-extension", {"deadline": "reply", "new_due_at": "2026-11-25T18:00:00+08:00"}, "reason is missing"),
        ("approve-extension", {"request_id": "1"}, "request_id must be an id (a whole number from 1)"),
    ],
)
async def test_a_bad_action_body_is_400_and_changes_nothing(api: Api, action: str, body: dict[str, Any], problem: str) -> None:
    tid = (await api.open())["id"]
    before = await api.desk.timeline(tid)

    status, refused = await api.act(tid, action, as_="值班长", **body)

    assert (status, refused["error_id"], refused["details"]["problems"]) == (400, "bad_request", [problem])
    assert await api.desk.timeline(tid) == before


async def test_a_body_that_is_not_a_json_object_is_400(api: Api) -> None:
    tid = (await api.open())["id"]
    for raw in (b"[1]", b"{nope"):
        status, refused = await api.call("POST", f"/api/tickets/{tid}/note", data=raw)
        assert (status, refused["message"]) == (400, "the body must be a JSON object")


async def test_unknown_tickets_and_actions_are_404(api: Api) -> None:
    tid = (await api.open())["id"]
    assert (await api.call("GET", "/api/tickets/999"))[0] == 404
    assert (await api.call("GET", "/api/tickets/abc"))[0] == 404
    assert (await api.act(tid, "escalate"))[0] == 404
    assert (await api.act(999, "note", text="x"))[0] == 404


async def test_extensions_over_http_move_the_deadline_on_approval_only(api: Api) -> None:
    tid = (await api.open(category="inquiry"))["id"]
    status, requested = await api.act(tid, "request-extension", deadline="reply", new_due_at="2026-11-25T12:00:00+08:00", reason="等资费部门确认")
    [reply] = [d for d in requested["deadlines"] if d["kind"] == "reply"]
    assert (status, reply["due_at"], reply["pending_extension"]["reason"]) == (200, "2026-11-25T02:30:00+00:00", "等资费部门确认")
    request_id = reply["pending_extension"]["id"]

    status, refused = await api.act(tid, "approve-extension", request_id=request_id)
    assert (status, refused["error_id"]) == (403, "forbidden")
    status, again = await api.act(tid, "request-extension", deadline="reply", new_due_at="2026-11-25T13:00:00+08:00", reason="再等等")
    assert (status, again["error_id"]) == (409, "extension_pending")

    status, approved = await api.act(tid, "approve-extension", as_="值班长", request_id=request_id, reason="同意")
    [reply] = [d for d in approved["deadlines"] if d["kind"] == "reply"]
    assert (status, reply["due_at"], reply["pending_extension"]) == (200, "2026-11-25T04:00:00+00:00", None)


async def test_the_list_filters_and_pages(api: Api) -> None:
    desk = api.desk
    first = (await api.open(category="inquiry"))["id"]
    second = (await api.open(category="complaint"))["id"]
    third = (await api.open(as_="小李", category="complaint"))["id"]
    await api.act(second, "forward", department="维修部")
    await api.act(third, "forward", as_="小李", department="营业厅")
    desk.clock.advance(timedelta(minutes=12))
    await api.act(first, "resolve", resolution="已解答")

    async def ids(query: str, as_: str = "值班长") -> list[int]:
        status, body = await api.call("GET", f"/api/tickets?{query}", as_)
        assert status == 200, body
        return [t["id"] for t in body["tickets"]]

    assert await ids("") == [third, second, first]
    assert await ids("status=forwarded") == [third, second]
    assert await ids("status=resolved,open") == [first]
    assert await ids(f"department={desk.department_ids['维修部']}") == [second]
    assert await ids(f"owner={desk.id_of('小李')}") == [third]
    assert await ids("overdue=true") == [third, second]  # their 5-minute acknowledgements ran out
    assert await ids("limit=1&offset=1") == [second]
    assert await ids("", as_="营业员") == [third]
    status, page = await api.call("GET", "/api/tickets?limit=1", "值班长")
    assert (page["total"], page["tickets"][0]["overdue"], page["tickets"][0]["next_due_at"]) == (3, True, "2026-11-25T02:05:00+00:00")
    for query in ("status=lost", "department=x", "overdue=maybe", "limit=0", "offset=-1"):
        assert (await api.call("GET", f"/api/tickets?{query}", "值班长"))[0] == 400, query


async def test_departments_are_listed_to_all_and_changed_by_admins(api: Api) -> None:
    status, listed = await api.call("GET", "/api/departments")
    assert (status, [d["name"] for d in listed["departments"]]) == (200, ["维修部", "营业厅"])
    repair = listed["departments"][0]
    assert (repair["head_user_id"], sorted(m["name"] for m in repair["members"])) == (api.desk.id_of("维修部主任"), ["维修员", "维修部主任"])

    status, refused = await api.call("POST", "/api/departments", json={"name": "工程技术部"})
    assert (status, refused["error_id"]) == (403, "forbidden")
    status, created = await api.call("POST", "/api/departments", "管理员", json={"name": "工程技术部"})
    assert (status, created["members"]) == (201, [])
    status, duplicate = await api.call("POST", "/api/departments", "管理员", json={"name": "工程技术部"})
    assert status == 400

    status, changed = await api.call("POST", f"/api/departments/{created['id']}/members", "管理员", json={"user_id": api.desk.id_of("维修员"), "head": True})
    assert (status, changed["head_user_id"], [m["name"] for m in changed["members"]]) == (200, api.desk.id_of("维修员"), ["维修员"])
    status, _ = await api.call("POST", f"/api/departments/{created['id']}/members", "值班长", json={"user_id": 1})
    assert status == 403
    status, missing = await api.call("POST", "/api/departments/99/members", "管理员", json={"user_id": 1})
    assert status == 404


async def test_a_department_that_forwards_a_ticket_on_sees_the_result_but_not_the_ticket_after(api: Api) -> None:
    tid = (await api.open())["id"]
    await api.act(tid, "forward", department="营业厅")

    status, forwarded = await api.act(tid, "forward", as_="营业员", department="维修部", reason="不归营业厅")

    assert (status, forwarded["department"]) == (200, "维修部")
    assert (await api.call("GET", f"/api/tickets/{tid}", "营业员"))[0] == 403


async def test_attention_lists_tickets_past_a_warning_and_names_the_next_deadline(api: Api) -> None:
    desk = api.desk
    early = (await api.open(category="inquiry"))["id"]
    desk.clock.advance(timedelta(minutes=9))  # past the forward warning (80 % of 10 minutes), not yet due
    fresh = (await api.open(category="inquiry"))["id"]

    status, body = await api.call("GET", "/api/tickets?attention=true", "值班长")
    assert status == 200
    assert [(t["id"], t["next_due_kind"], t["overdue"]) for t in body["tickets"]] == [(early, "forward", False)]
    status, every = await api.call("GET", "/api/tickets", "值班长")
    assert {t["id"]: t["next_due_kind"] for t in every["tickets"]} == {early: "forward", fresh: "forward"}
    assert (await api.call("GET", "/api/tickets?attention=maybe", "值班长"))[0] == 400


async def test_extension_requests_are_listed_to_who_may_see_their_ticket(api: Api) -> None:
    mine = (await api.open())["id"]
    theirs = (await api.open(as_="小李"))["id"]
    await api.act(mine, "request-extension", deadline="reply", new_due_at="2026-11-25T12:00:00+08:00", reason="等资费部门确认")
    await api.act(theirs, "request-extension", as_="小李", deadline="reply", new_due_at="2026-11-25T12:30:00+08:00", reason="客户出差")

    status, pending = await api.call("GET", "/api/extension-requests?state=pending", "值班长")
    assert status == 200
    assert [(r["ticket_id"], r["deadline"], r["reason"], r["requested_by_name"], r["due_at"], r["new_due_at"]) for r in pending["requests"]] == [
        (theirs, "reply", "客户出差", "小李", "2026-11-25T02:30:00+00:00", "2026-11-25T04:30:00+00:00"),
        (mine, "reply", "等资费部门确认", "小王", "2026-11-25T02:30:00+00:00", "2026-11-25T04:00:00+00:00"),
    ]
    assert pending["requests"][0]["ticket_number"].startswith("T-")
    # An agent sees only the requests on their own tickets.
    status, own = await api.call("GET", "/api/extension-requests", "小王")
    assert [r["ticket_id"] for r in own["requests"]] == [mine]

    await api.act(mine, "approve-extension", as_="值班长", request_id=pending["requests"][1]["id"])
    status, still = await api.call("GET", "/api/extension-requests?state=pending", "值班长")
    assert [r["ticket_id"] for r in still["requests"]] == [theirs]
    status, approved = await api.call("GET", "/api/extension-requests?state=approved", "值班长")
    assert [(r["ticket_id"], r["decided_by_name"]) for r in approved["requests"]] == [(mine, "值班长")]
    status, refused = await api.call("GET", "/api/extension-requests?state=maybe", "值班长")
    assert (status, refused["error_id"]) == (400, "bad_request")

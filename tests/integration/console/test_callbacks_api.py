"""Callbacks over HTTP on the service as composed (hotline/app.py `build` + `web_app`, the
fixtures of tests/integration/test_authorisation.py): who sees which callback, booking one
for the time a customer asked for (every problem named at once, nothing written), cancel
while scheduled only, recording a visit, a supervisor's retry of a failed one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from hotline.callbacks.book import Owed, schedule
from hotline.callbacks.model import CallbackKind, CallbackState, Mode, Outcome
from hotline.callbacks.tables import callback_attempts, callbacks
from hotline.web.i18n import MESSAGES
from tests.integration.test_authorisation import COOKIE, EVERYONE, PASSWORD, Service, service  # noqa: F401  (fixture)

S = CallbackState
CALLBACK_ROUTES = [
    ("GET", "/api/callbacks"),
    ("GET", "/api/callbacks/1"),
    ("POST", "/api/callbacks"),
    ("POST", "/api/callbacks/1/cancel"),
    ("POST", "/api/callbacks/1/record"),
    ("POST", "/api/callbacks/1/retry"),
]


def _in(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def _beijing(moment: datetime) -> str:
    """As the page sends a time: Beijing wall clock with its offset."""
    return moment.astimezone(timezone(timedelta(hours=8))).isoformat()


async def _owe(service: Service, kind: CallbackKind, number: str, *, state: S = S.SCHEDULED, due: datetime | None = None, attempts: int = 0, **more: Any) -> int:
    """A callback as the parts that owe them write it, then moved to `state` as the dialer would."""
    now = datetime.now(UTC)
    owed = Owed(kind=kind, mode=Mode.AGENT_FIRST, number=number, tier="regular", due_at=due or now, max_attempts=3, **more)
    async with service.parts.engine.begin() as conn:
        created = await schedule(conn, owed, now)
        assert created is not None
        for attempt in range(1, attempts + 1):
            ended = None if state == S.IN_FLIGHT and attempt == attempts else now
            row = {"callback_id": created, "attempt": attempt, "channel_id": f"cb-{created}-{attempt}", "started_at": now, "ended_at": ended, "outcome": "busy" if ended else None, "data": {"Reason": "5"} if ended else {}}
            await conn.execute(insert(callback_attempts).values(row))
        values: dict[str, Any] = {"state": state.value, "attempts": attempts}
        if state != S.SCHEDULED:
            values.update(next_attempt_at=None, open_key=None)
        if state == S.FAILED:
            values.update(outcome="busy", note=f"{attempts} attempts, the last: busy")
        if state == S.DONE:
            values.update(outcome="answered")
        await conn.execute(update(callbacks).where(callbacks.c.id == created).values(**values))
    return created


async def _rows(service: Service) -> list[tuple[Any, ...]]:
    async with service.parts.engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(select(callbacks).order_by(callbacks.c.id))]


async def _count(service: Service) -> int:
    async with service.parts.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(callbacks))).scalar_one())


async def _listed(service: Service, who: str, query: str = "") -> list[int]:
    status, body = await service.call("GET", f"/api/callbacks{query}", who)
    assert status == 200, body
    return [item["id"] for item in body["callbacks"]]


async def _forwarded_ticket(service: Service, department: str) -> int:
    tid = await service.open_ticket(by="agent8001")
    status, _ = await service.act(tid, "forward", "agent8001", department=service.department_ids[department])
    assert status == 200
    return tid


# --- listing ----------------------------------------------------------------------------------


async def test_a_supervisor_lists_callbacks_by_state_soonest_due_first_with_their_attempts(service: Service) -> None:
    later = await _owe(service, CallbackKind.ABANDONED, "13900000001", due=_in(hours=2))
    sooner = await _owe(service, CallbackKind.ABANDONED, "13900000002", due=_in(minutes=5))
    ringing = await _owe(service, CallbackKind.MANUAL, "13900000003", state=S.IN_FLIGHT, attempts=1, agent_extension="8001")
    failed = await _owe(service, CallbackKind.AFTER_HOURS, "13900000004", state=S.FAILED, attempts=3)
    await _owe(service, CallbackKind.ABANDONED, "13900000005", state=S.DONE, attempts=1)

    status, body = await service.call("GET", "/api/callbacks?state=scheduled,in_flight,failed", "值班长")

    assert status == 200
    assert [item["id"] for item in body["callbacks"]] == [ringing, sooner, later, failed]
    shown = {item["id"]: item for item in body["callbacks"]}
    assert shown[failed]["state"] == "failed"
    assert shown[failed]["attempts_made"] == 3
    assert [(a["attempt"], a["outcome"], a["data"]) for a in shown[failed]["attempts"]] == [(n, "busy", {"Reason": "5"}) for n in (1, 2, 3)]
    assert shown[ringing]["attempts"][0]["ended_at"] is None
    assert shown[sooner]["due_at"].endswith("+00:00")
    assert await _listed(service, "值班长", "?state=failed") == [failed]
    assert len(await _listed(service, "管理员")) == 5  # no state: every one


async def test_each_role_sees_only_its_own_callbacks(service: Service) -> None:
    lost = await _owe(service, CallbackKind.ABANDONED, "13900000001")
    rings_8001 = await _owe(service, CallbackKind.MANUAL, "13900000002", agent_extension="8001")
    rings_8002 = await _owe(service, CallbackKind.MANUAL, "13900000003", agent_extension="8002")
    repairs = await _owe(service, CallbackKind.FOLLOW_UP, "13900000004", ticket_id=await _forwarded_ticket(service, "维修部"))
    counter = await _owe(service, CallbackKind.VISIT, "13900000005", ticket_id=await _forwarded_ticket(service, "营业厅"))
    every = sorted([lost, rings_8001, rings_8002, repairs, counter])

    seen = {who: sorted(await _listed(service, who)) for who in EVERYONE}

    assert seen == {
        "agent8001": sorted([lost, rings_8001]), "agent8002": sorted([lost, rings_8002]),
        "维修员": [repairs], "营业员": [counter], "值班长": every, "管理员": every,
    }  # fmt: skip
    status, refused = await service.call("GET", f"/api/callbacks/{repairs}", "营业员")
    assert (status, refused["error_id"]) == (403, "forbidden")
    status, shown = await service.call("GET", f"/api/callbacks/{repairs}", "维修员")
    assert (status, shown["ticket_number"]) == (200, (await service.parts.tickets.detail(service.people["管理员"], shown["ticket_id"]))["number"])
    status, missing = await service.call("GET", "/api/callbacks/999", "值班长")
    assert (status, missing["error_id"]) == (404, "not_found")


async def test_an_unknown_state_or_limit_is_refused(service: Service) -> None:
    status, refused = await service.call("GET", "/api/callbacks?state=scheduled,ringing", "值班长")
    assert (status, refused["error_id"], refused["details"]) == (400, "bad_request", {"state": ["ringing"]})
    status, refused = await service.call("GET", "/api/callbacks?limit=0", "值班长")
    assert (status, refused["error_id"]) == (400, "bad_request")


# --- booking ----------------------------------------------------------------------------------


async def test_an_agent_books_a_callback_for_the_time_the_customer_asked_for(service: Service) -> None:
    asked = _in(days=1).replace(microsecond=0)

    status, booked = await service.call("POST", "/api/callbacks", "agent8001", {"number": "138 0000 0001", "at": _beijing(asked), "note": "客户说明天下午方便"})

    assert status == 201
    assert {k: booked[k] for k in ("kind", "mode", "state", "number", "agent_extension", "customer_name", "tier", "attempts_made", "attempts", "called")} == {
        "kind": "manual", "mode": "agent_first", "state": "scheduled", "number": "13800000001", "agent_extension": "8001",
        "customer_name": "李四", "tier": "vip", "attempts_made": 0, "attempts": [], "called": True,
    }  # fmt: skip
    assert datetime.fromisoformat(booked["due_at"]) == asked
    assert datetime.fromisoformat(booked["next_attempt_at"]) == asked
    assert booked["note"].startswith("客户说明天下午方便")
    assert await _listed(service, "agent8001") == [booked["id"]]
    assert await _listed(service, "agent8002") == []  # it rings 8001 only
    status, again = await service.call("GET", f"/api/callbacks/{booked['id']}", "agent8001")
    assert (status, again) == (200, booked)


async def test_a_callback_booked_from_a_ticket_carries_it(service: Service) -> None:
    tid = await service.open_ticket(by="agent8001")
    body = {"number": "0827-5551234", "at": _in(hours=3).isoformat(), "ticket_id": tid}

    status, refused = await service.call("POST", "/api/callbacks", "agent8002", body)
    assert (status, refused["error_id"]) == (403, "forbidden")  # not their ticket
    assert await _count(service) == 0
    status, booked = await service.call("POST", "/api/callbacks", "agent8001", body)

    assert status == 201
    assert (booked["ticket_id"], booked["ticket_number"], booked["number"]) == (tid, (await service.parts.tickets.detail(service.people["agent8001"], tid))["number"], "08275551234")


@pytest.mark.parametrize(
    "body, problems",
    [
        pytest.param({}, ["number is missing", "at is missing"], id="missing"),
        pytest.param({"number": "abc", "at": "in an hour"}, ["number is not a phone number", "at must be a time with its zone"], id="bad-both"),
        pytest.param({"number": "13800000001", "at": "PAST"}, ["at must be in the future"], id="past"),
        pytest.param({"number": "123456", "at": "PAST"}, ["number is not a phone number", "at must be in the future"], id="bad-number-and-past"),
        pytest.param({"number": "8001", "at": "SOON"}, ["number is an internal extension"], id="extension"),
        pytest.param({"number": "13800000001", "at": "FAR"}, ["at must be at most 90 days ahead"], id="too-far"),
        pytest.param({"number": "13800000001", "at": "2026-12-01T18:00:00"}, ["at must be a time with its zone"], id="no-zone"),
        pytest.param({"number": "13800000001", "at": "SOON", "ticket_id": 0, "when": "x"}, ["unknown field 'when'", "ticket_id must be an id"], id="unknown-field"),
        pytest.param({"number": "13800000001", "at": "SOON", "ticket_id": 999}, ["ticket_id: no ticket 999"], id="no-such-ticket"),
    ],
)
async def test_a_bad_booking_names_every_problem_and_writes_nothing(service: Service, body: dict[str, Any], problems: list[str]) -> None:
    moments = {"PAST": _in(minutes=-1).isoformat(), "SOON": _in(hours=1).isoformat(), "FAR": _in(days=91).isoformat()}
    sent = {k: moments.get(v, v) if isinstance(v, str) else v for k, v in body.items()}

    status, refused = await service.call("POST", "/api/callbacks", "agent8001", sent)

    assert (status, refused["error_id"]) == (400, "bad_request"), refused
    assert len(refused["details"]["problems"]) == len(problems)
    for given, expected in zip(refused["details"]["problems"], problems, strict=True):
        assert given.startswith(expected), refused["details"]["problems"]
    assert await _count(service) == 0


async def test_a_user_with_no_phone_of_their_own_books_nothing(service: Service) -> None:
    status, refused = await service.call("POST", "/api/callbacks", "维修员", {"number": "13800000001", "at": _in(hours=1).isoformat()})

    assert (status, refused["error_id"]) == (403, "forbidden")
    assert await _count(service) == 0


# --- cancel, record, retry -----------------------------------------------------------------------


async def test_only_a_supervisor_cancels_a_follow_up_or_a_sample(service: Service) -> None:
    follow_up = await _owe(service, CallbackKind.FOLLOW_UP, "13900000002", ticket_id=await _forwarded_ticket(service, "维修部"))
    before = await _rows(service)

    status, refused = await service.call("POST", f"/api/callbacks/{follow_up}/cancel", "维修员", {"reason": "不用回访了"})
    assert (status, refused["error_id"]) == (403, "forbidden")
    assert await _rows(service) == before
    status, cancelled = await service.call("POST", f"/api/callbacks/{follow_up}/cancel", "值班长", {"reason": "客户要求不再回访"})
    assert (status, cancelled["state"]) == (200, "cancelled")


async def test_a_scheduled_callback_is_cancelled_with_its_reason(service: Service) -> None:
    waiting = await _owe(service, CallbackKind.ABANDONED, "13900000001", open_key="13900000001")

    status, cancelled = await service.call("POST", f"/api/callbacks/{waiting}/cancel", "agent8002", {"reason": "客户已来电解决"})

    assert status == 200
    assert (cancelled["state"], cancelled["next_attempt_at"]) == ("cancelled", None)
    assert cancelled["note"].startswith("取消 / cancelled: 客户已来电解决")
    assert "agent8002" in cancelled["note"]
    # Its number is free again: a new lost call from it is owed a callback.
    await _owe(service, CallbackKind.ABANDONED, "13900000001", open_key="13900000001")


async def test_a_callback_being_placed_or_finished_is_not_cancelled(service: Service) -> None:
    ringing = await _owe(service, CallbackKind.MANUAL, "13900000001", state=S.IN_FLIGHT, attempts=1, agent_extension="8001")
    done = await _owe(service, CallbackKind.MANUAL, "13900000002", state=S.DONE, attempts=1, agent_extension="8001")
    before = await _rows(service)

    status, refused = await service.call("POST", f"/api/callbacks/{ringing}/cancel", "agent8001", {"reason": "不用了"})
    assert (status, refused["error_id"], refused["details"]["state"]) == (409, "callback_not_waiting", "in_flight")
    assert "let the call finish" in refused["message"]
    status, refused = await service.call("POST", f"/api/callbacks/{done}/cancel", "agent8001", {"reason": "不用了"})
    assert (status, refused["error_id"]) == (409, "callback_not_waiting")
    status, refused = await service.call("POST", f"/api/callbacks/{ringing}/cancel", "agent8001", {})
    assert (status, refused["details"]["problems"]) == (400, ["reason is missing"])
    assert await _rows(service) == before


async def test_a_department_records_a_visit_made(service: Service) -> None:
    visit = await _owe(service, CallbackKind.VISIT, "13900000001", ticket_id=await _forwarded_ticket(service, "维修部"))
    call = await _owe(service, CallbackKind.FOLLOW_UP, "13900000002", ticket_id=await _forwarded_ticket(service, "维修部"))

    status, refused = await service.call("POST", f"/api/callbacks/{call}/record", "维修员", {"result": "已上门"})
    assert (status, refused["error_id"]) == (409, "callback_is_called")
    status, refused = await service.call("POST", f"/api/callbacks/{visit}/record", "营业员", {"result": "已上门"})
    assert (status, refused["error_id"]) == (403, "forbidden")
    status, recorded = await service.call("POST", f"/api/callbacks/{visit}/record", "维修员", {"result": "已上门回访，客户满意", "note": "光猫已换"})

    assert status == 200
    assert (recorded["state"], recorded["outcome"], recorded["called"]) == ("done", "answered", False)
    assert recorded["note"].startswith("已上门回访，客户满意；光猫已换")
    status, refused = await service.call("POST", f"/api/callbacks/{visit}/record", "维修员", {"result": "again"})
    assert (status, refused["error_id"]) == (409, "callback_not_waiting")


async def test_only_a_supervisor_retries_a_failed_callback(service: Service) -> None:
    failed = await _owe(service, CallbackKind.MANUAL, "13900000001", state=S.FAILED, attempts=3, agent_extension="8001")
    waiting = await _owe(service, CallbackKind.MANUAL, "13900000002", agent_extension="8001")
    before = await _rows(service)

    status, refused = await service.call("POST", f"/api/callbacks/{failed}/retry", "agent8001")
    assert (status, refused["error_id"]) == (403, "forbidden")
    assert await _rows(service) == before
    status, refused = await service.call("POST", f"/api/callbacks/{waiting}/retry", "值班长")
    assert (status, refused["error_id"]) == (409, "callback_not_failed")
    status, retried = await service.call("POST", f"/api/callbacks/{failed}/retry", "值班长")

    assert status == 200
    assert (retried["state"], retried["attempts_made"], retried["max_attempts"]) == ("scheduled", 3, 6)
    assert abs(datetime.fromisoformat(retried["next_attempt_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert "值班长" in retried["note"]


async def test_a_retried_lost_caller_takes_its_numbers_place_unless_another_holds_it(service: Service) -> None:
    failed = await _owe(service, CallbackKind.ABANDONED, "13900000001", state=S.FAILED, attempts=3)
    newer = await _owe(service, CallbackKind.ABANDONED, "13900000001", open_key="13900000001")

    status, refused = await service.call("POST", f"/api/callbacks/{failed}/retry", "管理员")
    assert (status, refused["error_id"], refused["details"]["open_callback"]) == (409, "callback_already_owed", newer)
    await service.call("POST", f"/api/callbacks/{newer}/cancel", "管理员", {"reason": "重复"})
    status, retried = await service.call("POST", f"/api/callbacks/{failed}/retry", "管理员")
    assert (status, retried["state"]) == (200, "scheduled")


async def test_a_complaint_found_on_a_follow_up_goes_back_to_the_department_as_a_forwarded_ticket(service: Service) -> None:
    ticket = await _forwarded_ticket(service, "维修部")
    call = await _owe(service, CallbackKind.FOLLOW_UP, "13900000002", state=S.DONE, attempts=1, ticket_id=ticket)
    lost = await _owe(service, CallbackKind.ABANDONED, "13900000003", state=S.DONE, attempts=1)

    status, refused = await service.call("POST", f"/api/callbacks/{call}/complaint", "值班长", {})
    assert (status, refused["error_id"]) == (400, "bad_request")
    status, refused = await service.call("POST", f"/api/callbacks/{lost}/complaint", "值班长", {"note": "投诉"})
    assert (status, refused["error_id"]) == (409, "callback_without_ticket")
    status, refused = await service.call("POST", f"/api/callbacks/{call}/complaint", "营业员", {"note": "投诉"})
    assert (status, refused["error_id"]) == (403, "forbidden")
    status, found = await service.call("POST", f"/api/callbacks/{call}/complaint", "值班长", {"note": "师傅没按约定时间上门"})
    assert status == 200
    status, refused = await service.call("POST", f"/api/callbacks/{call}/complaint", "值班长", {"note": "师傅没按约定时间上门"})
    assert (status, refused["error_id"]) == (409, "complaint_reported")  # sent twice: one ticket

    status, new = await service.call("GET", f"/api/tickets/{found['new_ticket_id']}", "值班长")
    assert (status, new["status"], new["category"], new["department_id"]) == (200, "forwarded", "complaint", service.department_ids["维修部"])
    assert "师傅没按约定时间上门" in new["summary"]


async def test_an_unknown_action_is_404(service: Service) -> None:
    waiting = await _owe(service, CallbackKind.ABANDONED, "13900000001")

    status, refused = await service.call("POST", f"/api/callbacks/{waiting}/place", "值班长", {})

    assert (status, refused["error_id"]) == (404, "not_found")


# --- who may ask at all ---------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", CALLBACK_ROUTES)
async def test_every_callback_route_answers_401_without_a_log_in(service: Service, method: str, path: str) -> None:
    await _owe(service, CallbackKind.ABANDONED, "13900000001")
    before = await _rows(service)

    status, refused = await service.call(method, path, body=None if method == "GET" else {"reason": "x", "result": "x"})

    assert (status, refused["error_id"]) == (401, "unauthorized")
    assert await _rows(service) == before


async def test_a_cookie_session_books_and_cancels_only_with_its_csrf_token(service: Service) -> None:
    response = await service.client.post("/login", json={"name": "管理员", "password": PASSWORD})
    cookie, csrf = {"Cookie": f"{COOKIE}={response.cookies[COOKIE].value}"}, (await response.json())["csrf"]
    waiting = await _owe(service, CallbackKind.ABANDONED, "13900000001")
    body = {"number": "13800000001", "at": _in(hours=1).isoformat()}
    before = await _rows(service)

    for method, path, sent in (("POST", "/api/callbacks", body), ("POST", f"/api/callbacks/{waiting}/cancel", {"reason": "x"})):
        status, refused = await service.call(method, path, body=sent, headers=cookie)
        assert (status, refused["error_id"]) == (403, "csrf")
    assert await _rows(service) == before
    status, _ = await service.call("POST", "/api/callbacks", body=body, headers={**cookie, "X-CSRF-Token": csrf})
    assert status == 201


# --- the words the panels show them by ----------------------------------------------------------


@pytest.mark.parametrize("key", [f"callback_kind.{k.value}" for k in CallbackKind] + [f"callback_state.{s.value}" for s in CallbackState] + [f"callback_outcome.{o.value}" for o in Outcome])
def test_every_kind_state_and_outcome_the_api_sends_has_its_words(key: str) -> None:
    """callbacks.js shows them by label("callback_kind" | "callback_state" | "callback_outcome", value)."""
    assert key in MESSAGES

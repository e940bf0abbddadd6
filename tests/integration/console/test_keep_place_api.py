"""The virtual callers over HTTP on the service as composed (hotline/app.py `build` +
`web_app`, the fixtures of tests/integration/test_authorisation.py): GET /api/keep-place
lists the open kept places best place first per queue (the carried ones of an earlier day
first, then by priority and join time), leaves the ended ones out, gives its times in ISO
8601 with their offset, and answers supervisors and admins only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from hotline.keepplace.tables import OPEN_STATES, RequestState, keep_place_requests
from hotline.web.i18n import MESSAGES
from tests.integration.test_authorisation import COOKIE, PASSWORD, Service, service  # noqa: F401  (fixture)

R = RequestState
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


async def _kept(service: Service, number: str, *, queue: str = "hotline", state: R = R.WAITING, priority: int = 0, tier: str = "regular", joined: timedelta = timedelta(), carried: bool = False, position: int | None = 1) -> str:
    """A kept place as the desk writes it when 1 is pressed (then moved to `state`); its id, KP-<n>."""
    joined_at = T0 + joined
    requested_at = joined_at + timedelta(minutes=2)
    ended = state not in OPEN_STATES
    row: dict[str, Any] = {
        "number": number, "caller_number": number, "call_id": f"call-{number}", "queue": queue, "priority": priority,
        "tier": tier, "position": position, "joined_at": joined_at, "requested_at": requested_at, "state": state.value,
        "callback_id": None, "attempts": 0, "carried": carried, "not_before": T0 + timedelta(days=1, hours=-1) if carried else None,
        "open_key": None if ended else number, "note": "已回呼" if ended else None, "ended_at": requested_at if ended else None,
        "created_at": requested_at, "updated_at": requested_at, "version": 0,
    }  # fmt: skip
    async with service.parts.engine.begin() as conn:
        created = (await conn.execute(insert(keep_place_requests).values(row).returning(keep_place_requests.c.id))).scalar_one()
    return f"KP-{created}"


async def test_the_open_kept_places_are_listed_best_place_first_and_the_ended_ones_left_out(service: Service) -> None:
    regular = await _kept(service, "13900000001")
    later = await _kept(service, "13900000002", joined=timedelta(minutes=5))
    vip = await _kept(service, "13900000003", priority=10, tier="vip", joined=timedelta(minutes=9))
    carried = await _kept(service, "13900000004", joined=timedelta(hours=-14), carried=True)  # pressed 1 last night
    calling = await _kept(service, "13900000005", queue="broadband", state=R.CALLING, joined=timedelta(minutes=1))
    for gone, state in [("13900000006", R.DONE), ("13900000007", R.CANCELLED), ("13900000008", R.FAILED)]:
        await _kept(service, gone, state=state)

    status, body = await service.call("GET", "/api/keep-place", "值班长")

    assert status == 200
    assert [item["id"] for item in body["waiting"]] == [calling, carried, vip, regular, later]
    shown = {item["id"]: item for item in body["waiting"]}
    assert (shown[calling]["state"], shown[calling]["queue"], shown[calling]["number"]) == ("calling", "broadband", "13900000005")
    assert (shown[vip]["tier"], shown[vip]["priority"], shown[vip]["position"]) == ("vip", 10, 1)
    assert shown[regular]["joined_at"] == "2026-11-25T02:00:00+00:00"
    assert shown[regular]["requested_at"] == "2026-11-25T02:02:00+00:00"
    assert (shown[regular]["carried"], shown[regular]["not_before"]) == (False, None)
    assert (shown[carried]["carried"], shown[carried]["not_before"]) == (True, "2026-11-26T01:00:00+00:00")


async def test_nobody_kept_is_an_empty_list(service: Service) -> None:
    await _kept(service, "13900000001", state=R.DONE)

    assert await service.call("GET", "/api/keep-place", "管理员") == (200, {"waiting": []})


async def test_supervisors_and_admins_see_the_kept_places_and_agents_and_departments_are_refused(service: Service) -> None:
    kept = await _kept(service, "13900000001")

    answered = {}
    for who in ("agent8001", "维修员", "值班长", "管理员"):
        status, body = await service.call("GET", "/api/keep-place", who)
        answered[who] = (status, body.get("error_id") or [item["id"] for item in body["waiting"]])

    assert answered == {"agent8001": (403, "forbidden"), "维修员": (403, "forbidden"), "值班长": (200, [kept]), "管理员": (200, [kept])}


async def test_the_page_reads_it_with_its_session_cookie(service: Service) -> None:
    kept = await _kept(service, "13900000001")
    response = await service.client.post("/login", json={"name": "管理员", "password": PASSWORD})
    cookie = {"Cookie": f"{COOKIE}={response.cookies[COOKIE].value}"}

    status, body = await service.call("GET", "/api/keep-place", headers={**cookie, "Origin": service.origin})

    assert (status, [item["id"] for item in body["waiting"]]) == (200, [kept])


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="unknown-bearer"),
        pytest.param({"Cookie": f"{COOKIE}=forged"}, id="unknown-session"),
    ],
)
async def test_without_a_log_in_it_answers_401(service: Service, credentials: dict[str, str]) -> None:
    await _kept(service, "13900000001")

    status, refused = await service.call("GET", "/api/keep-place", headers=credentials)

    assert (status, refused["error_id"]) == (401, "unauthorized")


@pytest.mark.parametrize("state", OPEN_STATES)
def test_every_open_state_the_api_sends_has_its_words(state: str) -> None:
    assert f"keep_place_state.{state}" in MESSAGES

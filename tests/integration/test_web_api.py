"""The calls API over HTTP: bearer tokens, filters, timelines, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.calls.store import CallStore
from hotline.metrics import Metrics
from hotline.testing.replay import replay
from hotline.testing.transcripts import TRACES_DIR
from hotline.users.store import UserStore
from hotline.web.app import create_app


@pytest.fixture
async def api(engine: AsyncEngine, aiohttp_client) -> AsyncIterator[tuple[TestClient, dict[str, str]]]:  # type: ignore[no-untyped-def]
    calls = CallStore(engine)
    for name in ("answered-regular", "abandoned-in-queue", "chinese-names"):
        await calls.record(replay([(TRACES_DIR / f"{name}.ami").read_bytes()])[0])
    _, token = await UserStore(engine).add("supervisor1", "supervisor")
    metrics = Metrics()
    metrics.inc("hotline_ami_events_read_total", 42)
    client = await aiohttp_client(create_app(calls, UserStore(engine), metrics, lambda: True))
    yield client, {"Authorization": f"Bearer {token}"}


async def test_api_refuses_requests_without_a_valid_token(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
        response = await client.get("/api/calls", headers=headers)
        assert response.status == 401
        assert (await response.json())["error_id"] == "unauthorized"


async def test_calls_newest_first_with_chinese_names_intact(api) -> None:  # type: ignore[no-untyped-def]
    client, auth = api
    body = await (await client.get("/api/calls", headers=auth)).json()
    calls = body["calls"]
    assert [c["caller_name"] for c in calls] == ["李四（巴中分公司）", "张三", "Wang Wu", "Zhang San"]
    first = calls[0]
    assert {"id", "linkedid", "caller_number", "caller_name", "state", "outcome", "queue", "agent", "arrived_at", "answered_at", "ended_at"} <= set(first)
    assert first["arrived_at"].endswith("+00:00")


async def test_filters_and_their_bad_values(api) -> None:  # type: ignore[no-untyped-def]
    client, auth = api
    abandoned = await (await client.get("/api/calls?outcome=abandoned", headers=auth)).json()
    assert [c["caller_number"] for c in abandoned["calls"]] == ["08275551234"]
    assert len((await (await client.get("/api/calls?limit=2&state=ended", headers=auth)).json())["calls"]) == 2
    for query in ("state=sleeping", "outcome=maybe", "limit=0", "limit=abc", "limit=5000"):
        response = await client.get(f"/api/calls?{query}", headers=auth)
        assert response.status == 400, query
        assert (await response.json())["error_id"] == "bad_request"


async def test_one_call_with_its_timeline_and_unknown_is_404(api) -> None:  # type: ignore[no-untyped-def]
    client, auth = api
    calls = (await (await client.get("/api/calls?outcome=abandoned", headers=auth)).json())["calls"]
    detail = await (await client.get(f"/api/calls/{calls[0]['id']}", headers=auth)).json()
    assert [step["kind"] for step in detail["timeline"]] == ["arrived", "caller_identified", "route_decided", "queued", "abandoned", "ended"]
    missing = await client.get("/api/calls/nope", headers=auth)
    assert missing.status == 404


async def test_health_and_metrics_need_no_token(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    health = await (await client.get("/healthz")).json()
    # Without the composition root's AMI_OWNER the instance is the only one: it owns AMI.
    assert health == {"status": "ok", "instance": None, "ami": {"connected": True, "owner": True}, "database": {"reachable": True}}
    text = await (await client.get("/metrics")).text()
    assert "hotline_ami_events_read_total 42" in text

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from starlette.applications import Starlette

from callflow.schedules.manager import ScheduleManager
from callflow.schedules.routes import schedule_routes

BODY = {"timezone": "Asia/Tokyo", "days": ["tue"], "times": ["06:45"], "jitter_s": 30}


@pytest_asyncio.fixture(loop_scope="session")
async def http(manager: ScheduleManager) -> AsyncIterator[httpx.AsyncClient]:
    async def get_manager() -> ScheduleManager:
        return manager

    app = Starlette(routes=schedule_routes(get_manager))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


async def test_put_creates_then_replaces_and_delete_removes(
    http: httpx.AsyncClient, manager: ScheduleManager, user_id: str
):
    created = await http.put(f"/users/{user_id}/schedule", json=BODY)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["created"] is True
    assert body["schedule"]["calendars"] == ["tue 06:43:00"]
    assert body["schedule"]["time_zone"] == "Asia/Tokyo"
    assert body["schedule"]["next_call_times"][0].endswith("+00:00")

    replaced = await http.put(f"/users/{user_id}/schedule", json={**BODY, "times": ["07:00"]})
    assert replaced.status_code == 200 and replaced.json()["created"] is False
    assert (await manager.describe(user_id)).calendars == ["tue 06:58:00"]

    assert (await http.delete(f"/users/{user_id}/schedule")).status_code == 204
    gone = await http.delete(f"/users/{user_id}/schedule")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "schedule_not_found"


async def test_bad_input_is_422_naming_the_field(http: httpx.AsyncClient, user_id: str):
    cases = {
        "timezone": {**BODY, "timezone": "Nowhere/Land"},
        "times": {**BODY, "times": ["25:00"]},
        "days": {**BODY, "days": []},
        "quiet_hours": {**BODY, "quiet_hours": {"start": "06:00", "end": "07:00"}},
        "jitter_s": {**BODY, "jitter_s": 5000},
    }
    for field, body in cases.items():
        response = await http.put(f"/users/{user_id}/schedule", json=body)
        assert response.status_code == 422, field
        error = response.json()["error"]
        assert error["code"] == "schedule_invalid" and error["field"] == field, error
        assert error["message"]


async def test_bad_user_id_and_bad_json(http: httpx.AsyncClient):
    response = await http.put("/users/a%20b/schedule", json=BODY)
    assert response.status_code == 422 and response.json()["error"]["field"] == "user_id"
    response = await http.put("/users/u1/schedule", content=b"{not json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    response = await http.put("/users/u1/schedule", json=["a"])
    assert response.status_code == 422 and response.json()["error"]["field"] == "body"

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from callflow.schedules.errors import ScheduleNotFound
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


async def test_unknown_user_is_404_and_nothing_is_scheduled(manager: ScheduleManager, user_id: str):
    async def find_user(wanted: str) -> object | None:
        return object() if wanted == "known" else None

    app = Starlette(routes=schedule_routes(lambda: manager, find_user=find_user))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.put(f"/users/{user_id}/schedule", json=BODY)

    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("user_not_found", "user_id")
    with pytest.raises(ScheduleNotFound):
        await manager.describe(user_id)


async def test_only_iana_zone_names_and_storable_text_are_accepted(http: httpx.AsyncClient):
    for zone in ("localtime", "posixrules", "Factory"):
        response = await http.put("/users/u1/schedule", json={**BODY, "timezone": zone})
        assert response.status_code == 422, (zone, response.text)
        assert response.json()["error"]["field"] == "timezone"
    nul = await http.put(
        "/users/u1/schedule", content=b'{"timezone": "Asia/Tokyo\\u0000", "days": ["tue"]}'
    )
    assert nul.status_code == 422 and nul.json()["error"]["field"] == "timezone", nul.text
    deep = await http.put("/users/u1/schedule", content=b"[" * 100_000)
    assert deep.status_code == 400 and "deeper than" in deep.json()["error"]["message"]

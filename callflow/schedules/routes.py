"""The call API's schedule routes: `PUT` and `DELETE /users/{user_id}/schedule`."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from callflow.schedules.errors import (
    IntentStoreError,
    ScheduleError,
    ScheduleInvalid,
    ScheduleNotFound,
)
from callflow.schedules.manager import ScheduleManager
from callflow.schedules.spec import CallSchedule

ManagerFactory = Callable[[], ScheduleManager | Awaitable[ScheduleManager]]


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": field}}, status_code=status
    )


def _from_schedule_error(exc: ScheduleError) -> JSONResponse:
    if isinstance(exc, ScheduleInvalid):
        return _error(422, "schedule_invalid", exc.message, exc.field)
    if isinstance(exc, ScheduleNotFound):
        return _error(404, "schedule_not_found", str(exc))
    if isinstance(exc, IntentStoreError):
        return _error(503, "records_unavailable", str(exc))
    return _error(503, "scheduler_unavailable", str(exc))


def schedule_routes(get_manager: ManagerFactory) -> list[Route]:
    """Routes for the call API; `get_manager` returns (or resolves to) the ScheduleManager."""

    async def manager() -> ScheduleManager:
        found = get_manager()
        return await found if inspect.isawaitable(found) else found

    async def put_schedule(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "invalid_json", "the body must be a JSON object (a CallSchedule)")
        if not isinstance(body, dict):
            return _error(422, "schedule_invalid", "the body must be a JSON object", "body")
        try:
            schedule = CallSchedule.parse(body)
            view, created = await (await manager()).put(user_id, schedule)
        except ScheduleError as exc:
            return _from_schedule_error(exc)
        return JSONResponse(
            {"created": created, "schedule": view.to_json()}, status_code=201 if created else 200
        )

    async def delete_schedule(request: Request) -> Response:
        try:
            await (await manager()).delete(request.path_params["user_id"])
        except ScheduleError as exc:
            return _from_schedule_error(exc)
        return Response(status_code=204)

    return [
        Route("/users/{user_id}/schedule", put_schedule, methods=["PUT"]),
        Route("/users/{user_id}/schedule", delete_schedule, methods=["DELETE"]),
    ]

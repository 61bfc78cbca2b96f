"""The call API's schedule routes: `PUT` and `DELETE /users/{user_id}/schedule`."""

from __future__ import annotations

import inspect
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
from callflow.schedules.manager import ScheduleManager, check_user_id
from callflow.schedules.spec import CallSchedule
from callflow.strict_json import StrictJsonError, UnstorableText, loads_strict

ManagerFactory = Callable[[], ScheduleManager | Awaitable[ScheduleManager]]
Authorize = Callable[[Request], object]
# The user's record or None; a schedule for a user the records store does not know would fire
# workflows that can only fail.
FindUser = Callable[[str], Awaitable[object | None]]


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


def schedule_routes(
    get_manager: ManagerFactory,
    find_user: FindUser | None = None,
    authorize: Authorize | None = None,
) -> list[Route]:
    """Routes for the call API; `get_manager` returns (or resolves to) the ScheduleManager.

    With `find_user`, `PUT` answers 404 for a user the records store does not hold.
    `authorize(request)` runs first in each route and raises (401/403, rendered by the call
    API's handlers) unless the caller may write schedules.
    """

    async def manager() -> ScheduleManager:
        found = get_manager()
        return await found if inspect.isawaitable(found) else found

    async def put_schedule(request: Request) -> Response:
        if authorize is not None:
            authorize(request)
        user_id = request.path_params["user_id"]
        try:
            body = loads_strict(await request.body())
        except UnstorableText as exc:
            return _error(422, "schedule_invalid", exc.message, exc.field)
        except StrictJsonError as exc:
            return _error(
                400,
                "invalid_json",
                f"{exc.message}: the body must be a JSON object (a CallSchedule)",
            )
        if not isinstance(body, dict):
            return _error(422, "schedule_invalid", "the body must be a JSON object", "body")
        try:
            schedule = CallSchedule.parse(body)
            check_user_id(user_id)
            if find_user is not None and not await _user_exists(find_user, user_id):
                return _error(
                    404,
                    "user_not_found",
                    f"no user {user_id!r} in the records store: create the user first",
                    "user_id",
                )
            view, created = await (await manager()).put(user_id, schedule)
        except ScheduleError as exc:
            return _from_schedule_error(exc)
        return JSONResponse(
            {"created": created, "schedule": view.to_json()}, status_code=201 if created else 200
        )

    async def delete_schedule(request: Request) -> Response:
        if authorize is not None:
            authorize(request)
        try:
            await (await manager()).delete(request.path_params["user_id"])
        except ScheduleError as exc:
            return _from_schedule_error(exc)
        return Response(status_code=204)

    async def _user_exists(find: FindUser, user_id: str) -> bool:
        try:
            return await find(user_id) is not None
        except Exception as exc:
            # Adapters raise their own hierarchies; the type alone (messages may hold DSNs).
            raise IntentStoreError(
                f"the records store failed looking up user {user_id!r} ({type(exc).__name__}); "
                "retry later"
            ) from exc

    return [
        Route("/users/{user_id}/schedule", put_schedule, methods=["PUT"]),
        Route("/users/{user_id}/schedule", delete_schedule, methods=["DELETE"]),
    ]

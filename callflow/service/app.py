"""The webhook + call API service as a Starlette ASGI app (docs/architecture.md, "Processes").

Routes:
    POST /livekit/webhook            LiveKit room events -> workflow signals
    POST /calls                      start an on-demand call (idempotent with a key)
    GET  /calls/{call_id}            the workflow's `status` query
    POST /calls/{call_id}/decline    `declined` signal (the app's CallKit decline)
    POST /calls/{call_id}/cancel     `cancel` update
    GET  /healthz                    liveness

Every route but the webhook (its own signature) and /healthz needs a credential
(`callflow.service.auth`); bodies are limited in size and to JSON (`callflow.service.limits`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callflow.service.auth import Authenticator, Unauthenticated
from callflow.service.call_cap import TooManyCalls
from callflow.service.deps import ServiceDeps
from callflow.service.errors import ServiceError, UpstreamError
from callflow.service.limits import RequestLimits
from callflow.service.livekit_webhook import WebhookVerifier
from callflow.service.routes import ServiceRoutes
from callflow.service.seen_events import SeenEvents
from callflow.service.workflow_gateway import CallWorkflows

log = logging.getLogger(__name__)

RETRY_AFTER_S = "5"


def _service_routes(deps: ServiceDeps) -> tuple[ServiceRoutes, CallWorkflows]:
    key, secret = deps.livekit_credentials()
    workflows = CallWorkflows(
        deps.temporal, task_queue=deps.settings.task_queue, budget_s=deps.temporal_budget_s
    )
    routes = ServiceRoutes(
        workflows=workflows,
        records=deps.records,
        settings=deps.settings,
        verifier=WebhookVerifier(key, secret),
        seen=SeenEvents(deps.seen_event_capacity),
        auth=deps.authenticator or Authenticator.from_settings(deps.settings, key, secret),
        cap=deps.call_cap,
    )
    return routes, workflows


_EXCEPTION_HANDLERS: dict[Any, Any] = {}  # filled below, once the handlers are defined


def _limits(deps: ServiceDeps) -> list[Middleware]:
    return [Middleware(RequestLimits, max_body_bytes=deps.settings.api_max_body_bytes)]


def create_webhook_app(deps: ServiceDeps) -> Starlette:
    """The public listener's app (CALLFLOW_WEBHOOK_PORT): LiveKit's webhook and /healthz
    alone, so the call API's own listener can stay private."""
    routes, workflows = _service_routes(deps)
    app = Starlette(
        routes=[
            Route("/healthz", routes.healthz, methods=["GET"]),
            Route("/livekit/webhook", routes.livekit_webhook, methods=["POST"]),
        ],
        middleware=_limits(deps),
        exception_handlers=_EXCEPTION_HANDLERS,
    )
    app.state.workflows = workflows
    return app


def create_app(deps: ServiceDeps, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    routes, workflows = _service_routes(deps)
    app = Starlette(
        middleware=_limits(deps),
        routes=[
            Route("/healthz", routes.healthz, methods=["GET"]),
            Route("/livekit/webhook", routes.livekit_webhook, methods=["POST"]),
            Route("/calls", routes.start_call, methods=["POST"]),
            Route("/calls/{call_id}", routes.call_status, methods=["GET"]),
            Route("/calls/{call_id}/record", routes.call_record, methods=["GET"]),
            Route("/calls/{call_id}/decline", routes.decline_call, methods=["POST"]),
            Route("/calls/{call_id}/cancel", routes.cancel_call, methods=["POST"]),
            Route(
                "/users/{user_id}/recording-consent",
                routes.put_recording_consent,
                methods=["PUT"],
            ),
            *extra_routes,
        ],
        exception_handlers=_EXCEPTION_HANDLERS,
    )
    app.state.workflows = workflows
    app.state.auth = routes.auth  # the schedule routes and tests use the same checks
    return app


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if isinstance(exc, UpstreamError):
        log.warning(
            "%s %s -> %d %s: %s",
            request.method,
            request.url.path,
            exc.status,
            exc.code,
            exc.message,
        )
    headers = {"Retry-After": RETRY_AFTER_S} if exc.status == 503 else None
    if isinstance(exc, Unauthenticated):
        headers = exc.headers()
    if isinstance(exc, TooManyCalls):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (404 unknown path, 405 wrong method) in the same JSON shape."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
        exc.status_code, "http_error"
    )
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    return JSONResponse(
        {"error": {"code": "internal_error", "message": "internal error; see the service log"}},
        status_code=500,
    )


_EXCEPTION_HANDLERS.update(
    {
        ServiceError: _service_error,
        HTTPException: _http_error,
        Exception: _unexpected_error,
    }
)

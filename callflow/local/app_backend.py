"""A local stand-in for the app backend's post-call endpoint, used by the demo and the tests.

It does what a real receiver should: verifies the signature on the raw body (401 otherwise),
validates the body against the post-call JSON Schema (422 otherwise:
callflow/notify/schemas/post_call.v1.json), drops redeliveries by `Idempotency-Key`, and keeps
what it accepted. It can be told to fail the next N deliveries to exercise the sender's retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from callflow.notify.errors import SignatureInvalid
from callflow.notify.schema import post_call_problems
from callflow.notify.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)

POST_CALL_PATH = "/callflow/post-call"


@dataclass
class ReceivedEvent:
    idempotency_key: str
    event: dict[str, Any]
    received_at: float  # unix seconds of the first delivery
    deliveries: int = 1


@dataclass
class ReceiverState:
    secret: str
    tolerance_s: float = 300
    events: list[ReceivedEvent] = field(default_factory=list)
    rejected: int = 0  # signature failures
    invalid: list[list[str]] = field(default_factory=list)  # schema problems of refused bodies
    requests: int = 0
    failures: list[int] = field(default_factory=list)

    def by_key(self, key: str) -> ReceivedEvent | None:
        return next((e for e in self.events if e.idempotency_key == key), None)


def build_receiver_app(state: ReceiverState) -> Starlette:
    async def post_call(request: Request) -> JSONResponse:
        state.requests += 1
        body = await request.body()  # the raw bytes: the signature covers exactly these
        try:
            verify_signature(
                state.secret,
                request.headers.get(TIMESTAMP_HEADER),
                body,
                request.headers.get(SIGNATURE_HEADER),
                state.tolerance_s,
            )
        except SignatureInvalid as e:
            state.rejected += 1
            return JSONResponse({"error": str(e)}, status_code=401)
        if state.failures:
            return JSONResponse({"error": "injected failure"}, status_code=state.failures.pop(0))
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if not key:
            return JSONResponse({"error": f"missing {IDEMPOTENCY_HEADER} header"}, 400)
        try:
            event = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(event, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        problems = post_call_problems(event)
        if problems:
            state.invalid.append(problems)
            return JSONResponse(
                {"error": "body does not match the post-call schema", "problems": problems},
                status_code=422,
            )
        seen = state.by_key(key)
        if seen is not None:
            seen.deliveries += 1
            return JSONResponse({"status": "duplicate"})
        state.events.append(ReceivedEvent(key, event, time.time()))
        return JSONResponse({"status": "accepted"})

    async def list_events(request: Request) -> JSONResponse:
        return JSONResponse([asdict(e) for e in state.events])

    return Starlette(
        routes=[
            Route(POST_CALL_PATH, post_call, methods=["POST"]),
            Route("/callflow/events", list_events, methods=["GET"]),
        ]
    )


class _EmbeddedServer(uvicorn.Server):
    # The host process (a test, `callflow dev`) owns SIGINT/SIGTERM, not this server.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class LocalReceiver:
    def __init__(
        self, state: ReceiverState, server: uvicorn.Server, task: asyncio.Task[None], base: str
    ) -> None:
        self.state = state
        self._server = server
        self._task = task
        self.base_url = base
        self.url = base + POST_CALL_PATH

    @property
    def events(self) -> list[ReceivedEvent]:
        return self.state.events

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` correctly signed deliveries with `status`."""
        self.state.failures.extend([status] * count)

    async def stop(self) -> None:
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, timeout=5)
        except TimeoutError:
            self._task.cancel()


async def start_local_receiver(
    secret: str, port: int = 0, host: str = "127.0.0.1", *, tolerance_s: float = 300
) -> LocalReceiver:
    """Serve the local app backend on `host:port` (0 = a free port) until `.stop()`."""
    state = ReceiverState(secret=secret, tolerance_s=tolerance_s)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        build_receiver_app(state), log_level="warning", lifespan="off", access_log=False
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            sock.close()
            task.result()
            raise RuntimeError("local app backend stopped while starting")
        await asyncio.sleep(0.01)
    return LocalReceiver(state, server, task, f"http://{host}:{bound_port}")

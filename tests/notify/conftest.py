from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest_asyncio
import uvicorn

from callflow.local.app_backend import LocalReceiver, start_local_receiver

SECRET = "test-webhook-secret"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def receiver() -> AsyncIterator[LocalReceiver]:
    running = await start_local_receiver(SECRET)
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedBackend:
    """A bare ASGI server that records each request exactly as it arrived and answers with the
    next scripted status (200 once the script runs out)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[RawRequest] = field(default_factory=list)
    url: str = ""

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append(
            RawRequest(
                scope["method"],
                scope["path"],
                {k.decode().lower(): v.decode() for k, v in scope["headers"]},
                body,
            )
        )
        status = self.statuses.pop(0) if self.statuses else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"scripted"})


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest_asyncio.fixture(loop_scope="session")
async def scripted() -> AsyncIterator[ScriptedBackend]:
    backend = ScriptedBackend()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    backend.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks/post-call"
    server = _QuietServer(uvicorn.Config(backend, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # surfaces why the server did not start
        await asyncio.sleep(0.01)
    yield backend
    server.should_exit = True
    await task

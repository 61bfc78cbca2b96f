"""A test stand-in for a hosted HTTP API: a starlette app on uvicorn on a free loopback port
that records every request before judging it.

Subclasses (dataclasses) give `routes()` and a `name`, and call `await self.record(request)`
first thing in each endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp


@dataclass
class SeenRequest:
    """A request as it arrived; `body` is the parsed JSON, or None (empty or not JSON)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # names lower-cased
    body: Any
    raw: bytes


async def read_request(request: Request) -> SeenRequest:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return SeenRequest(
        request.method,
        request.url.path,
        list(request.query_params.multi_items()),
        {k.lower(): v for k, v in request.headers.items()},
        body,
        raw,
    )


class _TestServer(uvicorn.Server):
    # The test process owns SIGINT/SIGTERM; uvicorn would otherwise take them over.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class RunningApp:
    url: str  # http://127.0.0.1:PORT
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 10)


async def serve_asgi(app: ASGIApp, what: str, *, timeout_s: float = 10.0) -> RunningApp:
    """Serve `app` on 127.0.0.1; the port is bound before uvicorn starts, so none can race it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _TestServer(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not server.started:
        if task.done():
            sock.close()
            task.result()  # surfaces why it did not start
            raise RuntimeError(f"{what} exited while starting")
        if asyncio.get_running_loop().time() > deadline:
            server.should_exit = True
            raise TimeoutError(f"{what} did not start in {timeout_s}s")
        await asyncio.sleep(0.01)
    return RunningApp(f"http://127.0.0.1:{port}", server, task)


@dataclass(kw_only=True)
class LocalHttpService:
    """Base of the stand-ins: start()/stop() or `async with`, `url`, and `seen` requests."""

    name: ClassVar[str] = "local HTTP service"
    seen: list[SeenRequest] = field(default_factory=list)
    _running: RunningApp | None = field(default=None, init=False, repr=False)

    def reset(self) -> None:
        """Forget what earlier tests sent (subclasses also drop what they had queued)."""
        self.seen.clear()

    def routes(self) -> Sequence[BaseRoute]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        if self._running is None:
            raise RuntimeError(f"{self.name} is not started: call start() first")
        return self._running.url

    async def start(self) -> None:
        self._running = await serve_asgi(Starlette(routes=list(self.routes())), self.name)

    async def stop(self) -> None:
        if self._running is not None:
            running, self._running = self._running, None
            await running.stop()

    async def record(self, request: Request) -> SeenRequest:
        seen = await read_request(request)
        self.seen.append(seen)
        return seen

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

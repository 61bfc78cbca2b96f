"""Run the service's ASGI app on uvicorn inside the caller's event loop.

Used by tests, the local stack and the CLI: the caller owns the process and its signals, so the
embedded server does not install signal handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


class ServiceStartError(RuntimeError):
    """The server could not bind or its startup failed; the message says which."""


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class RunningServer:
    host: str
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, let in-flight requests finish (up to `timeout_s`), then return."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout_s)
        except TimeoutError:
            self.server.force_exit = True
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def serve(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
) -> RunningServer:
    """Start serving `app`; `port=0` picks a free port (read it from `.port` / `.url`).

    The socket is bound here, before uvicorn starts, so the port is known and a busy port fails
    with a clear error instead of uvicorn's `sys.exit`.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this. Without it, a pre-bound socket handed to uvicorn answered
    # every request 40 ms late here (headers and body written apart: Nagle + delayed ACK).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ServiceStartError(
            f"cannot listen on {host}:{port} ({e.strerror}); pick another port "
            "(CALLFLOW_API_PORT) or stop the process using it"
        ) from e
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, log_level=log_level, lifespan="auto", access_log=False, timeout_graceful_shutdown=5
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(_serve_then_close(server, sock), name=f"service:{bound_port}")
    while not server.started:
        if task.done():
            error = task.exception()
            raise ServiceStartError(f"service on {host}:{bound_port} failed to start: {error!r}")
        await asyncio.sleep(0.01)
    return RunningServer(host=host, port=bound_port, server=server, task=task)


async def _serve_then_close(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()

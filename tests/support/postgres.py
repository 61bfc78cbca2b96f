"""A database of its own for each test area, on the session's one embedded Postgres server.

Areas count rows and check which migrations ran, so each gets a fresh migrated database; the
server itself (the slow part to start) is shared.
"""

from __future__ import annotations

import dataclasses
import uuid

import asyncpg

from callflow.local.stack.postgres import LocalPostgres, apply_migrations, dsn_for


async def database_for(server: LocalPostgres, area: str) -> LocalPostgres:
    """A new migrated database named after `area`; its `stop()` leaves the server running."""
    name = f"{area}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(server.admin_dsn)
    try:
        await conn.execute(f'create database "{name}"')  # our own name: no injection
    finally:
        await conn.close()
    dsn = dsn_for(server.socket_dir, server.port, name)
    applied = await apply_migrations(dsn)
    return dataclasses.replace(
        server, dsn=dsn, applied_migrations=applied, delete_on_stop=None, _server=None
    )

"""A database of its own for each test area, on the session's one embedded Postgres server.

Areas count rows and check which migrations ran, so each gets a fresh migrated database; the
server itself (the slow part to start) is shared.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import asyncpg

from callflow.local.stack.postgres import (
    DATABASE,
    LocalPostgres,
    apply_migrations,
    dsn_for,
    start_postgres,
)
from callflow.pg import PgStore


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


def start_postgres_blocking(
    data_dir: Path, *, database: str = DATABASE, migrations_dir: Path | None = None
) -> LocalPostgres:
    """`start_postgres` for synchronous callers, even ones inside a running event loop."""
    result: list[LocalPostgres] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(
                asyncio.run(
                    start_postgres(data_dir, database=database, migrations_dir=migrations_dir)
                )
            )
        except BaseException as exc:
            errors.append(exc)

    # A fresh thread has no event loop, so asyncio.run works whatever the caller is running.
    thread = threading.Thread(target=run, name="start-embedded-postgres")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


StoreT = TypeVar("StoreT", bound=PgStore)


@asynccontextmanager
async def opened(store: type[StoreT], dsn: str) -> AsyncIterator[StoreT]:
    """A Postgres adapter on its own pool for the fixture's life, closed after."""
    adapter = await store.connect(dsn)
    try:
        yield adapter
    finally:
        await adapter.close()

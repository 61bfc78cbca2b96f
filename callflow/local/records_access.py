"""Open the local stack's records when no database is configured: the embedded Postgres of
`callflow demo` (its state under `CALLFLOW_STATE_DIR/demo/postgres`), started or adopted, and
migrated. Commands that read or write records outside a running stack (`callflow import`) use
this, so without any configuration they work on the demo's data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from callflow.local.stack.postgres import start_postgres
from callflow.settings import Settings


def demo_records_dir(settings: Settings) -> Path:
    """Where `callflow demo` keeps its embedded Postgres (callflow/local/demo.py)."""
    return settings.state_dir / "demo" / "postgres"


def has_configured_records(settings: Settings) -> bool:
    return bool(settings.database_url or settings.supabase_url)


@asynccontextmanager
async def local_records_settings(settings: Settings) -> AsyncIterator[Settings]:
    """`settings` as they are when a database is configured; else a copy whose DATABASE_URL is
    the demo's embedded Postgres, which runs until the block ends (unless another process
    still uses it)."""
    if has_configured_records(settings):
        yield settings
        return
    postgres = await start_postgres(demo_records_dir(settings))
    try:
        yield settings.model_copy(update={"database_url": postgres.dsn})
    finally:
        postgres.stop()

"""Where the report reads the call records: Supabase or DATABASE_URL when configured; without
either, the CLI (callflow/report/cli.py) opens the embedded Postgres of the local stack that
`callflow demo` used (`<state_dir>/demo/postgres`) and reads it with `read_postgres`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from callflow.errors import CallflowError
from callflow.models import CallRecord
from callflow.records.postgres import PostgresRecords
from callflow.records.supabase import SupabaseRecords
from callflow.settings import Settings


class NoRecords(CallflowError):
    """No records store is configured and no local demo stack has left records."""

    retryable = False


def demo_postgres_dir(settings: Settings) -> Path:
    # The folder callflow/local/demo.py gives the local stack, plus the stack's `postgres`.
    return settings.state_dir / "demo" / "postgres"


def configured_store(settings: Settings) -> str | None:
    """Which store the settings point at ("supabase", "postgres"), None for neither."""
    settings.require_supabase()
    if settings.supabase_url:
        return "supabase"
    return "postgres" if settings.database_url else None


async def read_configured(settings: Settings, since: datetime) -> tuple[list[CallRecord], str]:
    """(the calls that started at or after `since`, where they came from) from the configured
    store; `NoRecords` when none is configured."""
    store = configured_store(settings)
    if store == "supabase":
        supabase = await SupabaseRecords.from_settings(settings)
        try:
            return await supabase.calls_since(since), "supabase"
        finally:
            await supabase.close()
    if store == "postgres" and settings.database_url:
        return await read_postgres(settings.database_url, since), "postgres (DATABASE_URL)"
    raise NoRecords("no records store configured (DATABASE_URL and SUPABASE_URL are unset)")


async def read_postgres(dsn: str, since: datetime) -> list[CallRecord]:
    records = await PostgresRecords.connect(dsn)
    try:
        return await records.calls_since(since)
    finally:
        await records.close()

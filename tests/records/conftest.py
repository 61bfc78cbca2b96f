"""The records tests: a database of their own on the session's embedded Postgres (real server,
real migrations), and a local PostgREST for the Supabase adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from callflow.records.postgres import PostgresRecords
from callflow.records.supabase import SupabaseRecords
from callflow.stack.postgres import LocalPostgres
from tests.records.postgrest_server import PostgrestServer
from tests.support.postgres import database_for

SERVICE_KEY = "test-service-role-key"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def records_pg(scratch_postgres: LocalPostgres) -> LocalPostgres:
    return await database_for(scratch_postgres, "records")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def records(records_pg: LocalPostgres) -> AsyncIterator[PostgresRecords]:
    store = await PostgresRecords.connect(records_pg.dsn)
    yield store
    await store.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgrest() -> AsyncIterator[PostgrestServer]:
    async with PostgrestServer(service_key=SERVICE_KEY) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def supabase_records(postgrest: PostgrestServer) -> AsyncIterator[SupabaseRecords]:
    postgrest.seen.clear()
    postgrest.fail_next.clear()
    store = await SupabaseRecords.connect(postgrest.url, SERVICE_KEY)
    yield store
    await store.close()

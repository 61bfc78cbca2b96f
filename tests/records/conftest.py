"""One embedded Postgres for the records tests (real server, real migrations)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from callflow.records.postgres import PostgresRecords
from callflow.records.supabase import SupabaseRecords
from callflow.stack.postgres import LocalPostgres, start_scratch_postgres
from tests.records.postgrest_server import PostgrestServer


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def records_pg() -> AsyncIterator[LocalPostgres]:
    pg = await start_scratch_postgres()
    yield pg
    pg.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def records(records_pg: LocalPostgres) -> AsyncIterator[PostgresRecords]:
    store = await PostgresRecords.connect(records_pg.dsn)
    yield store
    await store.close()


SERVICE_KEY = "test-service-role-key"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgrest() -> AsyncIterator[PostgrestServer]:
    server = PostgrestServer(service_key=SERVICE_KEY)
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def supabase_records(postgrest: PostgrestServer) -> AsyncIterator[SupabaseRecords]:
    postgrest.seen.clear()
    postgrest.fail_next.clear()
    store = await SupabaseRecords.connect(postgrest.url, SERVICE_KEY)
    yield store
    await store.close()

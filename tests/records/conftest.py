"""The records tests: a database of their own on the session's embedded Postgres (real server,
real migrations), and a local PostgREST over that same database for the Supabase adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from callflow.local.stack.postgres import LocalPostgres
from callflow.records.postgres import PostgresRecords
from callflow.records.supabase import SupabaseRecords
from tests.records.postgrest_server import PostgrestServer
from tests.support.postgres import opened
from tests.support.supabase_db import supabase_database_for

SERVICE_KEY = "test-service-role-key"


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def area_database(
    supabase_postgres: LocalPostgres, request: pytest.FixtureRequest
) -> LocalPostgres:
    """This area's migrated database, on the cluster set up as a Supabase project (its roles,
    new tables granted to nobody): the Postgres adapter and the PostgREST stand-in share it."""
    return await supabase_database_for(supabase_postgres, Path(str(request.node.path)).name)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def records(area_database: LocalPostgres) -> AsyncIterator[PostgresRecords]:
    """The Postgres adapter on this area's database. Defined here, not only in tests/conftest.py,
    so that it is this package's: the root one may already be open on another area's database."""
    async with opened(PostgresRecords, area_database.dsn) as store:
        yield store


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def postgrest(area_database: LocalPostgres) -> AsyncIterator[PostgrestServer]:
    """The local PostgREST over this area's migrated database (the one `records` uses)."""
    async with PostgrestServer(service_key=SERVICE_KEY, dsn=area_database.dsn) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def supabase_records(postgrest: PostgrestServer) -> AsyncIterator[SupabaseRecords]:
    postgrest.reset()
    store = await SupabaseRecords.connect(postgrest.url, SERVICE_KEY)
    yield store
    await store.close()


@pytest_asyncio.fixture(loop_scope="session")
async def db(area_database: LocalPostgres) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the area's database, to check what it holds."""
    conn = await asyncpg.connect(area_database.dsn)
    try:
        yield conn
    finally:
        await conn.close()

"""The slots tests: a database of their own on the session's embedded Postgres (real server,
real migrations), the local PostgREST of the records tests over that same database for the
Supabase adapter, and every test starting from empty tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from callflow.local.stack.postgres import LocalPostgres
from callflow.slots.postgres import PostgresAgentSlots
from callflow.slots.supabase import SupabaseAgentSlots
from tests.records.postgrest_server import PostgrestServer
from tests.support.postgres import opened
from tests.support.supabase_db import supabase_database_for

SERVICE_KEY = "test-service-role-key"


async def empty_tables(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("truncate agent_slots, agent_workers")
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def package_pg_slots(area_database: LocalPostgres) -> AsyncIterator[PostgresAgentSlots]:
    async with opened(PostgresAgentSlots, area_database.dsn) as store:
        yield store


@pytest_asyncio.fixture(loop_scope="session")
async def pg_slots(
    package_pg_slots: PostgresAgentSlots, area_database: LocalPostgres
) -> PostgresAgentSlots:
    await empty_tables(area_database.dsn)
    return package_pg_slots


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def area_database(
    supabase_postgres: LocalPostgres, request: pytest.FixtureRequest
) -> LocalPostgres:
    """This area's migrated database, on the cluster set up as a Supabase project (its roles,
    new tables granted to nobody): the Postgres adapter and the PostgREST stand-in share it."""
    return await supabase_database_for(supabase_postgres, Path(str(request.node.path)).name)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def postgrest(area_database: LocalPostgres) -> AsyncIterator[PostgrestServer]:
    async with PostgrestServer(service_key=SERVICE_KEY, dsn=area_database.dsn) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def supabase_slots(
    postgrest: PostgrestServer, area_database: LocalPostgres
) -> AsyncIterator[SupabaseAgentSlots]:
    await empty_tables(area_database.dsn)
    postgrest.reset()
    store = await SupabaseAgentSlots.connect(postgrest.url, SERVICE_KEY)
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

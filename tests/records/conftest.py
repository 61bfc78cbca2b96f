"""The records tests: a database of their own on the session's embedded Postgres (real server,
real migrations), and a local PostgREST for the Supabase adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from callflow.records.supabase import SupabaseRecords
from tests.records.postgrest_server import PostgrestServer

SERVICE_KEY = "test-service-role-key"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgrest() -> AsyncIterator[PostgrestServer]:
    async with PostgrestServer(service_key=SERVICE_KEY) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def supabase_records(postgrest: PostgrestServer) -> AsyncIterator[SupabaseRecords]:
    postgrest.reset()
    store = await SupabaseRecords.connect(postgrest.url, SERVICE_KEY)
    yield store
    await store.close()

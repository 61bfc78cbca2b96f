"""The operator tests: a worker running the staged `CallWorkflow` on its own task queue of the
session's Temporal dev server (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

from callflow.local.stack.temporal import DevServer
from callflow.settings import Settings
from tests.operator.staged_workflow import StagedCallWorkflow

TASK_QUEUE = "operator-test"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def operator_worker(temporal_client: Client) -> AsyncIterator[Worker]:
    worker = Worker(temporal_client, task_queue=TASK_QUEUE, workflows=[StagedCallWorkflow])
    async with worker:
        yield worker


@pytest.fixture(scope="session")
def operator_settings(temporal_dev_server: DevServer) -> Settings:
    return Settings(
        temporal_address=temporal_dev_server.address, temporal_ui_url=temporal_dev_server.ui_url
    )

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

from callflow.settings import Settings
from callflow.stack.temporal import DevServer, start_dev_server
from tests.operator.staged_workflow import StagedCallWorkflow

TASK_QUEUE = "operator-test"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def operator_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    server = await start_dev_server(tmp_path_factory.mktemp("operator-temporal"))
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def operator_client(operator_server: DevServer) -> Client:
    return await Client.connect(operator_server.address)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def operator_worker(operator_client: Client) -> AsyncIterator[Worker]:
    worker = Worker(operator_client, task_queue=TASK_QUEUE, workflows=[StagedCallWorkflow])
    async with worker:
        yield worker


@pytest.fixture(scope="session")
def operator_settings(operator_server: DevServer) -> Settings:
    return Settings(
        temporal_address=operator_server.address, temporal_ui_url=operator_server.ui_url
    )

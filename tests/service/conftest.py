"""Real parts for the service tests: the session's Temporal dev server with a worker running the
recording "CallWorkflow" on its own task queue, a database of their own on the session's
embedded Postgres holding the users, the service on a real uvicorn port, and a livekit-server
of their own (its webhooks go to the service under test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.worker import Worker

from callflow.models import User
from callflow.records.postgres import PostgresRecords
from callflow.service import RunningServer, ServiceDeps, create_app, serve
from callflow.settings import Settings
from callflow.stack.livekit import LocalLiveKit, start_livekit
from callflow.stack.postgres import LocalPostgres
from callflow.stack.temporal import DevServer
from tests.service.recording_workflow import RecordingCallWorkflow
from tests.support.postgres import database_for

LIVEKIT_KEY = "service-test-key"
LIVEKIT_SECRET = "service-test-secret-0123456789abcdef"
KNOWN_USER = "user-ada"
TASK_QUEUE = "service-test"


def service_settings(ui_url: str = "http://127.0.0.1:8233") -> Settings:
    return Settings(
        task_queue=TASK_QUEUE,
        temporal_ui_url=ui_url,
        LIVEKIT_API_KEY=LIVEKIT_KEY,
        LIVEKIT_API_SECRET=SecretStr(LIVEKIT_SECRET),
        join_timeout_s=12.5,
        max_attempts=2,
        retry_backoff_s=[7.0],
        caller_name="Test Coach",
    )


@dataclass
class Stack:
    temporal: DevServer
    client: Client
    records: PostgresRecords
    settings: Settings
    server: RunningServer
    http: httpx.AsyncClient


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def service_pg(scratch_postgres: LocalPostgres) -> LocalPostgres:
    return await database_for(scratch_postgres, "service")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def records(service_pg: LocalPostgres) -> AsyncIterator[PostgresRecords]:
    store = await PostgresRecords.connect(service_pg.dsn)
    await store.upsert_user(User(user_id=KNOWN_USER, display_name="Ada", voip_token="ab" * 32))
    try:
        yield store
    finally:
        await store.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(temporal_dev_server: DevServer, records: PostgresRecords) -> AsyncIterator[Stack]:
    client = await Client.connect(temporal_dev_server.address)
    settings = service_settings(temporal_dev_server.ui_url)
    app = create_app(ServiceDeps(temporal=client, records=records, settings=settings))
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[RecordingCallWorkflow]):
        server = await serve(app, "127.0.0.1", 0)
        http = httpx.AsyncClient(base_url=server.url, timeout=10)
        try:
            yield Stack(temporal_dev_server, client, records, settings, server, http)
        finally:
            await http.aclose()
            await server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def livekit(
    tmp_path_factory: pytest.TempPathFactory, stack: Stack
) -> AsyncIterator[LocalLiveKit]:
    """A real livekit-server whose webhooks go to the service under test."""
    server = await start_livekit(
        tmp_path_factory.mktemp("service-livekit"),
        api_key=LIVEKIT_KEY,
        api_secret=LIVEKIT_SECRET,
        webhook_urls=[f"{stack.server.url}/livekit/webhook"],
    )
    try:
        yield server
    finally:
        server.stop()

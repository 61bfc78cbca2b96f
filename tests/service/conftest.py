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

from callflow.local.stack.livekit import LocalLiveKit, start_livekit
from callflow.local.stack.temporal import DevServer
from callflow.models import User
from callflow.records.postgres import PostgresRecords
from callflow.service import RunningServer, ServiceDeps, create_app, serve
from callflow.service.auth import ALL_SCOPES, api_key_entry, new_api_key
from callflow.settings import Settings
from tests.service.recording_workflow import RecordingCallWorkflow

LIVEKIT_KEY = "service-test-key"
LIVEKIT_SECRET = "service-test-secret-0123456789abcdef"
KNOWN_USER = "user-ada"
TASK_QUEUE = "service-test"
# One key per scope, and one with them all (the tests' default client sends that one).
SCOPED_KEYS = {scope: new_api_key() for scope in sorted(ALL_SCOPES)}
FULL_KEY = new_api_key()
API_KEYS_SETTING = ",".join(
    [api_key_entry("all", FULL_KEY, ALL_SCOPES)]
    + [
        api_key_entry(f"only-{n}", key, [scope])
        for n, (scope, key) in enumerate(SCOPED_KEYS.items())
    ]
)


def auth_headers(key: str = FULL_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def service_settings(ui_url: str = "http://127.0.0.1:8233") -> Settings:
    return Settings(
        task_queue=TASK_QUEUE,
        temporal_ui_url=ui_url,
        api_keys=SecretStr(API_KEYS_SETTING),
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


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def records(records: PostgresRecords) -> PostgresRecords:
    """The area's records store (tests/conftest.py), holding the user the tests call."""
    await records.upsert_user(User(user_id=KNOWN_USER, display_name="Ada", voip_token="ab" * 32))
    return records


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def stack(
    temporal_dev_server: DevServer, temporal_client: Client, records: PostgresRecords
) -> AsyncIterator[Stack]:
    settings = service_settings(temporal_dev_server.ui_url)
    app = create_app(ServiceDeps(temporal=temporal_client, records=records, settings=settings))
    async with Worker(temporal_client, task_queue=TASK_QUEUE, workflows=[RecordingCallWorkflow]):
        server = await serve(app, "127.0.0.1", 0)
        http = httpx.AsyncClient(base_url=server.url, timeout=10, headers=auth_headers())
        try:
            yield Stack(temporal_dev_server, temporal_client, records, settings, server, http)
        finally:
            await http.aclose()
            await server.stop()


@pytest_asyncio.fixture(scope="package", loop_scope="session")
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

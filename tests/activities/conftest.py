"""Real adapters for the activity tests: embedded Postgres (records + memory), the local APNs
endpoint with its sender, and a livekit-server on loopback — each started once per session."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from callflow.memory.postgres import PostgresMemory
from callflow.phone.apns_endpoint import LocalApns, start_local_apns
from callflow.push.apns import ApnsPushSender
from callflow.records.postgres import PostgresRecords
from callflow.rooms import LiveKitRooms
from callflow.stack.livekit import LocalLiveKit, start_livekit
from callflow.stack.postgres import LocalPostgres, start_scratch_postgres

LIVEKIT_KEY = "activities-key"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def activities_pg() -> AsyncIterator[LocalPostgres]:
    pg = await start_scratch_postgres(prefix="callflow-activities-pg-")
    yield pg
    pg.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pool(activities_pg: LocalPostgres) -> AsyncIterator[asyncpg.Pool]:
    """A plain pool for checking rows behind the adapters' backs."""
    p = await asyncpg.create_pool(activities_pg.dsn, min_size=1, max_size=2)
    yield p
    await p.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def records(activities_pg: LocalPostgres) -> AsyncIterator[PostgresRecords]:
    store = await PostgresRecords.connect(activities_pg.dsn)
    yield store
    await store.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def memory(activities_pg: LocalPostgres) -> AsyncIterator[PostgresMemory]:
    store = await PostgresMemory.connect(activities_pg.dsn)
    yield store
    await store.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def apns(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalApns]:
    endpoint = await start_local_apns(tmp_path_factory.mktemp("activities-apns"))
    yield endpoint
    await endpoint.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def push(apns: LocalApns) -> AsyncIterator[ApnsPushSender]:
    sender = ApnsPushSender.local(
        "127.0.0.1",
        apns.port,
        apns.ca_file,
        apns.key_pem,
        apns.key_id,
        apns.team_id,
        apns.topic,
    )
    yield sender
    await sender.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def livekit(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalLiveKit]:
    server = await start_livekit(
        tmp_path_factory.mktemp("activities-livekit"),
        api_key=LIVEKIT_KEY,
        api_secret=secrets.token_urlsafe(32),
        webhook_urls=[],
        log_level="warn",
    )
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def rooms(livekit: LocalLiveKit) -> AsyncIterator[LiveKitRooms]:
    adapter = LiveKitRooms(livekit.url, livekit.api_key, livekit.api_secret)
    yield adapter
    await adapter.close()


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


@pytest.fixture
def call_id() -> str:
    return str(uuid.uuid4())


def new_device_token() -> str:
    """64 hex characters, the shape of a PushKit VoIP token."""
    return uuid.uuid4().hex + uuid.uuid4().hex

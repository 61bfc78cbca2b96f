"""Real adapters for the activity tests: a database of their own on the session's Postgres
(records + memory), the local APNs endpoint with its sender; LiveKit is the session's
(tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from callflow.local.phone.apns_endpoint import LocalApns, start_local_apns
from callflow.local.stack.postgres import LocalPostgres
from callflow.push.apns import ApnsPushSender


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def pool(area_database: LocalPostgres) -> AsyncIterator[asyncpg.Pool]:
    """A plain pool for checking rows behind the adapters' backs."""
    p = await asyncpg.create_pool(area_database.dsn, min_size=1, max_size=2)
    yield p
    await p.close()


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


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


@pytest.fixture
def call_id() -> str:
    return str(uuid.uuid4())


def new_device_token() -> str:
    """64 hex characters, the shape of a PushKit VoIP token."""
    return uuid.uuid4().hex + uuid.uuid4().hex

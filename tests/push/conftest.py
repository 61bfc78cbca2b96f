from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from callflow.local.phone.apns_endpoint import LocalApns, start_local_apns
from callflow.push.apns import ApnsPushSender


@pytest.fixture(scope="session")
def apns_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("apns-state")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def local_apns(apns_state_dir: Path) -> AsyncIterator[LocalApns]:
    endpoint = await start_local_apns(apns_state_dir)
    yield endpoint
    await endpoint.stop()


def sender_for(endpoint: LocalApns, **overrides: object) -> ApnsPushSender:
    args: dict[str, object] = {
        "host": "127.0.0.1",
        "port": endpoint.port,
        "ca_file": endpoint.ca_file,
        "key_pem": endpoint.key_pem,
        "key_id": endpoint.key_id,
        "team_id": endpoint.team_id,
        "topic": endpoint.topic,
    }
    args.update(overrides)
    return ApnsPushSender.local(**args)  # type: ignore[arg-type]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sender(local_apns: LocalApns) -> AsyncIterator[ApnsPushSender]:
    s = sender_for(local_apns)
    yield s
    await s.close()


def new_token() -> str:
    """A 64-hex-character token, the shape of a PushKit VoIP token."""
    return uuid.uuid4().hex + uuid.uuid4().hex

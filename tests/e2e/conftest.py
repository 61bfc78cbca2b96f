from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from callflow.local.stack.local import LocalStack, StackOptions, start_local_stack
from callflow.settings import Settings


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack() -> AsyncIterator[LocalStack]:
    """The whole local stack without the agent: real Postgres, Temporal, LiveKit, APNs, API."""
    # Outside pytest's tmp folder: pytest resets it to 0700, locking out the postgres user.
    state = Path(tempfile.mkdtemp(prefix="callflow-e2e-"))
    running = await start_local_stack(
        Settings(_env_file=None),  # type: ignore[call-arg]
        StackOptions(state_dir=state, phone_stay_s=1.0, departure_timeout_s=1),
    )
    try:
        yield running
    finally:
        await running.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def agent_stack() -> AsyncIterator[LocalStack]:
    """The whole local stack with the voice agent as its own process and the phone simulator
    behaving as the iOS app (device RPC methods, espeak voice, listening to the agent)."""
    state = Path(tempfile.mkdtemp(prefix="callflow-e2e-agent-"))
    running = await start_local_stack(
        Settings(_env_file=None),  # type: ignore[call-arg]
        StackOptions(state_dir=state, with_agent=True, departure_timeout_s=1),
    )
    try:
        yield running
    finally:
        await running.stop()

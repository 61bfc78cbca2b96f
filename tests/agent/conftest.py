"""A real livekit-server on loopback for the agent's RPC and voice tests, and helpers to put a
simulated phone (callflow.local.phone.simulator) and an agent-side participant in one room."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from livekit import api, rtc

from callflow.local.phone.simulator import ConnectedCall, PhoneSimulator
from callflow.local.stack.livekit import LocalLiveKit, start_livekit

API_KEY = "devkey"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def livekit_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalLiveKit]:
    server = await start_livekit(
        tmp_path_factory.mktemp("livekit-agent"),
        api_key=API_KEY,
        api_secret=secrets.token_urlsafe(32),
        webhook_urls=[],
    )
    yield server
    server.stop()


def token(server: LocalLiveKit, room: str, identity: str, *, agent: bool = False) -> str:
    grant = api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True)
    at = api.AccessToken(server.api_key, server.api_secret).with_identity(identity)
    if agent:
        at = at.with_kind("agent")
    return at.with_grants(grant).with_ttl(timedelta(minutes=10)).to_jwt()


def push_payload(server: LocalLiveKit, room: str, identity: str) -> dict[str, Any]:
    """A VoIP push payload as the workflow sends it (the iOS contract)."""
    return {
        "call_id": room,
        "provider": "livekit",
        "livekit_url": server.url,
        "room": room,
        "token": token(server, room, identity),
        "caller_name": "Callflow Coach",
        "expires_at": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    }


def new_room() -> str:
    return f"agent-test-{uuid.uuid4().hex[:8]}"


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Call:
    room: rtc.Room  # the agent side's connection
    phone: PhoneSimulator
    phone_identity: str
    room_name: str
    hang_up: asyncio.Event  # set it to make the phone leave


@asynccontextmanager
async def phone_call(
    server: LocalLiveKit,
    rpc_handlers: dict[str, Callable[[rtc.RpcInvocationData], Awaitable[str]]],
    *,
    on_connected: Callable[[rtc.Room, ConnectedCall], Awaitable[None]] | None = None,
    phone_identity: str = "user-1",
) -> AsyncIterator[Call]:
    """The simulator answers a push into a fresh room; an agent-side participant joins too."""
    room_name = new_room()
    hang_up = asyncio.Event()

    async def stay(room: rtc.Room, call: ConnectedCall) -> None:
        await hang_up.wait()

    phone = PhoneSimulator(rpc_handlers=rpc_handlers, on_connected=on_connected or stay)
    agent_room = rtc.Room()
    await agent_room.connect(server.url, token(server, room_name, "agent-test", agent=True))
    try:
        await phone.on_push(push_payload(server, room_name, phone_identity))
        await wait_until(
            lambda: phone_identity in agent_room.remote_participants, 10, "the phone to join"
        )
        yield Call(agent_room, phone, phone_identity, room_name, hang_up)
    finally:
        hang_up.set()
        await phone.close()
        await agent_room.disconnect()

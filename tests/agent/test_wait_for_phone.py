"""The agent's wait for the phone on a real livekit-server: it may already be in the room, it may
join later, or it may never come (then PhoneNeverJoined after the timeout)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from livekit import rtc

from agent.call_session import PhoneNeverJoined, wait_for_phone
from callflow.local.stack.livekit import LocalLiveKit
from tests.agent.conftest import new_room, token, wait_until


@asynccontextmanager
async def joined(
    server: LocalLiveKit, room: str, identity: str, *, agent: bool = False
) -> AsyncIterator[rtc.Room]:
    r = rtc.Room()
    await r.connect(server.url, token(server, room, identity, agent=agent))
    try:
        yield r
    finally:
        await r.disconnect()


async def test_a_phone_already_in_the_room_is_returned_at_once(
    livekit_server: LocalLiveKit,
) -> None:
    room = new_room()
    async with (
        joined(livekit_server, room, "user-1"),
        joined(livekit_server, room, "agent-test", agent=True) as agent_room,
    ):
        await wait_until(lambda: "user-1" in agent_room.remote_participants, 10, "the phone")
        phone = await wait_for_phone(agent_room, "user-1", timeout_s=10)
        assert phone.identity == "user-1"


async def test_a_phone_joining_later_is_awaited(livekit_server: LocalLiveKit) -> None:
    room = new_room()
    async with joined(livekit_server, room, "agent-test", agent=True) as agent_room:
        waiting = asyncio.create_task(wait_for_phone(agent_room, "user-1", timeout_s=20))
        # Another participant joining first is not the phone.
        async with joined(livekit_server, room, "someone-else"):
            await asyncio.sleep(0.5)
            assert not waiting.done()
            async with joined(livekit_server, room, "user-1"):
                phone = await waiting
        assert phone.identity == "user-1"


async def test_a_phone_that_never_joins_raises_after_the_timeout(
    livekit_server: LocalLiveKit,
) -> None:
    room = new_room()
    async with joined(livekit_server, room, "agent-test", agent=True) as agent_room:
        began = time.monotonic()
        with pytest.raises(PhoneNeverJoined) as err:
            await wait_for_phone(agent_room, "user-1", timeout_s=1)
        assert time.monotonic() - began >= 1
        assert str(err.value) == f"phone 'user-1' did not join room {room} within 1s"

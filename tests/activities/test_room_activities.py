"""close_room and probe_room on a real livekit-server, with a real participant in the room."""

from __future__ import annotations

import asyncio
import secrets

from livekit import rtc
from temporalio.testing import ActivityEnvironment

from activities.rooms import RoomActivities, RoomProbe, RoomRef
from callflow.local.stack.livekit import LocalLiveKit
from callflow.rooms import LiveKitRooms


def a_room_name() -> str:
    return f"callflow-activities-{secrets.token_hex(4)}-a1"


async def test_probe_sees_the_phone_and_close_disconnects_it(
    env: ActivityEnvironment, rooms: LiveKitRooms, livekit_server: LocalLiveKit
) -> None:
    acts = RoomActivities(rooms)
    room = a_room_name()
    await rooms.create_room(room, "{}", empty_timeout_s=60)
    assert await env.run(acts.probe_room, RoomRef(room)) == RoomProbe(exists=True)

    grant = rooms.phone_token(room, identity="u-phone", name="Sam", ttl_s=60)
    phone = rtc.Room()
    disconnected = asyncio.Event()
    phone.on("disconnected", lambda *_: disconnected.set())
    await phone.connect(grant.livekit_url, grant.token)
    try:
        probe = await env.run(acts.probe_room, RoomRef(room))
        assert probe == RoomProbe(exists=True, participant_identities=["u-phone"])

        await env.run(acts.close_room, RoomRef(room))
        assert await env.run(acts.probe_room, RoomRef(room)) == RoomProbe(exists=False)
        await asyncio.wait_for(disconnected.wait(), timeout=10)  # the server hung up on it
    finally:
        await phone.disconnect()


async def test_close_room_is_idempotent_and_probe_of_a_missing_room(
    env: ActivityEnvironment, rooms: LiveKitRooms
) -> None:
    acts = RoomActivities(rooms)
    room = a_room_name()
    assert await env.run(acts.probe_room, RoomRef(room)) == RoomProbe(exists=False)
    await env.run(acts.close_room, RoomRef(room))  # never existed: success
    await rooms.create_room(room, "{}", empty_timeout_s=60)
    await env.run(acts.close_room, RoomRef(room))
    await env.run(acts.close_room, RoomRef(room))  # a retry after it closed: success
    assert await env.run(acts.probe_room, RoomRef(room)) == RoomProbe(exists=False)

"""A real livekit-server posts its own signed webhooks to the service, which signals the call."""

from __future__ import annotations

import asyncio
import time

import pytest
from livekit import api, rtc

from callflow.local.stack.livekit import LocalLiveKit
from tests.service.conftest import KNOWN_USER, LIVEKIT_KEY, LIVEKIT_SECRET, Stack
from tests.service.helpers import received, room_of, start_call
from tests.service.recording_workflow import Received


async def wait_for_signals(
    stack: Stack, call_id: str, names: list[str], timeout_s: float = 20.0
) -> Received:
    deadline = time.monotonic() + timeout_s
    while True:
        got = await received(stack, call_id)
        if [s["signal"] for s in got.signals] == names:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {names}, workflow has {got.signals}")
        await asyncio.sleep(0.1)


@pytest.mark.e2e
async def test_phone_joins_leaves_and_room_closes_through_livekit(
    stack: Stack, livekit: LocalLiveKit
) -> None:
    call_id = await start_call(stack)
    room_name = room_of(call_id)
    token = (
        api.AccessToken(LIVEKIT_KEY, LIVEKIT_SECRET)
        .with_identity(KNOWN_USER)
        .with_grants(api.VideoGrants(room_join=True, room=room_name))
        .to_jwt()
    )
    phone = rtc.Room()
    await phone.connect(livekit.url, token)
    await wait_for_signals(stack, call_id, ["participant_joined"])
    await phone.disconnect()
    await wait_for_signals(stack, call_id, ["participant_joined", "participant_left"])
    async with api.LiveKitAPI(livekit.http_url, LIVEKIT_KEY, LIVEKIT_SECRET) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room_name))

    got = await wait_for_signals(
        stack, call_id, ["participant_joined", "participant_left", "room_finished"]
    )

    joined, left, finished = got.signals
    assert (joined["identity"], joined["kind"], joined["room"]) == (
        KNOWN_USER,
        "standard",
        room_name,
    )
    assert left["identity"] == KNOWN_USER
    assert finished["room"] == room_name
    event_ids = [s["event_id"] for s in got.signals]
    assert all(e.startswith("EV_") for e in event_ids) and len(set(event_ids)) == 3
    assert abs(joined["at"] - time.time()) < 60

"""The phone simulator answering real pushes: it joins the room with the adapter's token."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest_asyncio
from livekit import api, rtc

from callflow.local.phone.simulator import ConnectedCall, Outcome, PhoneSimulator
from callflow.local.stack.livekit import LocalLiveKit, start_livekit
from callflow.rooms import LiveKitRooms
from tests.support.livekit_webhooks import WebhookSink


def push_payload(rooms: LiveKitRooms, call_id: str, room: str, user_id: str) -> dict[str, Any]:
    grant = rooms.phone_token(room, identity=user_id, name="Ada", ttl_s=60)
    return {
        "call_id": call_id,
        "provider": "livekit",
        "livekit_url": grant.livekit_url,
        "room": grant.room,
        "token": grant.token,
        "caller_name": "Callflow Coach",
        "expires_at": grant.expires_at,
    }


async def wait_for_identity(rooms: LiveKitRooms, room: str, identity: str) -> None:
    deadline = time.monotonic() + 10
    while identity not in (await rooms.probe_room(room)).participant_identities:
        assert time.monotonic() < deadline, f"{identity} never showed up in {room}"
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture(loop_scope="session")
async def fake_agent(
    livekit_server: LocalLiveKit,
) -> AsyncIterator[Any]:
    """Joins a room as an agent-kind participant (what livekit-agents' worker would be)."""
    joined: list[rtc.Room] = []

    async def join(room_name: str) -> rtc.Room:
        token = (
            api.AccessToken(livekit_server.api_key, livekit_server.api_secret)
            .with_identity("agent-test")
            .with_kind("agent")
            .with_grants(api.VideoGrants(room_join=True, room=room_name, agent=True))
            .to_jwt()
        )
        room = rtc.Room()
        await room.connect(livekit_server.url, token)
        joined.append(room)
        return room

    yield join
    for room in joined:
        await room.disconnect()


async def test_phone_joins_and_leaves_when_the_room_is_deleted(
    rooms: LiveKitRooms, livekit_webhooks: WebhookSink, room_name: str
) -> None:
    await rooms.create_room(room_name, "{}", empty_timeout_s=30)
    phone = PhoneSimulator(stay_s=30)
    payload = push_payload(rooms, "call-join", room_name, "user-join")

    began = time.monotonic()
    await phone.on_push(payload)
    assert time.monotonic() - began < 0.05  # the APNs endpoint is never held up
    await wait_for_identity(rooms, room_name, "user-join")
    joined = await livekit_webhooks.wait_for(
        "participant_joined", room=room_name, identity="user-join"
    )
    assert joined.participant.kind == api.ParticipantInfo.Kind.STANDARD

    call = await phone.wait_answered("call-join", timeout_s=5)
    assert call.outcome is Outcome.ANSWERED and call.identity == "user-join"
    assert call.join_latency_s is not None and call.join_latency_s < 5
    print(f"push -> joined: {call.join_latency_s * 1000:.0f} ms")

    await rooms.delete_room(room_name)
    call = await phone.wait_for("call-join", timeout_s=10)
    assert call.left_because == "room_closed:ROOM_DELETED"
    assert call.left_at is not None and call.errors == []
    await livekit_webhooks.wait_for("room_finished", room=room_name)
    await phone.close()


async def test_phone_publishes_a_microphone_and_stays_stay_s(
    rooms: LiveKitRooms, livekit_server: LocalLiveKit, room_name: str
) -> None:
    await rooms.create_room(room_name, "{}", empty_timeout_s=30)
    phone = PhoneSimulator(stay_s=1.0)
    await phone.on_push(push_payload(rooms, "call-stay", room_name, "user-stay"))
    await wait_for_identity(rooms, room_name, "user-stay")

    async with api.LiveKitAPI(
        livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
    ) as lk:
        deadline = time.monotonic() + 5
        while True:
            info = await lk.room.get_participant(
                api.RoomParticipantIdentity(room=room_name, identity="user-stay")
            )
            if info.tracks or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    assert [t.source for t in info.tracks] == [api.TrackSource.MICROPHONE]

    call = await phone.wait_for("call-stay", timeout_s=10)
    assert call.left_because == "stay_elapsed"
    assert call.left_at is not None and call.joined_at is not None
    assert 0.9 <= call.left_at - call.joined_at < 5
    await rooms.delete_room(room_name)


async def test_rpc_handlers_answer_the_agent_and_agent_leaving_hangs_up(
    rooms: LiveKitRooms, room_name: str, fake_agent: Any
) -> None:
    await rooms.create_room(room_name, "{}", empty_timeout_s=30)
    calls: list[rtc.RpcInvocationData] = []

    async def battery(data: rtc.RpcInvocationData) -> str:
        calls.append(data)
        return json.dumps({"level": 0.8, "charging": False})

    phone = PhoneSimulator(stay_s=30, rpc_handlers={"device.battery": battery})
    agent = await fake_agent(room_name)
    await phone.on_push(push_payload(rooms, "call-rpc", room_name, "user-rpc"))
    await phone.wait_answered("call-rpc", timeout_s=10)  # its RPC methods are registered

    answer = await agent.local_participant.perform_rpc(
        destination_identity="user-rpc", method="device.battery", payload="{}"
    )
    assert json.loads(answer) == {"level": 0.8, "charging": False}
    assert calls[0].caller_identity == "agent-test"
    assert phone.calls["call-rpc"].agent_joined_at is not None

    # The agent hangs up after its goodbye; the phone hears of it ~2.5 s later (server side).
    await agent.disconnect()
    call = await phone.wait_for("call-rpc", timeout_s=10)
    assert call.left_because == "agent_left"
    await rooms.delete_room(room_name)


async def test_on_connected_hook_speaks_into_the_room_and_hangs_up(
    rooms: LiveKitRooms, room_name: str, fake_agent: Any
) -> None:
    await rooms.create_room(room_name, "{}", empty_timeout_s=30)
    agent = await fake_agent(room_name)
    heard: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def listen(track: rtc.Track, *_: Any) -> None:
        async for event in rtc.AudioStream(track):
            samples = np.frombuffer(event.frame.data, dtype=np.int16)
            if np.abs(samples).max() > 1000 and not heard.done():
                heard.set_result(time.time())
                return

    tasks: list[asyncio.Task[None]] = []
    agent.on(
        "track_subscribed",
        lambda track, *rest: tasks.append(asyncio.create_task(listen(track, *rest))),
    )

    async def speak_a_tone(room: rtc.Room, call: ConnectedCall) -> None:
        assert call.payload["call_id"] == "call-hook"
        assert room.local_participant.identity == "user-hook"
        rate, n = call.microphone.sample_rate, call.microphone.sample_rate // 100
        t = np.arange(n) / rate
        tone = (np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16)
        for _ in range(150):  # 1.5 s of 440 Hz
            frame = rtc.AudioFrame(tone.tobytes(), rate, 1, n)
            await call.microphone.capture_frame(frame)
            if heard.done():
                break
        call.log.first_agent_audio_at = time.time()  # what the real hook measures

    phone = PhoneSimulator(stay_s=0.1, on_connected=speak_a_tone)
    await phone.on_push(push_payload(rooms, "call-hook", room_name, "user-hook"))
    call = await phone.wait_for("call-hook", timeout_s=15)

    assert call.errors == []
    assert call.left_because == "hook_done"  # not stay_s: the hook owns the call
    assert call.first_agent_audio_at is not None
    heard_at = await asyncio.wait_for(heard, 5)
    assert call.joined_at is not None and heard_at > call.joined_at
    for task in tasks:
        task.cancel()
    await rooms.delete_room(room_name)


async def test_without_auto_create_a_stale_push_cannot_reopen_a_closed_room(
    tmp_path: Path, room_name: str
) -> None:
    server = await start_livekit(
        tmp_path, api_key="devkey", api_secret="s" * 40, webhook_urls=[], auto_create_rooms=False
    )
    rooms = LiveKitRooms(server.url, server.api_key, server.api_secret)
    try:
        await rooms.create_room(room_name, "{}", empty_timeout_s=30)
        stale = push_payload(rooms, "call-stale", room_name, "user-stale")
        await rooms.delete_room(room_name)  # the workflow gave up on this attempt

        phone = PhoneSimulator(stay_s=5, connect_timeout_s=3)
        await phone.on_push(stale)
        call = await phone.wait_for("call-stale", timeout_s=30)
        assert call.outcome is Outcome.FAILED and call.joined_at is None
        assert (await rooms.probe_room(room_name)).exists is False
    finally:
        await rooms.close()
        server.stop()

"""LiveKitRooms against a real livekit-server: rooms, dispatch, tokens, errors, webhooks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from livekit import api, rtc

from callflow.local.stack.livekit import LocalLiveKit
from callflow.local.stack.temporal import free_port
from callflow.rooms import (
    LiveKitRooms,
    RoomsInvalidInput,
    RoomsRejected,
    RoomsUnavailable,
)
from tests.support.livekit_webhooks import WebhookSink


async def _listed(server: LocalLiveKit, room: str) -> api.Room:
    async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk:
        found = (await lk.room.list_rooms(api.ListRoomsRequest(names=[room]))).rooms
    assert len(found) == 1, f"{room} not listed"
    return found[0]


async def test_create_room_keeps_metadata_and_timeouts(
    rooms: LiveKitRooms, livekit_server: LocalLiveKit, room_name: str
) -> None:
    metadata = json.dumps({"call_id": "c-1", "memory": ["likes running"]})
    await rooms.create_room(room_name, metadata, empty_timeout_s=45)

    state = await rooms.probe_room(room_name)
    assert state.exists and state.participant_identities == []
    listed = await _listed(livekit_server, room_name)
    assert listed.metadata == metadata
    assert listed.empty_timeout == 45
    assert listed.departure_timeout == 20


async def test_create_room_twice_is_idempotent_and_takes_new_metadata(
    rooms: LiveKitRooms, livekit_server: LocalLiveKit, room_name: str
) -> None:
    await rooms.create_room(room_name, "first", empty_timeout_s=30)
    sid = (await _listed(livekit_server, room_name)).sid
    await rooms.create_room(room_name, "second", empty_timeout_s=30)
    listed = await _listed(livekit_server, room_name)
    assert listed.sid == sid  # the same room, not a new one
    assert listed.metadata == "second"


async def test_dispatch_is_recorded_once(rooms: LiveKitRooms, room_name: str) -> None:
    await rooms.create_room(room_name, "{}", empty_timeout_s=30)
    await rooms.dispatch_agent(room_name, "callflow-agent", '{"call_id": "c-2"}')
    await rooms.dispatch_agent(room_name, "callflow-agent", '{"call_id": "c-2"}')  # a retry

    ours = [d for d in await rooms.list_dispatches(room_name) if d.agent_name == "callflow-agent"]
    assert len(ours) == 1
    assert ours[0].room == room_name
    assert ours[0].metadata == '{"call_id": "c-2"}'


async def test_delete_room_closes_it_and_fires_room_finished(
    rooms: LiveKitRooms, livekit_webhooks: WebhookSink, room_name: str
) -> None:
    await rooms.create_room(room_name, "{}", empty_timeout_s=30)
    started = await livekit_webhooks.wait_for("room_started", room=room_name)
    await rooms.delete_room(room_name)
    assert (await rooms.probe_room(room_name)).exists is False
    await rooms.delete_room(room_name)  # already gone: still success

    finished = await livekit_webhooks.wait_for("room_finished", room=room_name)
    assert finished.id and finished.id != started.id  # ids to dedupe on
    assert finished.created_at >= started.created_at
    assert livekit_webhooks.rejected == []  # every webhook's signature verified


async def test_probe_of_unknown_room(rooms: LiveKitRooms) -> None:
    assert (await rooms.probe_room("callflow-never-created-a1")).exists is False


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


async def test_phone_token_is_scoped_to_its_room(
    rooms: LiveKitRooms, livekit_server: LocalLiveKit, room_name: str
) -> None:
    grant = rooms.phone_token(room_name, identity="user-7", name="Ada", ttl_s=120)
    claims = api.TokenVerifier(livekit_server.api_key, livekit_server.api_secret).verify(
        grant.token
    )
    assert claims.identity == "user-7" and claims.name == "Ada"
    assert claims.video is not None
    assert claims.video.room == room_name and claims.video.room_join
    assert not (claims.video.room_admin or claims.video.room_create or claims.video.room_list)
    assert grant.livekit_url == livekit_server.url and grant.room == room_name
    expires = datetime.fromisoformat(grant.expires_at)
    assert 110 <= (expires - datetime.now(UTC)).total_seconds() <= 121

    # The token is no key to the server API: listing or creating rooms is refused.
    async with api.LiveKitAPI.with_token(grant.token, livekit_server.http_url) as as_phone:
        with pytest.raises(api.TwirpError) as refused:
            await as_phone.room.list_rooms(api.ListRoomsRequest())
        assert refused.value.status in (401, 403)

    # Rewriting the room inside the token to join another room breaks its signature.
    header, _, signature = grant.token.split(".")
    forged_claims = _claims(grant.token)
    forged_claims["video"] = {**forged_claims["video"], "room": room_name + "-other"}
    forged_body = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=")
    forged = f"{header}.{forged_body.decode()}.{signature}"
    room = rtc.Room()
    with pytest.raises(rtc.ConnectError):
        await room.connect(livekit_server.url, forged, rtc.RoomOptions(connect_timeout=5))
    assert (await rooms.probe_room(room_name + "-other")).exists is False


async def test_wrong_secret_is_rejected_not_retryable(livekit_server: LocalLiveKit) -> None:
    wrong = LiveKitRooms(livekit_server.url, livekit_server.api_key, "w" * 40)
    try:
        with pytest.raises(RoomsRejected) as rejected:
            await wrong.create_room("callflow-wrong-secret-a1", "{}", 30)
        assert rejected.value.status == 401
        assert rejected.value.retryable is False
        assert "LIVEKIT_API_SECRET" in str(rejected.value)
        assert "w" * 40 not in str(rejected.value)
    finally:
        await wrong.close()


async def test_unreachable_server_is_retryable() -> None:
    gone = LiveKitRooms(f"ws://127.0.0.1:{free_port()}", "devkey", "s" * 40)
    try:
        with pytest.raises(RoomsUnavailable) as unavailable:
            await gone.probe_room("callflow-x-a1")
        assert unavailable.value.retryable is True
        with pytest.raises(RoomsUnavailable):
            await gone.create_room("callflow-x-a1", "{}", 30)
    finally:
        await gone.close()


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda r: r.phone_token("", identity="u", name="n", ttl_s=60), "room"),
        (lambda r: r.phone_token("room", identity="", name="n", ttl_s=60), "identity"),
        (lambda r: r.phone_token("room", identity="u", name="n", ttl_s=0), "ttl_s"),
    ],
)
def test_bad_token_input_names_the_field(rooms: LiveKitRooms, call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RoomsInvalidInput, match=field):
        call(rooms)


async def test_bad_room_input_names_the_field(rooms: LiveKitRooms) -> None:
    with pytest.raises(RoomsInvalidInput, match="empty_timeout_s"):
        await rooms.create_room("callflow-x-a1", "{}", empty_timeout_s=-1)
    with pytest.raises(RoomsInvalidInput, match="agent_name"):
        await rooms.dispatch_agent("callflow-x-a1", "", "{}")
    with pytest.raises(RoomsInvalidInput, match="LIVEKIT_API_SECRET"):
        LiveKitRooms("ws://127.0.0.1:1", "devkey", "")

"""ring: a real livekit-server (room + dispatch + token), the local APNs endpoint (push) and
PostgresRecords (push claim), run inside Temporal's ActivityEnvironment."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import jwt
import pytest
from livekit import api, rtc
from temporalio.testing import ActivityEnvironment

from activities.error_edge import to_application_error
from activities.errors import DEVICE_UNREACHABLE
from activities.ring import (
    AGENT_VOICE_GRACE_S,
    RingActivities,
    RingInput,
    RingOutput,
    WithholdInput,
    apns_id_for,
)
from callflow.local.phone.apns_endpoint import LocalApns
from callflow.local.stack.livekit import LocalLiveKit
from callflow.push.apns import ApnsPushSender
from callflow.push.errors import DeviceUnreachable, PushRetryable
from callflow.records.postgres import PostgresRecords
from callflow.rooms import LiveKitRooms
from callflow.rooms.errors import RoomsRejected
from tests.activities.conftest import new_device_token
from workflows.messages import room_name_for

AGENT = "callflow-agent"
# The VoIP payload the iOS app ships against (docs/architecture.md, "Contracts with the iOS app").
DESIGN_FIELDS = {"call_id", "provider", "livekit_url", "room", "token", "caller_name", "expires_at"}
# ring also sends the attempt number; the contract lists it too.


def ring_input(call_id: str, token: str, attempt: int = 1, ttl_s: int = 120) -> RingInput:
    return RingInput(
        call_id=call_id,
        attempt=attempt,
        room=room_name_for(call_id, attempt),
        user_id="u-sam",
        display_name="Sam",
        device_token=token,
        caller_name="Coach Ada",
        agent_name=AGENT,
        agent_metadata=json.dumps({"call_id": call_id, "user_id": "u-sam", "attempt": attempt}),
        token_ttl_s=ttl_s,
        empty_timeout_s=60,
    )


def a_device(apns: LocalApns) -> tuple[str, list[dict[str, Any]]]:
    """A registered phone: its token and the payloads it has received."""
    token = new_device_token()
    got: list[dict[str, Any]] = []

    async def handler(payload: dict[str, Any]) -> None:
        got.append(payload)

    apns.register_device(token, handler)
    return token, got


async def ours(rooms: LiveKitRooms, room: str) -> list[Any]:
    """Dispatches of our agent (the server also lists its own unnamed default dispatch)."""
    return [d for d in await rooms.list_dispatches(room) if d.agent_name == AGENT]


def pushes_to(apns: LocalApns, token: str) -> int:
    return sum(1 for p in apns.received if p.device_token == token.lower())


@pytest.fixture
def ring_activities(
    rooms: LiveKitRooms, push: ApnsPushSender, records: PostgresRecords
) -> RingActivities:
    return RingActivities(rooms, push, records, push_expiry_s=45)


async def push_state(pool: asyncpg.Pool, call_id: str, attempt: int) -> tuple[str, str] | None:
    row = await pool.fetchrow(
        "select state, apns_id from push_log where call_id = $1 and attempt = $2",
        call_id,
        attempt,
    )
    return (row["state"], row["apns_id"]) if row is not None else None


async def test_ring_creates_room_and_dispatch_and_pushes_the_app_payload(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    rooms: LiveKitRooms,
    livekit_server: LocalLiveKit,
    apns: LocalApns,
    pool: asyncpg.Pool,
    call_id: str,
) -> None:
    token, got = a_device(apns)
    given = ring_input(call_id, token, ttl_s=120)

    before = time.time()
    out = await env.run(ring_activities.ring, given)
    await apns.drain_deliveries()

    assert out.push_sent and not out.duplicate_suppressed
    assert out.room == given.room
    assert out.apns_id == apns_id_for(call_id, 1)
    assert (await rooms.probe_room(given.room)).exists
    assert [d.metadata for d in await ours(rooms, given.room)] == [given.agent_metadata]
    # The room's metadata, which the phone can read, names the call and holds no context.
    listed = await rooms._client().room.list_rooms(api.ListRoomsRequest(names=[given.room]))
    assert [json.loads(r.metadata) for r in listed.rooms] == [{"call_id": call_id}]

    [payload] = got
    assert set(payload) == DESIGN_FIELDS
    assert payload["call_id"] == call_id
    assert payload["provider"] == "livekit"
    assert payload["livekit_url"] == livekit_server.url
    assert payload["room"] == given.room
    assert payload["caller_name"] == "Coach Ada"
    assert payload["expires_at"] == out.expires_at
    # The token is a room-scoped JWT signed with the server's secret, for the user, short-lived.
    claims = jwt.decode(payload["token"], livekit_server.api_secret, algorithms=["HS256"])
    assert claims["iss"] == livekit_server.api_key
    assert claims["sub"] == "u-sam"
    assert claims["video"]["room"] == given.room and claims["video"]["roomJoin"] is True
    assert before + 120 - 5 <= claims["exp"] <= time.time() + 120 + 1
    assert datetime.fromisoformat(payload["expires_at"]).timestamp() == claims["exp"]

    [received] = [p for p in apns.received if p.device_token == token.lower()]
    assert received.apns_id == out.apns_id
    assert received.priority == 10
    assert received.collapse_id == f"call-{call_id}"
    assert await push_state(pool, call_id, 1) == ("sent", out.apns_id)


async def test_ring_twice_for_the_same_attempt_pushes_once(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    rooms: LiveKitRooms,
    apns: LocalApns,
    call_id: str,
) -> None:
    token, got = a_device(apns)
    first = await env.run(ring_activities.ring, ring_input(call_id, token))
    again = await env.run(ring_activities.ring, ring_input(call_id, token))  # a retry
    await apns.drain_deliveries()

    assert first.push_sent and not first.duplicate_suppressed
    assert not again.push_sent and again.duplicate_suppressed
    assert again.apns_id == first.apns_id and again.room == first.room
    assert len(got) == 1 and pushes_to(apns, token) == 1
    assert len(await ours(rooms, first.room)) == 1  # dispatched once too

    # The next attempt is a new push, in its own room, with its own apns-id.
    second = await env.run(ring_activities.ring, ring_input(call_id, token, attempt=2))
    await apns.drain_deliveries()
    assert second.push_sent and second.apns_id != first.apns_id
    assert second.room == room_name_for(call_id, 2) != first.room
    assert [p["room"] for p in got] == [first.room, second.room]


async def test_in_a_burst_a_ring_reports_back_once_every_ring_has_pushed(
    env: ActivityEnvironment,
    rooms: LiveKitRooms,
    push: ApnsPushSender,
    records: PostgresRecords,
    apns: LocalApns,
) -> None:
    # One turn at a time, five rings at once: the first pushes at once, then waits for the
    # other four to push before its activity completes (ring_gate.py).
    activities = RingActivities(rooms, push, records, push_expiry_s=45, rings_in_flight=1)
    devices = [a_device(apns)[0] for _ in range(5)]
    completed_at: dict[str, float] = {}

    async def ring(token: str) -> RingOutput:
        out = await env.run(activities.ring, ring_input(str(uuid.uuid4()), token))
        completed_at[token] = time.time()
        return out

    outs = await asyncio.gather(*(ring(token) for token in devices))
    await apns.drain_deliveries()

    assert all(out.push_sent for out in outs)
    pushed_at = sorted(p.received_at_wall for p in apns.received if p.device_token in devices)
    assert len(pushed_at) == 5
    first_done = min(completed_at.values())
    # Without the gate the first ring would be done right after the first push.
    assert first_done >= pushed_at[4], (first_done, pushed_at)


async def test_apns_503_is_retryable_and_the_retry_pushes_exactly_once(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    apns: LocalApns,
    pool: asyncpg.Pool,
    call_id: str,
) -> None:
    token, got = a_device(apns)
    apns.fail_next(1, status=503)

    with pytest.raises(PushRetryable) as raised:
        await env.run(ring_activities.ring, ring_input(call_id, token))
    # The error edge reports it as retryable: Temporal retries it.
    reported = to_application_error(raised.value)
    assert reported.type == "PushRetryable" and not reported.non_retryable
    assert raised.value.status == 503
    assert await push_state(pool, call_id, 1) == ("claimed", None)

    out = await env.run(ring_activities.ring, ring_input(call_id, token))  # Temporal's retry
    again = await env.run(ring_activities.ring, ring_input(call_id, token))
    await apns.drain_deliveries()
    assert out.push_sent and again.duplicate_suppressed
    assert len(got) == 1 and pushes_to(apns, token) == 1
    assert await push_state(pool, call_id, 1) == ("sent", out.apns_id)


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda apns: new_device_token(), id="never-registered"),
        pytest.param(lambda apns: _deleted_app(apns), id="app-deleted-410"),
    ],
)
async def test_unreachable_device_is_a_non_retryable_error(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    apns: LocalApns,
    call_id: str,
    make_token: Callable[[LocalApns], str],
) -> None:
    token = make_token(apns)
    with pytest.raises(DeviceUnreachable) as raised:
        await env.run(ring_activities.ring, ring_input(call_id, token))
    reported = to_application_error(raised.value)
    assert reported.type == DEVICE_UNREACHABLE and reported.non_retryable
    assert "device unreachable" in reported.message  # the call's failure reason says so
    assert pushes_to(apns, token) == 0


def _deleted_app(apns: LocalApns) -> str:
    token, _ = a_device(apns)
    apns.unregister(token)
    return token


async def test_livekit_refusing_the_keys_is_a_non_retryable_room_rejected(
    env: ActivityEnvironment,
    livekit_server: LocalLiveKit,
    push: ApnsPushSender,
    records: PostgresRecords,
    apns: LocalApns,
    call_id: str,
) -> None:
    wrong = LiveKitRooms(livekit_server.url, livekit_server.api_key, "x" * 40)
    token, got = a_device(apns)
    try:
        with pytest.raises(RoomsRejected) as raised:
            await env.run(RingActivities(wrong, push, records).ring, ring_input(call_id, token))
    finally:
        await wrong.close()
    reported = to_application_error(raised.value)
    assert reported.type == "RoomRejected" and reported.non_retryable
    assert "LIVEKIT_API_SECRET" in reported.message
    assert "x" * 40 not in reported.message + str(raised.value.__cause__)
    await apns.drain_deliveries()
    assert got == []  # no push for a room that does not exist


@dataclass
class Armed:
    """An armed ring running in the activity environment, for a fresh phone."""

    token: str
    got: list[dict[str, Any]]
    due: datetime
    given: RingInput
    running: asyncio.Task[RingOutput]


def arm(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    apns: LocalApns,
    call_id: str,
    due_in_s: float,
) -> Armed:
    token, got = a_device(apns)
    due = datetime.now(UTC) + timedelta(seconds=due_in_s)
    given = dataclasses.replace(ring_input(call_id, token), ring_at=due.isoformat())
    # This attempt starts now on the "server's" clock, which the armed wait is measured on.
    env.info = dataclasses.replace(env.info, started_time=datetime.now(UTC))
    running = asyncio.create_task(env.run(ring_activities.ring, given))
    return Armed(token, got, due, given, running)


async def test_an_armed_ring_prepares_the_room_then_pushes_at_the_due_time(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    rooms: LiveKitRooms,
    apns: LocalApns,
    pool: asyncpg.Pool,
    call_id: str,
) -> None:
    armed = arm(env, ring_activities, apns, call_id, due_in_s=1.5)
    room = armed.given.room
    await asyncio.sleep(0.8)
    # Armed: the room is ready, the agent not yet dispatched, the phone not yet rung.
    assert (await rooms.probe_room(room)).exists
    assert await ours(rooms, room) == [] and armed.got == []
    out = await armed.running
    await apns.drain_deliveries()

    assert out.push_sent and len(armed.got) == 1
    [received] = [p for p in apns.received if p.device_token == armed.token.lower()]
    assert received.received_at_wall >= armed.due.timestamp()
    assert datetime.fromisoformat(out.rang_at) >= armed.due - timedelta(milliseconds=50)
    assert [d.metadata for d in await ours(rooms, room)] == [armed.given.agent_metadata]
    assert await push_state(pool, call_id, 1) == ("sent", out.apns_id)


async def test_a_withheld_armed_ring_never_pushes(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    apns: LocalApns,
    pool: asyncpg.Pool,
    call_id: str,
) -> None:
    armed = arm(env, ring_activities, apns, call_id, due_in_s=1.0)
    await asyncio.sleep(0.3)
    held = await env.run(ring_activities.withhold_push, WithholdInput(call_id, 1))
    out = await armed.running
    await apns.drain_deliveries()

    assert held.withheld
    assert not out.push_sent and out.duplicate_suppressed
    assert armed.got == [] and pushes_to(apns, armed.token) == 0
    assert await push_state(pool, call_id, 1) == ("withheld", None)


async def join_as_agent(server: LocalLiveKit, room_name: str, *, speak: bool) -> rtc.Room:
    """An agent-kind participant (what the voice agent's job is), its voice published if
    `speak`."""
    token = (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(f"agent-{uuid.uuid4().hex[:6]}")
        .with_kind("agent")
        .with_grants(api.VideoGrants(room_join=True, room=room_name, agent=True))
        .to_jwt()
    )
    room = rtc.Room()
    await room.connect(server.url, token)
    if speak:
        voice = rtc.LocalAudioTrack.create_audio_track("voice", rtc.AudioSource(48000, 1))
        await room.local_participant.publish_track(
            voice, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
    return room


def ring_for_agent(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    apns: LocalApns,
    call_id: str,
    agent_ready_s: float,
) -> tuple[str, list[dict[str, Any]], RingInput, asyncio.Task[RingOutput]]:
    """A ring that waits for its agent, running, for a fresh phone: (token, pushes, input, task)."""
    token, got = a_device(apns)
    given = dataclasses.replace(ring_input(call_id, token), agent_ready_s=agent_ready_s)
    return token, got, given, asyncio.create_task(env.run(ring_activities.ring, given))


async def test_a_ring_waits_for_its_agent_and_pushes_once_the_agent_is_in_the_room(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    rooms: LiveKitRooms,
    livekit_server: LocalLiveKit,
    apns: LocalApns,
    call_id: str,
) -> None:
    token, got, given, running = ring_for_agent(env, ring_activities, apns, call_id, 10.0)
    await asyncio.sleep(0.8)
    # Dispatched, no agent came yet (none runs here): the phone is not rung.
    assert [d.metadata for d in await ours(rooms, given.room)] == [given.agent_metadata]
    assert not running.done() and got == []

    voiced = await join_as_agent(livekit_server, given.room, speak=True)
    spoke_at = time.time()
    try:
        out = await asyncio.wait_for(running, 10)
        await apns.drain_deliveries()
    finally:
        await voiced.disconnect()

    assert out.push_sent and not out.no_agent and out.agent_redispatches == 0
    assert len(got) == 1
    [received] = [p for p in apns.received if p.device_token == token.lower()]
    assert received.received_at_wall >= spoke_at - 0.2  # pushed after the agent's voice was up
    assert len(await ours(rooms, given.room)) == 1


async def test_an_agent_that_never_comes_is_dispatched_again_and_the_phone_is_not_rung(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    rooms: LiveKitRooms,
    apns: LocalApns,
    pool: asyncpg.Pool,
    call_id: str,
) -> None:
    token, got, given, first = ring_for_agent(env, ring_activities, apns, call_id, 0.6)
    await asyncio.sleep(0.3)
    [dispatched] = await ours(rooms, given.room)

    out = await first
    await apns.drain_deliveries()

    assert out.no_agent and not out.push_sent and out.agent_redispatches == 1
    assert got == [] and pushes_to(apns, token) == 0
    assert await push_state(pool, call_id, 1) is None  # no push was even claimed
    # The first dispatch was replaced by a new one (livekit-server keeps a dispatch that found
    # no worker listed, so asking again for the same one would not look for a worker again).
    [again] = await ours(rooms, given.room)
    assert again.id != dispatched.id and again.metadata == given.agent_metadata


async def test_an_agent_without_a_voice_track_is_rung_for_after_a_grace(
    env: ActivityEnvironment,
    ring_activities: RingActivities,
    livekit_server: LocalLiveKit,
    apns: LocalApns,
    call_id: str,
) -> None:
    # An agent build that publishes its voice only once the phone is in (as livekit-agents'
    # room IO does by itself) must not leave its calls unrung during a rolling deploy.
    token, got, given, running = ring_for_agent(env, ring_activities, apns, call_id, 10.0)
    await asyncio.sleep(0.3)
    silent = await join_as_agent(livekit_server, given.room, speak=False)
    joined_at = time.time()
    try:
        await asyncio.sleep(AGENT_VOICE_GRACE_S / 2)
        assert not running.done() and got == []  # connected, no voice yet: not rung yet
        out = await asyncio.wait_for(running, 10)
        await apns.drain_deliveries()
    finally:
        await silent.disconnect()

    assert out.push_sent and not out.no_agent and len(got) == 1
    [received] = [p for p in apns.received if p.device_token == token.lower()]
    assert received.received_at_wall >= joined_at + AGENT_VOICE_GRACE_S - 0.3

"""ring against the real rules of APNs and of the phone: a lost APNs answer is not resent, the
push's `expires_at` is the end of the ring window, the token lives the window plus a margin, and
the phone gets the public LiveKit URL (docs/ios-contract.md)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import jwt
import pytest_asyncio
from jsonschema import Draft202012Validator
from temporalio.testing import ActivityEnvironment

from activities.ring import RingActivities
from callflow.local.phone.apns_endpoint import LocalApns
from callflow.local.stack.livekit import LocalLiveKit
from callflow.push.apns import ApnsPushSender
from callflow.push.errors import PushRetryable
from callflow.records.postgres import PostgresRecords
from callflow.rooms import LiveKitRooms
from tests.activities.test_ring_activity import a_device, push_state, pushes_to, ring_input


@pytest_asyncio.fixture(loop_scope="session")
async def impatient_push(apns: LocalApns) -> AsyncIterator[ApnsPushSender]:
    """A sender that gives up on an answer after a second (production waits 10 s)."""
    sender = ApnsPushSender.local(
        "127.0.0.1",
        apns.port,
        apns.ca_file,
        apns.key_pem,
        apns.key_id,
        apns.team_id,
        apns.topic,
        timeout_s=1.0,
    )
    yield sender
    await sender.close()


async def test_a_lost_apns_answer_is_not_resent_by_the_retry(
    env: ActivityEnvironment,
    rooms: LiveKitRooms,
    impatient_push: ApnsPushSender,
    records: PostgresRecords,
    apns: LocalApns,
    pool: asyncpg.Pool,
    call_id: str,
) -> None:
    # APNs took the push and the phone rang, but the answer never came back.
    ring = RingActivities(rooms, impatient_push, records).ring
    token, got = a_device(apns)
    apns.lose_next_responses(1)
    try:
        out = await env.run(ring, ring_input(call_id, token))
    except PushRetryable:
        out = await env.run(ring, ring_input(call_id, token))  # what Temporal's retry does
    await apns.drain_deliveries()
    assert len(got) == 1 and pushes_to(apns, token) == 1  # APNs does not dedupe on apns-id
    assert out.push_sent and out.push_in_doubt
    assert await push_state(pool, call_id, 1) == ("sent", out.apns_id)
    again = await env.run(ring, ring_input(call_id, token))
    assert again.duplicate_suppressed and pushes_to(apns, token) == 1


async def test_expires_at_is_the_end_of_the_ring_window_and_the_token_follows_it(
    env: ActivityEnvironment,
    rooms: LiveKitRooms,
    push: ApnsPushSender,
    records: PostgresRecords,
    apns: LocalApns,
    livekit_server: LocalLiveKit,
    call_id: str,
) -> None:
    token, got = a_device(apns)
    given = dataclasses.replace(ring_input(call_id, token, ttl_s=75), ring_window_s=45.0)
    env.info = dataclasses.replace(env.info, started_time=datetime.now(UTC))
    out = await env.run(RingActivities(rooms, push, records).ring, given)
    await apns.drain_deliveries()
    [payload] = got
    rang = datetime.fromisoformat(out.rang_at).timestamp()
    expires = datetime.fromisoformat(payload["expires_at"]).timestamp()
    assert payload["expires_at"] == out.expires_at
    assert abs(expires - (rang + 45)) < 0.01
    claims = jwt.decode(payload["token"], livekit_server.api_secret, algorithms=["HS256"])
    assert rang + 75 - 2 <= claims["exp"] <= rang + 75 + 1
    assert claims["exp"] > expires  # the phone answering at the last second still gets in
    contract = json.loads((Path(__file__).parents[2] / "docs/ios-contract.schema.json").read_text())
    checker = Draft202012Validator(
        contract["push"], format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    assert [e.message for e in checker.iter_errors(payload)] == []


async def test_the_phone_gets_the_public_livekit_url(
    env: ActivityEnvironment,
    livekit_server: LocalLiveKit,
    push: ApnsPushSender,
    records: PostgresRecords,
    apns: LocalApns,
    call_id: str,
) -> None:
    public = "wss://livekit.example.com"
    split = LiveKitRooms(
        livekit_server.url, livekit_server.api_key, livekit_server.api_secret, public_url=public
    )
    token, got = a_device(apns)
    try:
        await env.run(RingActivities(split, push, records).ring, ring_input(call_id, token))
    finally:
        await split.close()
    await apns.drain_deliveries()
    assert [p["livekit_url"] for p in got] == [public]

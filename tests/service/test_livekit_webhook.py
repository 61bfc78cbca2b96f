"""POST /livekit/webhook against a real Temporal server and the recording workflow."""

from __future__ import annotations

import datetime
import time

import httpx

from tests.service.conftest import KNOWN_USER, Stack
from tests.service.helpers import finish, received, room_of, start_call
from tests.service.livekit_signing import event_body, sign, signed_headers


async def post_webhook(stack: Stack, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    # As LiveKit sends it: its own signature, none of the call API's keys.
    async with httpx.AsyncClient(base_url=stack.server.url, timeout=10) as livekit:
        response = await livekit.post("/livekit/webhook", content=body, headers=headers)
    return response.status_code, response.json()


async def test_participant_joined_reaches_the_workflow_with_its_fields(stack: Stack) -> None:
    call_id = await start_call(stack)
    created_at = int(time.time()) - 3
    body = event_body(
        "participant_joined",
        room_of(call_id),
        identity=KNOWN_USER,
        event_id="EV_joined_1",
        created_at=created_at,
    )

    status, answer = await post_webhook(stack, body, signed_headers(body))

    assert status == 200
    assert answer == {"status": "signalled", "call_id": call_id, "signal": "participant_joined"}
    got = await received(stack, call_id)
    assert got.signals == [
        {
            "signal": "participant_joined",
            "event_id": "EV_joined_1",
            "room": room_of(call_id),
            "identity": KNOWN_USER,
            "kind": "standard",
            "at": float(created_at),
        }
    ]


async def test_agent_participant_and_room_finished_are_forwarded(stack: Stack) -> None:
    call_id = await start_call(stack)
    joined = event_body("participant_joined", room_of(call_id, 2), identity="agent-1", agent=True)
    left = event_body("participant_left", room_of(call_id, 2), identity="agent-1", agent=True)
    finished = event_body("room_finished", room_of(call_id, 2), event_id="EV_fin")

    for body in (joined, left, finished):
        status, _ = await post_webhook(stack, body, signed_headers(body))
        assert status == 200

    got = await received(stack, call_id)
    assert [(s["signal"], s.get("kind")) for s in got.signals] == [
        ("participant_joined", "agent"),
        ("participant_left", "agent"),
        ("room_finished", None),
    ]
    assert got.signals[2]["event_id"] == "EV_fin"
    assert got.signals[2]["room"] == room_of(call_id, 2)


async def test_duplicate_event_id_is_signalled_once(stack: Stack) -> None:
    call_id = await start_call(stack)
    body = event_body("participant_left", room_of(call_id), identity=KNOWN_USER, event_id="EV_dup")

    first = await post_webhook(stack, body, signed_headers(body))
    second = await post_webhook(stack, body, signed_headers(body))

    assert first[0] == second[0] == 200
    assert second[1] == {"status": "duplicate", "event_id": "EV_dup"}
    got = await received(stack, call_id)
    assert [s["event_id"] for s in got.signals] == ["EV_dup"]


async def test_tampered_body_is_401_and_not_signalled(stack: Stack) -> None:
    call_id = await start_call(stack)
    body = event_body("participant_joined", room_of(call_id), identity=KNOWN_USER)
    headers = signed_headers(body)
    tampered = body.replace(KNOWN_USER.encode(), b"user-mallory")

    status, answer = await post_webhook(stack, tampered, headers)

    assert status == 401
    assert answer["error"]["code"] == "invalid_signature"
    assert answer["error"]["field"] == "Authorization"
    assert (await received(stack, call_id)).signals == []


async def test_wrong_secret_is_401(stack: Stack) -> None:
    body = event_body("room_finished", room_of("whatever"))
    headers = {"Authorization": sign(body, secret="not-the-livekit-secret-at-all-000")}

    status, answer = await post_webhook(stack, body, headers)

    assert status == 401
    assert answer["error"]["code"] == "invalid_signature"
    assert "Signature" in answer["error"]["message"]


async def test_wrong_api_key_and_expired_token_are_401(stack: Stack) -> None:
    body = event_body("room_finished", room_of("whatever"))
    wrong_issuer = {"Authorization": sign(body, key="someone-elses-key")}
    expired = {"Authorization": sign(body, ttl=datetime.timedelta(minutes=-5))}

    for headers in (wrong_issuer, expired):
        status, answer = await post_webhook(stack, body, headers)
        assert status == 401, answer


async def test_missing_authorization_is_401_naming_the_header(stack: Stack) -> None:
    body = event_body("room_finished", room_of("whatever"))

    status, answer = await post_webhook(stack, body, {"Content-Type": "application/webhook+json"})

    assert status == 401
    assert answer["error"]["field"] == "Authorization"
    assert "missing Authorization header" in answer["error"]["message"]


async def test_malformed_json_with_valid_signature_is_400(stack: Stack) -> None:
    body = b'{"event": "participant_joined", "room": '

    status, answer = await post_webhook(stack, body, signed_headers(body))

    assert status == 400
    assert answer["error"]["code"] == "malformed_body"


async def test_event_without_id_is_400(stack: Stack) -> None:
    body = event_body("room_finished", room_of("abc"), event_id="")
    # protojson omits an empty id; make sure the body truly has none.
    assert b'"id"' not in body

    status, answer = await post_webhook(stack, body, signed_headers(body))

    assert status == 400
    assert answer["error"]["field"] == "id"


async def test_rooms_callflow_does_not_know_are_200_and_not_signalled(stack: Stack) -> None:
    call_id = await start_call(stack)
    foreign = event_body("participant_joined", "standup-room", identity="bob")
    no_such_call = event_body("participant_joined", room_of("0" * 32), identity="bob")
    other_event = event_body("track_published", room_of(call_id), identity=KNOWN_USER)

    for body in (foreign, no_such_call, other_event):
        status, answer = await post_webhook(stack, body, signed_headers(body))
        assert status == 200
        assert answer["status"] == "ignored", answer

    assert (await received(stack, call_id)).signals == []


async def test_event_for_a_finished_call_is_200_ignored(stack: Stack) -> None:
    call_id = await start_call(stack)
    await finish(stack, call_id)
    body = event_body("room_finished", room_of(call_id))

    status, answer = await post_webhook(stack, body, signed_headers(body))

    assert status == 200
    assert answer["status"] == "ignored"
    assert "has already ended" in answer["reason"]

"""Request parsing, call-id derivation, the webhook event mapping and the seen-id memory."""

from __future__ import annotations

import pytest
from livekit.protocol.webhook import WebhookEvent

from callflow.service.call_requests import DeclineCallRequest, StartCallRequest
from callflow.service.errors import MalformedBody, ValidationFailed
from callflow.service.livekit_webhook import Ignored, WorkflowSignal, signal_for
from callflow.service.seen_events import SeenEvents
from workflows.messages import ParticipantEvent, RoomFinished


def test_idempotency_key_gives_a_stable_call_id_scoped_to_the_user() -> None:
    a1 = StartCallRequest.parse(b'{"user_id": "a", "idempotency_key": "k"}')
    a2 = StartCallRequest.parse(b'{"user_id": "a"}', header_key="k")
    b = StartCallRequest.parse(b'{"user_id": "b", "idempotency_key": "k"}')

    assert a1.call_id() == a2.call_id()
    assert a1.call_id() != b.call_id()
    assert len(a1.call_id()) == 32 and "-" not in a1.call_id()


def test_body_key_wins_over_header_key() -> None:
    req = StartCallRequest.parse(b'{"user_id": "a", "idempotency_key": "body"}', header_key="hdr")
    assert req.idempotency_key == "body"


def test_validation_errors_name_the_field_and_the_fix() -> None:
    with pytest.raises(ValidationFailed) as missing:
        StartCallRequest.parse(b'{"reason": "on_demand"}')
    assert missing.value.field == "user_id"
    assert "send the id of an existing user" in missing.value.message
    assert missing.value.body() == {
        "error": {
            "code": "validation_failed",
            "message": missing.value.message,
            "field": "user_id",
        }
    }
    with pytest.raises(MalformedBody):
        StartCallRequest.parse(b"\xff\xfe")


def test_decline_event_id_prefers_the_idempotency_key() -> None:
    assert DeclineCallRequest.parse(b"", idempotency_key="k1").event_id == "decline-k1"
    fresh = {DeclineCallRequest.parse(b"", idempotency_key=None).event_id for _ in range(3)}
    assert len(fresh) == 3


def test_signal_mapping_of_verified_events() -> None:
    joined = WebhookEvent(event="participant_joined", id="EV_1", created_at=1700000000)
    joined.room.name = "callflow-abc-a2"
    joined.participant.identity = "u1"
    finished = WebhookEvent(event="room_finished", id="EV_2")
    finished.room.name = "callflow-abc-a2"
    egress = WebhookEvent(event="egress_started", id="EV_3")

    assert signal_for(joined, now=1700000001) == WorkflowSignal(
        "abc",
        "participant_joined",
        ParticipantEvent(
            event_id="EV_1", room="callflow-abc-a2", identity="u1", kind="standard", at=1.7e9
        ),
    )
    # No createdAt: the receipt time stands in.
    assert signal_for(finished, now=42.0) == WorkflowSignal(
        "abc", "room_finished", RoomFinished(event_id="EV_2", room="callflow-abc-a2", at=42.0)
    )
    assert isinstance(signal_for(egress), Ignored)


def test_seen_events_forget_the_oldest_beyond_capacity() -> None:
    seen = SeenEvents(capacity=2)
    for event_id in ("a", "b", "a", "c"):  # "a" was refreshed, so "b" is the oldest
        seen.add(event_id)

    assert "a" in seen and "c" in seen and "b" not in seen
    assert len(seen) == 2

"""A phone whose join LiveKit reports as `participant_connection_aborted` (livekit/livekit#4227)
answered: the event becomes the workflow's participant_joined signal."""

from __future__ import annotations

from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from callflow.service.livekit_webhook import WorkflowSignal, signal_for
from workflows.messages import ParticipantEvent, SignalName, room_name_for


def test_connection_aborted_counts_as_the_phone_joining() -> None:
    room = room_name_for("c-aborted", 1)
    event = WebhookEvent(
        event="participant_connection_aborted",
        id="EV_aborted",
        room=Room(name=room),
        participant=ParticipantInfo(identity="user-1", kind=ParticipantInfo.Kind.STANDARD),
        created_at=1_800_000_000,
    )
    assert signal_for(event) == WorkflowSignal(
        "c-aborted",
        SignalName.PARTICIPANT_JOINED,
        ParticipantEvent("EV_aborted", room, "user-1", "standard", 1_800_000_000.0),
    )

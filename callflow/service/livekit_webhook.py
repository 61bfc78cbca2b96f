"""LiveKit webhooks: verify the signed raw body, then turn room events into workflow signals.

livekit-server signs each POST with an HS256 JWT in `Authorization` (issuer = API key) whose
`sha256` claim is the base64 SHA-256 of the exact body bytes, so the body must be verified
before anything parses or re-encodes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from google.protobuf.json_format import ParseError
from livekit import api
from livekit.protocol.models import ParticipantInfo
from livekit.protocol.webhook import WebhookEvent

from callflow.service.errors import MalformedBody, WebhookSignatureInvalid
from workflows.messages import ParticipantEvent, RoomFinished, SignalName, call_id_from_room

# LiveKit webhook event -> the workflow signal it becomes.
SIGNAL_FOR_EVENT = {
    "participant_joined": SignalName.PARTICIPANT_JOINED,
    "participant_left": SignalName.PARTICIPANT_LEFT,
    "room_finished": SignalName.ROOM_FINISHED,
}


class WebhookVerifier:
    """`livekit.api.WebhookReceiver` with its failures sorted into 401 (signature) and 400."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self._receiver = api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))

    def verify(self, body: bytes, authorization: str | None) -> WebhookEvent:
        if not authorization:
            raise WebhookSignatureInvalid(
                "missing Authorization header: LiveKit webhooks carry a JWT signed with the "
                "API secret; check the `webhook.api_key` in livekit-server's config",
                field="Authorization",
            )
        token = authorization.removeprefix("Bearer ").strip()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedBody("webhook body is not UTF-8 JSON") from None
        try:
            return self._receiver.receive(text, token)
        except ParseError as e:
            # Only reachable once the signature and body hash have verified.
            raise MalformedBody(f"webhook body is not a LiveKit WebhookEvent: {e}") from None
        except Exception as e:
            # The receiver raises bare Exception ("hash mismatch"), PyJWT errors and
            # binascii errors alike; all of them mean "not signed by our LiveKit".
            raise WebhookSignatureInvalid(
                f"webhook signature does not verify ({type(e).__name__}: {e}); the body must be "
                "sent unmodified and signed with this service's LiveKit API key and secret",
                field="Authorization",
            ) from None


@dataclass(frozen=True)
class WorkflowSignal:
    call_id: str
    name: str
    arg: ParticipantEvent | RoomFinished


@dataclass(frozen=True)
class Ignored:
    reason: str


def signal_for(event: WebhookEvent, *, now: float | None = None) -> WorkflowSignal | Ignored:
    """The signal a verified event becomes, or why it is ignored."""
    name = SIGNAL_FOR_EVENT.get(event.event)
    if name is None:
        return Ignored(f"event {event.event or '(none)'!r} is not used by callflow")
    if not event.id:
        raise MalformedBody("webhook event has no `id`; callflow dedupes on it", field="id")
    room = event.room.name
    if not room:
        raise MalformedBody(f"{event.event} event has no room name", field="room.name")
    call_id = call_id_from_room(room)
    if call_id is None:
        return Ignored(f"room {room!r} was not created by callflow")
    at = float(event.created_at) if event.created_at else (now or time.time())
    if name == SignalName.ROOM_FINISHED:
        return WorkflowSignal(call_id, name, RoomFinished(event_id=event.id, room=room, at=at))
    participant = event.participant
    if not participant.identity:
        raise MalformedBody(
            f"{event.event} event has no participant identity", field="participant.identity"
        )
    kind = "agent" if participant.kind == ParticipantInfo.Kind.AGENT else "standard"
    return WorkflowSignal(
        call_id,
        name,
        ParticipantEvent(
            event_id=event.id, room=room, identity=participant.identity, kind=kind, at=at
        ),
    )

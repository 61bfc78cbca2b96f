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
    # The phone reached the room but its connection broke off (livekit/livekit#4227): it
    # answered, and LiveKit may send this instead of participant_joined.
    "participant_connection_aborted": SignalName.PARTICIPANT_JOINED,
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


DEFAULT_MAX_AGE_S = 300.0


def signal_for(
    event: WebhookEvent, *, now: float | None = None, max_age_s: float = DEFAULT_MAX_AGE_S
) -> WorkflowSignal | Ignored:
    """The signal a verified event becomes, or why it is ignored.

    An event created more than `max_age_s` ago is ignored: a signature proves who sent it, not
    when, and a replayed `room_finished` would end a live call's join wait.
    """
    name = SIGNAL_FOR_EVENT.get(event.event)
    if name is None:
        return Ignored(f"event {event.event or '(none)'!r} is not used by callflow")
    received = time.time() if now is None else now
    if event.created_at:
        age_s = received - float(event.created_at)
        if age_s > max_age_s:
            return Ignored(
                f"event is stale: created {age_s:.0f}s ago, more than the {max_age_s:g}s "
                "allowed (CALLFLOW_LIVEKIT_WEBHOOK_MAX_AGE_S)"
            )
    if not event.id:
        raise MalformedBody("webhook event has no `id`; callflow dedupes on it", field="id")
    room = event.room.name
    if not room:
        raise MalformedBody(f"{event.event} event has no room name", field="room.name")
    call_id = call_id_from_room(room)
    if call_id is None:
        return Ignored(f"room {room!r} was not created by callflow")
    at = float(event.created_at) if event.created_at else received
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

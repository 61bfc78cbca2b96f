"""Webhook bodies and signatures made the way livekit-server makes them.

The server marshals a `livekit.WebhookEvent` with protojson (camelCase names, enum names, int64
as strings, defaults omitted) and sends an HS256 JWT whose issuer is the API key and whose
`sha256` claim is base64(SHA-256(raw body)) in the `Authorization` header.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import time
import uuid

from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from tests.service.conftest import LIVEKIT_KEY, LIVEKIT_SECRET


def event_body(
    event: str,
    room: str,
    *,
    identity: str | None = None,
    agent: bool = False,
    event_id: str | None = None,
    created_at: int | None = None,
) -> bytes:
    message = WebhookEvent(
        event=event,
        room=Room(sid=f"RM_{uuid.uuid4().hex[:12]}", name=room),
        id=f"EV_{uuid.uuid4().hex[:12]}" if event_id is None else event_id,
        created_at=created_at if created_at is not None else int(time.time()),
    )
    if identity is not None:
        message.participant.CopyFrom(
            ParticipantInfo(
                sid=f"PA_{uuid.uuid4().hex[:12]}",
                identity=identity,
                kind=ParticipantInfo.Kind.AGENT if agent else ParticipantInfo.Kind.STANDARD,
                state=ParticipantInfo.State.ACTIVE,
            )
        )
    return MessageToJson(message, indent=None).encode()


def sign(
    body: bytes,
    *,
    key: str = LIVEKIT_KEY,
    secret: str = LIVEKIT_SECRET,
    ttl: datetime.timedelta = datetime.timedelta(minutes=5),
) -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return api.AccessToken(key, secret).with_sha256(digest).with_ttl(ttl).to_jwt()


def signed_headers(body: bytes, **kwargs: object) -> dict[str, str]:
    return {
        "Authorization": sign(body, **kwargs),  # type: ignore[arg-type]
        "Content-Type": "application/webhook+json",
    }

"""One attempt's ring: room + agent dispatch + phone token + VoIP push, as one idempotent step.

One activity instead of four keeps the due minute to three history events per attempt (the
morning peak is bounded by history writes). Every part is idempotent: the room and dispatch are
created once per room name, and the push is claimed in the records store before it is sent, so
a retried activity never rings the phone twice for the same attempt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from temporalio import activity

from activities.errors import DEVICE_UNREACHABLE, PUSH_REJECTED, ROOM_REJECTED, non_retryable
from callflow.ports import PushSender, RecordsStore, RoomService, VoipPush
from callflow.push.errors import DeviceUnreachable, PushRejected
from callflow.rooms.errors import RoomsRejected


@dataclass
class RingInput:
    call_id: str
    attempt: int
    room: str
    user_id: str
    display_name: str
    device_token: str
    caller_name: str
    agent_name: str
    agent_metadata: str  # JSON the agent reads (DESIGN.md section 2)
    token_ttl_s: int
    empty_timeout_s: int


@dataclass
class RingOutput:
    room: str
    apns_id: str
    push_sent: bool
    duplicate_suppressed: bool
    expires_at: str


def apns_id_for(call_id: str, attempt: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"callflow:{call_id}:push:{attempt}"))


class RingActivities:
    def __init__(
        self, rooms: RoomService, push: PushSender, records: RecordsStore, push_expiry_s: int = 60
    ) -> None:
        self._rooms = rooms
        self._push = push
        self._records = records
        self._push_expiry_s = push_expiry_s

    @activity.defn
    async def ring(self, input: RingInput) -> RingOutput:
        try:
            await self._rooms.create_room(input.room, input.agent_metadata, input.empty_timeout_s)
            await self._rooms.dispatch_agent(input.room, input.agent_name, input.agent_metadata)
        except RoomsRejected as e:
            raise non_retryable(ROOM_REJECTED, f"LiveKit refused room {input.room}: {e}") from e
        grant = self._rooms.phone_token(
            input.room, identity=input.user_id, name=input.display_name, ttl_s=input.token_ttl_s
        )
        apns_id = apns_id_for(input.call_id, input.attempt)
        if not await self._records.claim_push(input.call_id, input.attempt):
            activity.logger.info(
                "push for %s attempt %s already sent", input.call_id, input.attempt
            )
            return RingOutput(input.room, apns_id, False, True, grant.expires_at)
        payload: dict[str, object] = {
            "call_id": input.call_id,
            "provider": "livekit",
            "livekit_url": grant.livekit_url,
            "room": grant.room,
            "token": grant.token,
            "caller_name": input.caller_name,
            "expires_at": grant.expires_at,
        }
        try:
            await self._push.send_voip(
                VoipPush(
                    device_token=input.device_token,
                    payload=payload,
                    apns_id=apns_id,
                    expiration_s=self._push_expiry_s,
                )
            )
        except DeviceUnreachable as e:
            raise non_retryable(DEVICE_UNREACHABLE, f"APNs: device unreachable ({e})") from e
        except PushRejected as e:
            raise non_retryable(PUSH_REJECTED, f"APNs rejected the push: {e}") from e
        await self._records.mark_push_sent(input.call_id, input.attempt, apns_id)
        return RingOutput(input.room, apns_id, True, False, grant.expires_at)

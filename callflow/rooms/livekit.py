"""`RoomService` on a LiveKit server (Cloud or self-hosted) through `livekit-api`.

Every call is idempotent so a retried activity is harmless: creating an existing room keeps it,
the agent is dispatched at most once per room, deleting a missing room succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

import aiohttp
import jwt
from livekit import api

from callflow.ports import AgentPresence, RoomGrant, RoomState
from callflow.rooms.errors import RoomsInvalidInput, RoomsRejected, RoomsUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# Twirp codes that mean "try again later" even when the HTTP status is below 500.
_RETRYABLE_CODES = {
    api.TwirpErrorCode.UNAVAILABLE,
    api.TwirpErrorCode.DEADLINE_EXCEEDED,
    api.TwirpErrorCode.RESOURCE_EXHAUSTED,
    api.TwirpErrorCode.INTERNAL,
    api.TwirpErrorCode.ABORTED,
}


def _check_public_url(url: str) -> None:
    """iOS refuses plain ws:// to anything but a local address, and a phone cannot reach a
    container's name: the URL phones get must be wss:// (plain ws:// only on loopback)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme in ("wss", "https"):  # the client SDKs turn https:// into wss://
        return
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if parts.scheme in ("ws", "http") and loopback:  # the local stack and its simulator
        return
    raise RoomsInvalidInput(
        f"the LiveKit URL sent to phones is {url!r}: set LIVEKIT_PUBLIC_URL to the server's "
        "public wss:// URL (LIVEKIT_URL stays the server API's address)"
    )


def _require(value: str, field: str, fix: str) -> None:
    if not value or not value.strip():
        raise RoomsInvalidInput(f"{field} is empty: {fix}")


class LiveKitRooms:
    """The rooms port on LiveKit. `close()` releases the HTTP session."""

    def __init__(
        self,
        url: str,
        api_key: str,
        api_secret: str,
        *,
        departure_timeout_s: int = 20,
        request_timeout_s: float = 10.0,
        public_url: str | None = None,
    ) -> None:
        _require(url, "LIVEKIT_URL", "set it to the server's ws(s):// or http(s):// URL")
        # The URL phones join with (in the VoIP push), apart from the server API's.
        # Checked when a phone token is made: the API service never sends one.
        self.public_url = public_url or url
        _require(api_key, "LIVEKIT_API_KEY", "set it to the API key configured on the server")
        _require(api_secret, "LIVEKIT_API_SECRET", "set it to the API key's secret")
        self.url = url
        self._api_key = api_key
        self._api_secret = api_secret
        self._departure_timeout_s = departure_timeout_s
        self._request_timeout_s = request_timeout_s
        self._api: api.LiveKitAPI | None = None

    def _client(self) -> api.LiveKitAPI:
        # Created on first use: its aiohttp session must belong to the running event loop.
        if self._api is None:
            self._api = api.LiveKitAPI(
                self.url,
                self._api_key,
                self._api_secret,
                timeout=aiohttp.ClientTimeout(total=self._request_timeout_s),
                failover=False,  # one server; region failover is a LiveKit Cloud feature
            )
        return self._api

    async def close(self) -> None:
        if self._api is not None:
            await self._api.aclose()
            self._api = None

    async def _call(self, what: str, room: str, request: Awaitable[T]) -> T:
        """Run one API request, translating LiveKit and transport errors at this edge."""
        try:
            return await request
        except api.TwirpError as e:
            message = f"LiveKit {what} for room {room!r} failed: HTTP {e.status} {e.code}"
            if e.message:
                message += f" ({e.message})"
            if e.status in (401, 403):
                message += ": check LIVEKIT_API_KEY and LIVEKIT_API_SECRET match the server's keys"
            if e.status >= 500 or e.code in _RETRYABLE_CODES:
                raise RoomsUnavailable(message, room=room, code=e.code, status=e.status) from e
            raise RoomsRejected(message, room=room, code=e.code, status=e.status) from e
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise RoomsUnavailable(
                f"LiveKit at {self.url} unreachable during {what} for room {room!r}: "
                f"{type(e).__name__}: {e}",
                room=room,
            ) from e

    async def create_room(self, room: str, metadata: str, empty_timeout_s: int) -> None:
        _require(room, "room", "pass the room name (workflows.messages.room_name_for)")
        if empty_timeout_s < 0:
            raise RoomsInvalidInput(f"empty_timeout_s is {empty_timeout_s}: pass 0 or more seconds")
        request = api.CreateRoomRequest(
            name=room,
            metadata=metadata,
            empty_timeout=empty_timeout_s,
            departure_timeout=self._departure_timeout_s,
        )
        created = await self._call("create_room", room, self._client().room.create_room(request))
        # LiveKit returns an existing room unchanged; a retry with new metadata must still win.
        if created.metadata != metadata:
            update = api.UpdateRoomMetadataRequest(room=room, metadata=metadata)
            await self._call(
                "update_room_metadata", room, self._client().room.update_room_metadata(update)
            )

    async def list_dispatches(self, room: str) -> list[api.AgentDispatch]:
        return await self._call(
            "list_dispatch", room, self._client().agent_dispatch.list_dispatch(room)
        )

    async def dispatch_agent(self, room: str, agent_name: str, metadata: str) -> None:
        """Dispatch `agent_name` to `room` unless it already is (checked with list_dispatch)."""
        _require(room, "room", "pass the room name (workflows.messages.room_name_for)")
        _require(agent_name, "agent_name", "pass the agent's name (CALLFLOW_AGENT_NAME)")
        existing = await self.list_dispatches(room)
        if any(d.agent_name == agent_name for d in existing):
            log.info("agent %s already dispatched to %s", agent_name, room)
            return
        request = api.CreateAgentDispatchRequest(
            agent_name=agent_name, room=room, metadata=metadata
        )
        await self._call(
            "create_dispatch", room, self._client().agent_dispatch.create_dispatch(request)
        )

    async def redispatch_agent(self, room: str, agent_name: str, metadata: str) -> None:
        """Dispatch `agent_name` to `room` anew: its earlier dispatch is withdrawn first.

        A dispatch that found no worker stays listed on the room, so `dispatch_agent` would
        see it and do nothing; a new dispatch is what makes livekit-server look for a worker
        again (and a retry of this step finds the new one and stops there)."""
        _require(room, "room", "pass the room name (workflows.messages.room_name_for)")
        _require(agent_name, "agent_name", "pass the agent's name (CALLFLOW_AGENT_NAME)")
        for dispatch in await self.list_dispatches(room):
            if dispatch.agent_name != agent_name:
                continue
            try:
                await self._call(
                    "delete_dispatch",
                    room,
                    self._client().agent_dispatch.delete_dispatch(dispatch.id, room),
                )
            except RoomsRejected as e:
                if e.code != api.TwirpErrorCode.NOT_FOUND:
                    raise
        request = api.CreateAgentDispatchRequest(
            agent_name=agent_name, room=room, metadata=metadata
        )
        await self._call(
            "create_dispatch", room, self._client().agent_dispatch.create_dispatch(request)
        )

    async def _participants(self, room: str) -> list[api.ParticipantInfo] | None:
        """The room's participants; None when the room does not exist (or just closed)."""
        try:
            listed = await self._call(
                "list_participants",
                room,
                self._client().room.list_participants(api.ListParticipantsRequest(room=room)),
            )
        except RoomsRejected as e:
            if e.code == api.TwirpErrorCode.NOT_FOUND:
                return None
            raise
        return list(listed.participants)

    async def agent_presence(self, room: str) -> AgentPresence:
        """Whether an agent participant is in `room`, connected, and with its voice track
        published (callflow's agent publishes it once its greeting is ready, before the phone
        is rung: agent/voice_track.py)."""
        _require(room, "room", "pass the room name to look in")
        presence = AgentPresence.ABSENT
        for p in await self._participants(room) or []:
            if p.kind != api.ParticipantInfo.Kind.AGENT:
                continue
            if any(t.type == api.TrackType.AUDIO for t in p.tracks):
                return AgentPresence.SPEAKING
            if p.state == api.ParticipantInfo.State.ACTIVE:
                presence = AgentPresence.CONNECTED
        return presence

    def phone_token(self, room: str, identity: str, name: str, ttl_s: int) -> RoomGrant:
        """A JWT that lets `identity` join `room` only, publish and subscribe, for `ttl_s`."""
        _require(room, "room", "pass the room name the phone must join")
        _require(identity, "identity", "pass the user id (the phone's participant identity)")
        if ttl_s <= 0:
            raise RoomsInvalidInput(f"ttl_s is {ttl_s}: pass a positive number of seconds")
        _check_public_url(self.public_url)
        grants = api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True)
        token = (
            api.AccessToken(self._api_key, self._api_secret)
            .with_identity(identity)
            .with_name(name)
            .with_grants(grants)
            .with_ttl(timedelta(seconds=ttl_s))
            .to_jwt()
        )
        # Report the token's own `exp`, so the app and the simulator agree with the server.
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        expires_at = datetime.fromtimestamp(int(exp), tz=UTC).isoformat()
        return RoomGrant(room=room, livekit_url=self.public_url, token=token, expires_at=expires_at)

    async def delete_room(self, room: str) -> None:
        """Close the room (disconnecting everyone); a room that is already gone is success."""
        _require(room, "room", "pass the room name to close")
        try:
            await self._call(
                "delete_room",
                room,
                self._client().room.delete_room(api.DeleteRoomRequest(room=room)),
            )
        except RoomsRejected as e:
            if e.code != api.TwirpErrorCode.NOT_FOUND:
                raise

    async def probe_room(self, room: str) -> RoomState:
        _require(room, "room", "pass the room name to probe")
        listed = await self._call(
            "list_rooms", room, self._client().room.list_rooms(api.ListRoomsRequest(names=[room]))
        )
        if not any(r.name == room for r in listed.rooms):
            return RoomState(exists=False)
        participants = await self._participants(room)
        if participants is None:  # closed between the two requests
            return RoomState(exists=False)
        return RoomState(exists=True, participant_identities=[p.identity for p in participants])

    async def participant_kinds(self, room: str) -> dict[str, str]:
        """identity → "agent" | "standard" | ..., for diagnostics and tests."""
        return {
            p.identity: api.ParticipantInfo.Kind.Name(p.kind).lower()
            for p in await self._participants(room) or []
        }

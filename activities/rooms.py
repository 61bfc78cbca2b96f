"""Activities that close and probe a call's LiveKit room."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import activity

from callflow.ports import RoomService


@dataclass
class RoomRef:
    room: str


@dataclass
class RoomProbe:
    exists: bool
    participant_identities: list[str] = field(default_factory=list)


class RoomActivities:
    def __init__(self, rooms: RoomService) -> None:
        self._rooms = rooms

    @activity.defn
    async def close_room(self, input: RoomRef) -> None:
        await self._rooms.delete_room(input.room)  # not-found is success: already closed

    @activity.defn
    async def probe_room(self, input: RoomRef) -> RoomProbe:
        state = await self._rooms.probe_room(input.room)
        return RoomProbe(state.exists, list(state.participant_identities))

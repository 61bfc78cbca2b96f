"""Activities that close and probe a call's LiveKit room."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import activity

from callflow.ports import RoomService


@dataclass
class RoomRef:
    room: str


@dataclass
class DispatchInput:
    room: str
    agent_name: str
    metadata: str  # the AgentJob JSON


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
    async def dispatch_agent(self, input: DispatchInput) -> None:
        """Ask LiveKit for an agent in the room again (it picks a worker with room): a new
        dispatch, the first one withdrawn (livekit-server keeps one that found no worker)."""
        await self._rooms.redispatch_agent(input.room, input.agent_name, input.metadata)

    @activity.defn
    async def probe_room(self, input: RoomRef) -> RoomProbe:
        state = await self._rooms.probe_room(input.room)
        return RoomProbe(state.exists, list(state.participant_identities))

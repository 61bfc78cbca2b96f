"""The rooms port's LiveKit adapter: rooms, agent dispatch, phone tokens."""

from callflow.rooms.errors import RoomsError, RoomsInvalidInput, RoomsRejected, RoomsUnavailable
from callflow.rooms.livekit import LiveKitRooms

__all__ = ["LiveKitRooms", "RoomsError", "RoomsInvalidInput", "RoomsRejected", "RoomsUnavailable"]

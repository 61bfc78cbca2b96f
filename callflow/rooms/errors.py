"""Errors of the rooms boundary; `LiveKitRooms` translates LiveKit and transport errors into these.

Every class states `retryable`: whether trying the same request again can help (the contract
is callflow/errors.py; the activity edge reads it).
"""

from __future__ import annotations

from callflow.errors import CallflowError


class RoomsError(CallflowError):
    """A request to the LiveKit server API failed."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        room: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.room = room
        self.code = code  # LiveKit's Twirp error code, e.g. "unauthenticated"
        self.status = status  # HTTP status, when the server answered


class RoomsUnavailable(RoomsError):
    """LiveKit could not be reached, timed out or failed (5xx); try again later."""

    retryable = True


class RoomsRejected(RoomsError):
    """LiveKit refused the request (4xx other than not-found): wrong key/secret, bad
    arguments. A retry does not fix it."""

    retryable = False
    # The type recorded histories and running calls know this failure by.
    error_type = "RoomRejected"


class RoomsInvalidInput(RoomsRejected, ValueError):
    """The caller passed a value LiveKit would refuse; the message names the field and the fix."""

    retryable = False

"""Errors of the rooms boundary; `LiveKitRooms` translates LiveKit and transport errors into these.

`retryable` tells the activity layer whether trying the same request again can help.
"""

from __future__ import annotations


class RoomsError(Exception):
    """A request to the LiveKit server API failed."""

    retryable: bool = False

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


class RoomsInvalidInput(RoomsRejected, ValueError):
    """The caller passed a value LiveKit would refuse; the message names the field and the fix."""

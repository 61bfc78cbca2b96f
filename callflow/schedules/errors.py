"""Errors of the schedules boundary; Temporal and Postgres errors are translated into these."""

from __future__ import annotations


class ScheduleError(Exception):
    """Base of every error the schedules package raises."""


class ScheduleInvalid(ScheduleError):
    """Bad input: `field` names the offending field, `message` says what is wrong and the fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ScheduleNotFound(ScheduleError):
    def __init__(self, user_id: str) -> None:
        super().__init__(
            f"no call schedule for user {user_id!r}: create one first "
            "(`callflow schedules create` or PUT /users/{user_id}/schedule)"
        )
        self.user_id = user_id


class ScheduleAlreadyExists(ScheduleError):
    def __init__(self, user_id: str) -> None:
        super().__init__(
            f"user {user_id!r} already has a call schedule: use update (or PUT) to change it"
        )
        self.user_id = user_id


class SchedulerUnavailable(ScheduleError):
    """Temporal did not answer or refused the request for a reason other than bad input."""


class IntentStoreError(ScheduleError):
    """The records store could not save or read a schedule intent."""

"""`ApplicationError` types the activities raise and the workflow's retry policies name.

Each adapter has its own error hierarchy; activities translate it here, at the edge between the
adapters and Temporal, so the workflow only ever sees these names.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

USER_NOT_FOUND = "UserNotFound"
DEVICE_UNREACHABLE = "DeviceUnreachable"
PUSH_REJECTED = "PushRejected"
ROOM_REJECTED = "RoomRejected"
ANALYSIS_INVALID = "AnalysisInvalid"
WEBHOOK_REJECTED = "WebhookRejected"
RECORD_INVALID = "RecordInvalid"

NON_RETRYABLE = [
    USER_NOT_FOUND,
    DEVICE_UNREACHABLE,
    PUSH_REJECTED,
    ROOM_REJECTED,
    WEBHOOK_REJECTED,
    RECORD_INVALID,
]


def non_retryable(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)

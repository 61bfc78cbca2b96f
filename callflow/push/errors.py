"""Errors of the push boundary; `ApnsPushSender` translates every APNs answer into one of these.

Every class states `retryable`: whether sending the same push again can help (the contract is
callflow/errors.py; the activity edge reads it).
"""

from __future__ import annotations

from callflow.errors import CallflowError


class PushError(CallflowError):
    """A VoIP push was not accepted by APNs."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str | None = None,
        apns_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.apns_id = apns_id


class DeviceUnreachable(PushError):
    """The device token is invalid or no longer registered (410, BadDeviceToken, ...).

    Sending again cannot succeed: the app must register a fresh VoIP token. The workflow
    tells this type apart: the call's outcome is `unreachable`, and the message (the call's
    failure reason) says so.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str | None = None,
        apns_id: str | None = None,
    ) -> None:
        super().__init__(
            f"APNs: device unreachable ({message})", status=status, reason=reason, apns_id=apns_id
        )


class PushRetryable(PushError):
    """APNs is throttling or failing (429/500/503) or could not be reached; try again later."""

    retryable = True


class PushInDoubt(PushError):
    """The push was written to APNs but no answer came (timeout, connection lost): APNs may
    have delivered it, and does not dedupe a resend on `apns-id`. Retrying the same send could
    ring the phone twice, so the ring treats the push as sent and lets the join wait decide."""

    retryable = False


class PushRejected(PushError):
    """APNs refused the request itself (bad provider token, topic, payload...): a bug or a
    misconfiguration, not something a retry fixes. `reason` is APNs' reason string."""

    retryable = False


class PushConfigurationError(PushError):
    """The sender is configured wrongly (missing key file, topic without `.voip`)."""

    retryable = False

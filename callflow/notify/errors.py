"""Errors of the app-backend webhook boundary (sending and verifying).

Every `NotifyError` states `retryable` (callflow/errors.py); the activity edge reads it.
"""

from __future__ import annotations

from callflow.errors import CallflowError


class NotifyError(CallflowError):
    """The post-call webhook could not be delivered."""

    retryable = False


class WebhookRejected(NotifyError):
    """The backend answered 4xx: the request itself is wrong; sending it again will not help."""

    retryable = False

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class WebhookUndeliverable(NotifyError):
    """5xx, 429 or connection errors on every attempt; a later retry may still work."""

    retryable = True


class SignatureInvalid(Exception):
    """A received webhook's signature or timestamp does not verify; the message says which."""

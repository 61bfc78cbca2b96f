"""Errors of the webhook + call API service, one hierarchy mapped to JSON error bodies.

Temporal, LiveKit and validation failures are translated into these at the edge (the gateway and
the request parsers), so the route handlers and the HTTP layer only ever see `ServiceError`s.
Each answers as `{"error": {"code", "message", "field"?}}` with its HTTP status.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error the service answers with; `status` is the HTTP status code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


# --- the request is wrong ------------------------------------------------------------------


class RequestError(ServiceError):
    """The caller sent something the service cannot act on (4xx)."""

    status = 400
    code = "bad_request"


class MalformedBody(RequestError):
    status = 400
    code = "malformed_body"


class ValidationFailed(RequestError):
    """A field is missing or has the wrong type; `field` names it, the message says the fix."""

    status = 422
    code = "validation_failed"


class WebhookSignatureInvalid(RequestError):
    status = 401
    code = "invalid_signature"


class UserNotFound(RequestError):
    status = 404
    code = "user_not_found"


class CallNotFound(RequestError):
    status = 404
    code = "call_not_found"


class CallConflict(RequestError):
    """The call exists but cannot do what was asked (finished, or the workflow refused)."""

    status = 409
    code = "call_conflict"


# --- a dependency is down or misbehaving --------------------------------------------------


class UpstreamError(ServiceError):
    """Temporal (or another dependency) failed; the request itself may be fine."""

    status = 502
    code = "upstream_error"


class TemporalUnavailable(UpstreamError):
    """Temporal cannot be reached; 503 so that LiveKit and clients retry later."""

    status = 503
    code = "temporal_unavailable"


class RecordsUnavailable(UpstreamError):
    """The records store failed while the service looked a user up."""

    status = 503
    code = "records_unavailable"


class TemporalTimeout(UpstreamError):
    """Temporal did not answer in time (no worker polling, or an overloaded server)."""

    status = 504
    code = "temporal_timeout"

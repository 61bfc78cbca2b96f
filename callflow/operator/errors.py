"""Errors of the operator boundary; Temporal RPC errors are translated into these."""

from __future__ import annotations


class OperatorError(Exception):
    """Base of every error the operator package raises."""


class BadArgument(OperatorError):
    """An option the operator gave is malformed; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CallNotFound(OperatorError):
    def __init__(self, call_id: str) -> None:
        super().__init__(f"no call {call_id!r}: check the id with `callflow calls list`")
        self.call_id = call_id


class VisibilityUnavailable(OperatorError):
    """Temporal did not answer a visibility request."""

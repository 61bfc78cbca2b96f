"""Errors of the records port; every adapter translates its library's exceptions into these.

RecordsError             anything else: a missing schema, an unexpected answer (no retry)
├── RecordsUnavailable   the store could not be reached or is overloaded (retry)
├── RecordsAuthError     the store refused our credentials (fix the configuration)
├── RecordNotFound       a row the caller required does not exist
│   └── UserNotFound     the call's user is not in the store
└── InvalidRecord        the store (or our own check) rejected the values; names the field

Every class states `retryable` (callflow/errors.py); the activity edge reads it.
"""

from __future__ import annotations

from callflow.errors import CallflowError


class RecordsError(CallflowError):
    retryable = False


class RecordsUnavailable(RecordsError):
    retryable = True


class RecordsAuthError(RecordsError):
    retryable = False


class RecordNotFound(RecordsError):
    retryable = False


class UserNotFound(RecordNotFound):
    retryable = False


class InvalidRecord(RecordsError):
    retryable = False

"""Errors of the recordings port (S3-compatible object storage).

RecordingsError              anything else: a refused request, an unexpected answer (no retry)
├── RecordingsUnavailable    the storage could not be reached or answered 5xx/429 (retry)
└── RecordingsAuthError      the storage refused our credentials (fix the configuration)

Every class states `retryable` (callflow/errors.py); the activity edge reads it.
"""

from __future__ import annotations

from callflow.errors import CallflowError


class RecordingsError(CallflowError):
    retryable = False


class RecordingsUnavailable(RecordingsError):
    retryable = True


class RecordingsAuthError(RecordingsError):
    retryable = False

"""Errors of the records port; every adapter translates its library's exceptions into these.

RecordsError
├── RecordsUnavailable   the store could not be reached or is overloaded (retry)
├── RecordsAuthError     the store refused our credentials (fix the configuration)
├── RecordNotFound       a row the caller required does not exist
└── InvalidRecord        the store (or our own check) rejected the values; names the field
"""

from __future__ import annotations


class RecordsError(Exception):
    retryable: bool = False


class RecordsUnavailable(RecordsError):
    retryable = True


class RecordsAuthError(RecordsError):
    pass


class RecordNotFound(RecordsError):
    pass


class InvalidRecord(RecordsError):
    pass

"""Errors of the history import; each states whether retrying can help (callflow/errors.py)."""

from __future__ import annotations

from callflow.errors import CallflowError


class HistoryImportError(CallflowError):
    """Base of the history import's errors."""

    retryable = False


class SourceUnavailable(HistoryImportError):
    """The source did not answer (network, 5xx, 429 after the SDK's own retries)."""

    retryable = True


class SourceRefused(HistoryImportError):
    """The source refused the request for good: a bad key, an unknown agent or conversation."""

    retryable = False


class UnreadableSource(HistoryImportError):
    """An export file that cannot be opened or parsed as a whole."""

    retryable = False


class MalformedItem(HistoryImportError):
    """One conversation that cannot be read; the message names it and what is wrong."""

    retryable = False


class ImportNotConfigured(HistoryImportError):
    """A setting the import needs is missing; the message names it."""

    retryable = False


class LedgerError(HistoryImportError):
    """The import ledger (import_runs, import_items) failed."""

    retryable = False


class LedgerUnavailable(LedgerError):
    retryable = True


class LedgerAuthError(LedgerError):
    retryable = False


class LedgerInvalid(LedgerError):
    retryable = False

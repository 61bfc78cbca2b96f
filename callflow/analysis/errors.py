"""Errors of the analysis boundary (translated from the LLM client at the edge).

Every class states `retryable` (callflow/errors.py); the activity edge reads it.
"""

from __future__ import annotations

from callflow.errors import CallflowError


class AnalysisError(CallflowError):
    """Base of every analysis failure."""

    retryable = False


class AnalysisUnavailable(AnalysisError):
    """The LLM could not be reached or answered 5xx/429; retrying may help."""

    retryable = True


class AnalysisRejected(AnalysisError):
    """The LLM refused the request (401/403/400): fix the key or the model name."""

    retryable = False


class AnalysisInvalid(AnalysisError):
    """The LLM answered, but its output does not match the analysis schema. Retryable: a model
    that broke the schema once often does not the next time."""

    retryable = True

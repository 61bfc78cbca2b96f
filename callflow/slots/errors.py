"""Errors of the agent-slots port; every adapter translates its library's exceptions into these.

SlotsError              anything else: a missing schema, an unexpected answer (no retry)
├── SlotsUnavailable    the store could not be reached or is overloaded (retry)
├── SlotsAuthError      the store refused our credentials (fix the configuration)
└── InvalidSlotRequest  the store (or our own check) rejected the values; names the field

Every class states `retryable` (callflow/errors.py); the activity edge reads it.
"""

from __future__ import annotations

from callflow.errors import CallflowError


class SlotsError(CallflowError):
    retryable = False


class SlotsUnavailable(SlotsError):
    retryable = True


class SlotsAuthError(SlotsError):
    retryable = False


class InvalidSlotRequest(SlotsError):
    retryable = False

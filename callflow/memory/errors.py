"""Errors of the memory port; every adapter translates its library's exceptions into these.

MemoryStoreError (alias MemoryError_)   anything else: quota used up, an unexpected answer
├── MemoryUnavailable   the store could not be reached, timed out or is overloaded (retry;
│                       the call goes on without memory and records that it did)
├── MemoryAuthError     the store refused our credentials (fix SUPERMEMORY_API_KEY)
└── InvalidMemory       the values were refused; the message names the field

Every class states `retryable` (callflow/errors.py); the activity edge reads it.
"""

from __future__ import annotations

from callflow.errors import CallflowError


class MemoryStoreError(CallflowError):
    retryable = False


# The name the shared brief uses; `MemoryError` itself is a Python builtin.
MemoryError_ = MemoryStoreError


class MemoryUnavailable(MemoryStoreError):
    retryable = True


class MemoryAuthError(MemoryStoreError):
    retryable = False


class InvalidMemory(MemoryStoreError):
    retryable = False

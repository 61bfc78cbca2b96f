"""The memory port: Postgres full-text locally, Supermemory in production."""

from callflow.memory.errors import (
    InvalidMemory,
    MemoryAuthError,
    MemoryError_,
    MemoryStoreError,
    MemoryUnavailable,
)

__all__ = [
    "InvalidMemory",
    "MemoryAuthError",
    "MemoryError_",
    "MemoryStoreError",
    "MemoryUnavailable",
]

"""The records port (users, commitments, calls, push log): embedded Postgres and Supabase."""

from callflow.records.errors import (
    InvalidRecord,
    RecordNotFound,
    RecordsAuthError,
    RecordsError,
    RecordsUnavailable,
)

__all__ = [
    "InvalidRecord",
    "RecordNotFound",
    "RecordsAuthError",
    "RecordsError",
    "RecordsUnavailable",
]

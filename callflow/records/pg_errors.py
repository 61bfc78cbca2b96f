"""Sort asyncpg's exceptions into what the caller can do about them.

Shared by the records and memory adapters over Postgres; each maps the kind onto its own
error hierarchy at its edge.
"""

from __future__ import annotations

from enum import Enum

import asyncpg


class PgFailure(Enum):
    UNAVAILABLE = "unavailable"  # retry later: connection lost, server starting/stopping, overload
    AUTH = "auth"  # credentials or database name wrong: fix DATABASE_URL
    INVALID = "invalid"  # the values broke a constraint or a type
    SCHEMA = "schema"  # a table or function is missing: migrations not applied
    OTHER = "other"


_RETRYABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, cannot-connect-now, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization failure
    OSError,
    TimeoutError,
)


def classify(exc: BaseException) -> PgFailure | None:
    """The kind of failure, or None when `exc` did not come from Postgres or the driver."""
    if isinstance(exc, _RETRYABLE):
        return PgFailure.UNAVAILABLE
    if isinstance(
        exc,
        asyncpg.exceptions.InvalidAuthorizationSpecificationError
        | asyncpg.exceptions.InvalidCatalogNameError,
    ):
        return PgFailure.AUTH
    if isinstance(
        exc, asyncpg.exceptions.IntegrityConstraintViolationError | asyncpg.exceptions.DataError
    ):
        return PgFailure.INVALID
    if isinstance(
        exc, asyncpg.exceptions.UndefinedTableError | asyncpg.exceptions.UndefinedFunctionError
    ):
        return PgFailure.SCHEMA
    if isinstance(exc, asyncpg.PostgresError):
        return PgFailure.OTHER
    return None

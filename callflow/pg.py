"""asyncpg pools and the translation of asyncpg's exceptions, shared by every Postgres adapter.

Each adapter keeps its own error hierarchy (records, memory, ...) and describes it once as a
`PgErrors`; `translate_pg_errors` sorts a driver exception into what the caller can do about it
(retry, fix the credentials, fix the values, apply migrations) and raises that adapter's class.
Messages name the operation and the driver's error, never the DSN (it may hold a password).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, Self

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


@dataclass(frozen=True)
class PgErrors:
    """One adapter's error classes, one per kind of failure, and how its messages name it."""

    store: str  # "records store", "memory store": how messages name the database
    base: type[Exception]  # the hierarchy's root: SCHEMA and OTHER failures, passed through
    unavailable: type[Exception]
    auth: type[Exception]
    invalid: type[Exception]


@contextmanager
def translate_pg_errors(errors: PgErrors, operation: str) -> Iterator[None]:
    """Turn asyncpg/OS exceptions raised inside the block into `errors`' classes."""
    try:
        yield
    except errors.base:
        raise
    except Exception as exc:
        kind = classify(exc)
        if kind is None:
            raise
        detail = f"{operation}: {type(exc).__name__}: {exc}"
        if kind is PgFailure.UNAVAILABLE:
            raise errors.unavailable(f"{errors.store} unreachable during {detail}") from exc
        if kind is PgFailure.AUTH:
            raise errors.auth(
                f"{errors.store} refused the connection during {detail}; check DATABASE_URL"
            ) from exc
        if kind is PgFailure.INVALID:
            raise errors.invalid(f"{errors.store} rejected {detail}") from exc
        if kind is PgFailure.SCHEMA:
            raise errors.base(
                f"{errors.store} schema is missing during {detail}; apply migrations/ "
                "(callflow.local.stack.postgres.apply_migrations)"
            ) from exc
        raise errors.base(f"{errors.store} failed during {detail}") from exc


async def create_pool(dsn: str, errors: PgErrors, *, min_size: int, max_size: int) -> asyncpg.Pool:
    """A connected pool; failing to connect raises `errors`' classes, not the driver's."""
    with translate_pg_errors(errors, "connect"):
        pool: asyncpg.Pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    return pool


class PgStore:
    """Base of the adapters over one asyncpg pool: `connect(dsn)` opens (and owns) a pool,
    `PgStore(pool)` borrows one; `close()` closes only a pool the store owns."""

    errors: ClassVar[PgErrors]
    max_pool_size: ClassVar[int] = 5

    def __init__(self, pool: asyncpg.Pool, *, owns_pool: bool = False) -> None:
        self._pool = pool
        self._owns_pool = owns_pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int | None = None) -> Self:
        size = max_size or cls.max_pool_size
        return cls(
            await create_pool(dsn, cls.errors, min_size=min_size, max_size=size), owns_pool=True
        )

    async def close(self) -> None:
        if self._owns_pool:
            await self._pool.close()

    def _translate(self, operation: str) -> AbstractContextManager[None]:
        """Driver exceptions inside the block become this store's error classes."""
        return translate_pg_errors(self.errors, operation)

"""The Supabase REST client and the translation of its failures, shared by every Supabase adapter.

Each adapter keeps its own error hierarchy and describes it once as a `SupabaseErrors` (as the
Postgres adapters do with `callflow.pg.PgErrors`). HTTP failures are translated in an httpx
response hook: postgrest-py's `APIError` keeps no status code, and a 401 from the gateway has no
PostgREST code. Retries belong to the caller (the Temporal activity, a reporter's next tick).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Self

import httpx
from postgrest import APIError
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from callflow.settings import ConfigurationError, Settings

_MISSING_SCHEMA = {"42P01", "42883", "PGRST202", "PGRST205"}


@dataclass(frozen=True)
class SupabaseErrors:
    """One adapter's error classes, one per kind of failure."""

    base: type[Exception]  # missing schema and anything unforeseen; passed through when raised
    unavailable: type[Exception]
    auth: type[Exception]
    invalid: type[Exception]


def _status_hook(errors: SupabaseErrors) -> Callable[[httpx.Response], Awaitable[None]]:
    async def raise_for_status(response: httpx.Response) -> None:
        status = response.status_code
        where = f"{response.request.method} {response.request.url.path}"
        if status in (401, 403):
            raise errors.auth(
                f"Supabase refused the key ({status} on {where}): set SUPABASE_SERVICE_ROLE_KEY "
                "to the project's service-role key (Settings > API)"
            )
        if status == 429 or status >= 500:
            raise errors.unavailable(f"Supabase answered {status} on {where}; retry later")

    return raise_for_status


@contextmanager
def translate_supabase_errors(errors: SupabaseErrors, operation: str) -> Iterator[None]:
    """Turn PostgREST and transport exceptions raised inside the block into `errors`' classes."""
    try:
        yield
    except errors.base:
        raise
    except APIError as exc:
        code = exc.code or ""
        detail = f"{operation}: {code} {exc.message or ''}".strip()
        if code.startswith(("22", "23", "PGRST1")) or code == "PGRST204":
            raise errors.invalid(f"Supabase rejected {detail}") from exc
        if code in _MISSING_SCHEMA:
            raise errors.base(
                f"Supabase schema is missing for {detail}; apply migrations/*.sql to the project"
            ) from exc
        if code.startswith("PGRST3") or code == "42501":
            raise errors.auth(
                f"Supabase refused {detail}; use the service-role key (SUPABASE_SERVICE_ROLE_KEY)"
            ) from exc
        raise errors.base(f"Supabase failed during {detail}") from exc
    except httpx.TransportError as exc:
        raise errors.unavailable(
            f"Supabase unreachable during {operation}: {type(exc).__name__}"
        ) from exc


class SupabaseStore:
    """Base of the adapters over one Supabase client: `connect(url, key)` or `from_settings`."""

    errors: SupabaseErrors
    what: str = "this store"  # how a configuration error names what needs SUPABASE_URL

    def __init__(self, client: AsyncClient, http: httpx.AsyncClient) -> None:
        self._db = client
        self._http = http

    @classmethod
    async def connect(cls, url: str, service_role_key: str, *, timeout_s: float = 10.0) -> Self:
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"SUPABASE_URL must look like https://<project>.supabase.co, got {url!r}"
            )
        if not service_role_key:
            raise ConfigurationError("SUPABASE_SERVICE_ROLE_KEY is empty: set the service key")
        http = httpx.AsyncClient(
            timeout=timeout_s,
            follow_redirects=True,
            event_hooks={"response": [_status_hook(cls.errors)]},
        )
        options = AsyncClientOptions(
            httpx_client=http,
            postgrest_client_retry=False,
            persist_session=False,
            auto_refresh_token=False,
        )
        client = await acreate_client(url, service_role_key, options=options)
        return cls(client, http)

    @classmethod
    async def from_settings(cls, settings: Settings) -> Self:
        settings.require_supabase()
        if not settings.supabase_url or settings.supabase_service_role_key is None:
            raise ConfigurationError(f"SUPABASE_URL is not set: {cls.what} uses DATABASE_URL")
        return await cls.connect(
            settings.supabase_url, settings.supabase_service_role_key.get_secret_value()
        )

    async def close(self) -> None:
        await self._http.aclose()

    def _translate(self, operation: str) -> AbstractContextManager[None]:
        """PostgREST and transport exceptions inside the block become this store's classes."""
        return translate_supabase_errors(self.errors, operation)

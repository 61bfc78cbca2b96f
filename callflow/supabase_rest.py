"""The Supabase REST client and the translation of its failures, shared by every Supabase adapter.

Each adapter keeps its own error hierarchy and describes it once as a `SupabaseErrors` (as the
Postgres adapters do with `callflow.pg.PgErrors`). HTTP failures are translated in an httpx
response hook: postgrest-py's `APIError` keeps no status code, and a 401 from the gateway has no
PostgREST code. A `42501 permission denied` (HTTP 403) is a grant the migrations did not give
(Supabase grants new tables to nobody), reported naming the table, not as a wrong key. Retries
belong to the caller (the Temporal activity, a reporter's next tick).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Self

import httpx
from postgrest import APIError
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from callflow.settings import ConfigurationError, Settings

_MISSING_SCHEMA = {"42P01", "42883", "PGRST202", "PGRST205"}
_INSUFFICIENT_PRIVILEGE = "42501"
# Postgres' wording: "permission denied for table users" (or function, schema, sequence).
_DENIED_OBJECT = re.compile(r"permission denied for (table|function|schema|sequence|view) (\S+)")


def missing_grant_message(where: str, message: str) -> str:
    """What a 42501 means on Supabase: the database role of the key (service_role for the
    service-role key) has no grant on the object; the key itself was accepted."""
    found = _DENIED_OBJECT.search(message)
    what = f"{found[1]} public.{found[2].removeprefix('public.')}" if found else "an object"
    return (
        f"Supabase denied {where}: the database role of the key (service_role for the "
        f"service-role key) has no grant on {what} (42501 {message}). "
        "Supabase grants new tables to nobody: apply every migrations/*.sql to the project "
        "(each carries its grants; 0008_service_role_grants.sql grants the core tables)"
    )


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
        if status == 403:
            # PostgREST answers a database 42501 with 403 for an authenticated role (with 401
            # only for the anon role, where the key is the fix): the key was accepted and its
            # role lacks a grant, which no other key would fix.
            denied = await _insufficient_privilege(response)
            if denied is not None:
                raise errors.base(missing_grant_message(where, denied))
        if status in (401, 403):
            raise errors.auth(
                f"Supabase refused the key ({status} on {where}): set SUPABASE_SERVICE_ROLE_KEY "
                "to the project's service-role key (Settings > API)"
            )
        if status == 429 or status >= 500:
            raise errors.unavailable(f"Supabase answered {status} on {where}; retry later")

    return raise_for_status


async def _insufficient_privilege(response: httpx.Response) -> str | None:
    """The message of a PostgREST 42501 error body, else None."""
    await response.aread()
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("code") == _INSUFFICIENT_PRIVILEGE:
        return str(body.get("message") or "")
    return None


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
        if code == _INSUFFICIENT_PRIVILEGE:
            raise errors.base(missing_grant_message(operation, exc.message or "")) from exc
        if code.startswith("PGRST3"):
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

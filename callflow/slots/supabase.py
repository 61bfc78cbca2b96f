"""`AgentSlots` over Supabase's REST API: the SQL functions of migrations/0005_agent_slots.sql
called through PostgREST rpc (POST /rest/v1/rpc/<function>), so a grant is one transaction
under the same advisory lock as the Postgres adapter's. Only the service role may execute them.

HTTP failures are translated in an httpx response hook, as the records adapter does
(postgrest-py's `APIError` keeps no status code; a 401 from the gateway has no PostgREST code).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from postgrest import APIError
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from callflow.ports import AgentWorkerReport, SlotGrant, SlotRequest
from callflow.settings import ConfigurationError, Settings
from callflow.slots.codec import check_report, check_request, grant_from_json, required, seconds
from callflow.slots.errors import InvalidSlotRequest, SlotsAuthError, SlotsError, SlotsUnavailable

_MISSING_SCHEMA = {"42P01", "42883", "PGRST202", "PGRST205"}


async def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    where = f"{response.request.method} {response.request.url.path}"
    if status in (401, 403):
        raise SlotsAuthError(
            f"Supabase refused the key ({status} on {where}): set SUPABASE_SERVICE_ROLE_KEY to "
            "the project's service-role key (Settings > API)"
        )
    if status == 429 or status >= 500:
        raise SlotsUnavailable(f"Supabase answered {status} on {where}; retry later")


@contextmanager
def translate_errors(operation: str) -> Iterator[None]:
    try:
        yield
    except SlotsError:
        raise
    except APIError as exc:
        code = exc.code or ""
        detail = f"{operation}: {code} {exc.message or ''}".strip()
        if code.startswith(("22", "23", "PGRST1")) or code == "PGRST204":
            raise InvalidSlotRequest(f"Supabase rejected {detail}") from exc
        if code in _MISSING_SCHEMA:
            raise SlotsError(
                f"Supabase schema is missing for {detail}; apply migrations/*.sql to the project"
            ) from exc
        if code.startswith("PGRST3") or code == "42501":
            raise SlotsAuthError(
                f"Supabase refused {detail}; use the service-role key (SUPABASE_SERVICE_ROLE_KEY)"
            ) from exc
        raise SlotsError(f"Supabase failed during {detail}") from exc
    except httpx.TransportError as exc:
        raise SlotsUnavailable(
            f"Supabase unreachable during {operation}: {type(exc).__name__}"
        ) from exc


class SupabaseAgentSlots:
    def __init__(self, client: AsyncClient, http: httpx.AsyncClient) -> None:
        self._db = client
        self._http = http

    @classmethod
    async def connect(
        cls, url: str, service_role_key: str, *, timeout_s: float = 10.0
    ) -> SupabaseAgentSlots:
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"SUPABASE_URL must look like https://<project>.supabase.co, got {url!r}"
            )
        if not service_role_key:
            raise ConfigurationError("SUPABASE_SERVICE_ROLE_KEY is empty: set the service key")
        http = httpx.AsyncClient(
            timeout=timeout_s,
            follow_redirects=True,
            event_hooks={"response": [_raise_for_status]},
        )
        options = AsyncClientOptions(
            httpx_client=http,
            # Retries belong to the caller (the Temporal activity, the reporter's next tick).
            postgrest_client_retry=False,
            persist_session=False,
            auto_refresh_token=False,
        )
        client = await acreate_client(url, service_role_key, options=options)
        return cls(client, http)

    @classmethod
    async def from_settings(cls, settings: Settings) -> SupabaseAgentSlots:
        settings.require_supabase()
        if not settings.supabase_url or settings.supabase_service_role_key is None:
            raise ConfigurationError("SUPABASE_URL is not set: agent slots use DATABASE_URL")
        return await cls.connect(
            settings.supabase_url, settings.supabase_service_role_key.get_secret_value()
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _rpc(self, fn: str, params: dict[str, Any]) -> Any:
        with translate_errors(fn):
            resp = await self._db.rpc(fn, params).execute()
        return resp.data

    async def report_worker(self, report: AgentWorkerReport, ttl_s: float) -> None:
        worker_id, capacity, active, ttl = check_report(report, ttl_s)
        params = {
            "p_worker_id": worker_id,
            "p_capacity": capacity,
            "p_active": active,
            "p_ttl_s": ttl,
        }
        answer = await self._rpc("report_agent_worker", params)
        if answer is not True:
            raise SlotsError(f"rpc report_agent_worker answered {answer!r}, expected true")

    async def acquire(self, request: SlotRequest) -> SlotGrant:
        call_id, user_id, due_at, hold_s = check_request(request)
        params = {
            "p_call_id": call_id,
            "p_user_id": user_id,
            "p_due_at": due_at.isoformat(),
            "p_hold_s": hold_s,
        }
        return grant_from_json(await self._rpc("acquire_agent_slot", params))

    async def renew(self, call_id: str, hold_s: float) -> bool:
        params = {"p_call_id": required(call_id, "call_id"), "p_hold_s": seconds(hold_s, "hold_s")}
        answer = await self._rpc("renew_agent_slot", params)
        if not isinstance(answer, bool):
            raise SlotsError(f"rpc renew_agent_slot answered {answer!r}, expected true or false")
        return answer

    async def release(self, call_id: str) -> None:
        answer = await self._rpc("release_agent_slot", {"p_call_id": required(call_id, "call_id")})
        if not isinstance(answer, bool):
            raise SlotsError(f"rpc release_agent_slot answered {answer!r}, expected true or false")

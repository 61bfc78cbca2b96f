"""`AgentSlots` over Supabase's REST API: the SQL functions of migrations/0005_agent_slots.sql
called through PostgREST rpc (POST /rest/v1/rpc/<function>), so a grant is one transaction
under the same advisory lock as the Postgres adapter's. Only the service role may execute them.

HTTP failures are translated in an httpx response hook, as the records adapter does
(postgrest-py's `APIError` keeps no status code; a 401 from the gateway has no PostgREST code).
"""

from __future__ import annotations

from typing import Any

from callflow.ports import AgentWorkerReport, SlotGrant, SlotRequest
from callflow.slots.codec import check_report, check_request, grant_from_json, required, seconds
from callflow.slots.errors import InvalidSlotRequest, SlotsAuthError, SlotsError, SlotsUnavailable
from callflow.supabase_rest import SupabaseErrors, SupabaseStore


class SupabaseAgentSlots(SupabaseStore):
    errors = SupabaseErrors(
        base=SlotsError,
        unavailable=SlotsUnavailable,
        auth=SlotsAuthError,
        invalid=InvalidSlotRequest,
    )
    what = "the agent slots store"

    async def _rpc(self, fn: str, params: dict[str, Any]) -> Any:
        with self._translate(fn):
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

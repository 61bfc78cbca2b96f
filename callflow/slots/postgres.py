"""`AgentSlots` over Postgres with asyncpg: each method is one call of a SQL function of
migrations/0005_agent_slots.sql (the ones the Supabase adapter calls through rpc), so the rules
live in one place and hold across every process sharing the database.

`acquire_agent_slot` runs under a transaction-level advisory lock: grants are serialized across
processes, and the statement is its own transaction (autocommit), so the lock is released as
soon as the answer is written. The times are the database server's clock.
"""

from __future__ import annotations

import json

from callflow.pg import PgErrors, PgStore
from callflow.ports import AgentWorkerReport, SlotGrant, SlotRequest
from callflow.slots.codec import check_report, check_request, grant_from_json, required, seconds
from callflow.slots.errors import InvalidSlotRequest, SlotsAuthError, SlotsError, SlotsUnavailable


class PostgresAgentSlots(PgStore):
    errors = PgErrors(
        store="agent slots store",
        base=SlotsError,
        unavailable=SlotsUnavailable,
        auth=SlotsAuthError,
        invalid=InvalidSlotRequest,
    )
    max_pool_size = 5

    async def report_worker(self, report: AgentWorkerReport, ttl_s: float) -> None:
        worker_id, capacity, active, ttl = check_report(report, ttl_s)
        with self._translate("report_worker"):
            await self._pool.fetchval(
                "select report_agent_worker($1, $2, $3, $4)", worker_id, capacity, active, ttl
            )

    async def acquire(self, request: SlotRequest) -> SlotGrant:
        call_id, user_id, due_at, hold_s = check_request(request)
        with self._translate("acquire"):
            answer = await self._pool.fetchval(
                "select acquire_agent_slot($1, $2, $3, $4)::text", call_id, user_id, due_at, hold_s
            )
        return grant_from_json(json.loads(answer) if isinstance(answer, str) else answer)

    async def renew(self, call_id: str, hold_s: float) -> bool:
        call = required(call_id, "call_id")
        hold = seconds(hold_s, "hold_s")
        with self._translate("renew"):
            renewed = await self._pool.fetchval("select renew_agent_slot($1, $2)", call, hold)
        return bool(renewed)

    async def release(self, call_id: str) -> None:
        call = required(call_id, "call_id")
        with self._translate("release"):
            await self._pool.fetchval("select release_agent_slot($1)", call)

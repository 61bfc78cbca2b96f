"""`SupabaseAgentSlots` through a local PostgREST over the real migrated Postgres: the shared
rules (slot_cases.py) as rpc calls of the same SQL functions, concurrency, and the failures."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from callflow.ports import AgentWorkerReport
from callflow.slots.errors import SlotsAuthError, SlotsError, SlotsUnavailable
from callflow.slots.supabase import SupabaseAgentSlots
from tests.records.postgrest_server import PostgrestServer
from tests.slots.conftest import SERVICE_KEY
from tests.slots.slot_cases import CASES, DUE, Case, ask, concurrent_acquires_grant_exactly_capacity


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
async def test_slot_rules(supabase_slots: SupabaseAgentSlots, case: Case) -> None:
    await case(supabase_slots)


async def test_each_method_is_one_rpc_of_the_sql_functions(
    supabase_slots: SupabaseAgentSlots, postgrest: PostgrestServer
) -> None:
    await supabase_slots.report_worker(AgentWorkerReport("w", capacity=2, active=1), 15.0)
    await supabase_slots.acquire(ask("c1", "u1", hold_s=30.0))
    assert await supabase_slots.renew("c1", 45.0)
    await supabase_slots.release("c1")
    seen = [(r.method, r.path, r.body) for r in postgrest.seen]
    assert seen == [
        (
            "POST",
            "/rest/v1/rpc/report_agent_worker",
            {"p_worker_id": "w", "p_capacity": 2, "p_active": 1, "p_ttl_s": 15.0},
        ),
        (
            "POST",
            "/rest/v1/rpc/acquire_agent_slot",
            {"p_call_id": "c1", "p_user_id": "u1", "p_due_at": DUE.isoformat(), "p_hold_s": 30.0},
        ),
        ("POST", "/rest/v1/rpc/renew_agent_slot", {"p_call_id": "c1", "p_hold_s": 45.0}),
        ("POST", "/rest/v1/rpc/release_agent_slot", {"p_call_id": "c1"}),
    ]


async def test_twenty_concurrent_acquires_grant_exactly_five(
    supabase_slots: SupabaseAgentSlots, postgrest: PostgrestServer, db: asyncpg.Connection
) -> None:
    others = [await SupabaseAgentSlots.connect(postgrest.url, SERVICE_KEY) for _ in range(3)]
    try:
        await concurrent_acquires_grant_exactly_capacity([supabase_slots, *others])
    finally:
        await asyncio.gather(*(s.close() for s in others))
    assert await db.fetchval("select count(*) from agent_slots where state = 'held'") == 5


async def test_a_wrong_key_is_an_auth_error(postgrest: PostgrestServer) -> None:
    store = await SupabaseAgentSlots.connect(postgrest.url, "not-the-service-key")
    try:
        with pytest.raises(SlotsAuthError, match="SUPABASE_SERVICE_ROLE_KEY") as raised:
            await store.acquire(ask("c"))
        assert not raised.value.retryable
    finally:
        await store.close()


async def test_an_overloaded_or_unreachable_api_is_retryable(
    supabase_slots: SupabaseAgentSlots, postgrest: PostgrestServer
) -> None:
    postgrest.fail_next.append((503, {"message": "upstream overloaded"}))
    with pytest.raises(SlotsUnavailable) as raised:
        await supabase_slots.acquire(ask("c"))
    assert raised.value.retryable

    store = await SupabaseAgentSlots.connect("http://127.0.0.1:1", SERVICE_KEY, timeout_s=2)
    try:
        with pytest.raises(SlotsUnavailable):
            await store.release("c")
    finally:
        await store.close()


async def test_an_unexpected_answer_is_a_slots_error(
    supabase_slots: SupabaseAgentSlots, postgrest: PostgrestServer
) -> None:
    postgrest.fail_next.append((200, {"granted": "maybe"}))
    with pytest.raises(SlotsError, match="expected a grant object"):
        await supabase_slots.acquire(ask("c"))
    postgrest.fail_next.append((200, [1]))
    with pytest.raises(SlotsError, match="expected true or false"):
        await supabase_slots.renew("c", 10.0)

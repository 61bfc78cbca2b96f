"""`PostgresAgentSlots` on the embedded Postgres with the real migrations: the shared rules
(slot_cases.py), grants under concurrency from several pools at once, and what the tables hold."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from callflow.local.stack.postgres import LocalPostgres, dsn_for
from callflow.ports import AgentWorkerReport
from callflow.slots.errors import InvalidSlotRequest, SlotsError, SlotsUnavailable
from callflow.slots.postgres import PostgresAgentSlots
from tests.slots.slot_cases import (
    CASES,
    HOLD,
    Case,
    ask,
    concurrent_acquires_grant_exactly_capacity,
    workers,
)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
async def test_slot_rules(pg_slots: PostgresAgentSlots, case: Case) -> None:
    await case(pg_slots)


async def test_twenty_concurrent_acquires_over_several_pools_grant_exactly_five(
    pg_slots: PostgresAgentSlots, area_database: LocalPostgres, db: asyncpg.Connection
) -> None:
    # Four stores of five connections each: twenty acquires in flight at once, as several
    # API/worker processes would send them.
    stores = [await PostgresAgentSlots.connect(area_database.dsn, min_size=5) for _ in range(4)]
    try:
        grants = await concurrent_acquires_grant_exactly_capacity(list(stores))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    rows = await db.fetch("select state, count(*) as n from agent_slots group by state")
    counts = {r["state"]: r["n"] for r in rows}
    assert counts == {"held": 5, "waiting": 15}
    assert max(g.held for g in grants) == 5

    # One pool, twenty at once, once more: still the same five held.
    again = await asyncio.gather(
        *(pg_slots.acquire(ask(f"rush-{i:02d}", f"user-{i % 7}")) for i in range(20))
    )
    assert sum(g.granted for g in again) == 5


async def test_the_tables_hold_one_row_per_call_and_per_worker(
    pg_slots: PostgresAgentSlots, db: asyncpg.Connection
) -> None:
    [worker] = await workers(pg_slots, 1)
    await pg_slots.report_worker(AgentWorkerReport(worker, capacity=1, active=1), 30.0)
    row = await db.fetchrow(
        "select capacity, active, extract(epoch from expires_at - reported_at) as ttl"
        " from agent_workers where worker_id = $1",
        worker,
    )
    assert row is not None and (row["capacity"], row["active"]) == (1, 1)
    assert float(row["ttl"]) == pytest.approx(30.0)

    await pg_slots.acquire(ask("held-call", "u1"))
    await pg_slots.acquire(ask("waiting-call", "u2"))
    first = await db.fetchrow("select * from agent_slots where call_id = 'waiting-call'")
    await pg_slots.acquire(ask("waiting-call", "u2"))
    rows = {r["call_id"]: r for r in await db.fetch("select * from agent_slots")}
    assert set(rows) == {"held-call", "waiting-call"}
    assert rows["held-call"]["state"] == "held" and rows["held-call"]["granted_at"] is not None
    assert rows["waiting-call"]["state"] == "waiting"
    assert rows["waiting-call"]["granted_at"] is None
    assert first is not None and rows["waiting-call"]["requested_at"] == first["requested_at"]
    assert rows["waiting-call"]["expires_at"] >= first["expires_at"]


async def test_an_expired_worker_row_counts_nothing_and_is_dropped(
    pg_slots: PostgresAgentSlots, db: asyncpg.Connection
) -> None:
    await db.execute(
        "insert into agent_workers (worker_id, capacity, active, reported_at, expires_at)"
        " values ('dead', 10, 0, now() - interval '1 minute', now() - interval '1 second')"
    )
    await workers(pg_slots, 1)
    grant = await pg_slots.acquire(ask("c"))
    assert grant.capacity == 1
    assert await db.fetchval("select count(*) from agent_workers where worker_id = 'dead'") == 0


async def test_the_sql_functions_refuse_bad_values_themselves(db: asyncpg.Connection) -> None:
    for sql in (
        "select acquire_agent_slot('c', 'u', now(), 0)",
        "select acquire_agent_slot('c', 'u', now(), 'NaN')",
        "select acquire_agent_slot('', 'u', now(), 10)",
        "select renew_agent_slot('c', -1)",
        "select report_agent_worker('w', 1, 0, 'Infinity')",
    ):
        with pytest.raises(asyncpg.InvalidParameterValueError):
            await db.fetchval(sql)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.fetchval("select report_agent_worker('w', -1, 0, 10)")


async def test_a_check_violation_becomes_an_invalid_request(
    pg_slots: PostgresAgentSlots, db: asyncpg.Connection
) -> None:
    await pg_slots.acquire(ask("mine", "user-1"))
    with pytest.raises(InvalidSlotRequest, match="agent slots store rejected acquire"):
        await pg_slots.acquire(ask("mine", "user-2"))


async def test_an_unreachable_database_is_retryable() -> None:
    dsn = "postgresql://callflow@127.0.0.1:1/callflow"
    with pytest.raises(SlotsUnavailable) as raised:
        await PostgresAgentSlots.connect(dsn)
    assert raised.value.retryable and "callflow@" not in str(raised.value)


async def test_a_missing_schema_says_to_apply_migrations(
    area_database: LocalPostgres, db: asyncpg.Connection
) -> None:
    name = "slots_no_schema"
    await db.execute(f'drop database if exists "{name}"')
    await db.execute(f'create database "{name}"')
    dsn = dsn_for(area_database.socket_dir, area_database.port, name)
    store = await PostgresAgentSlots.connect(dsn)
    try:
        with pytest.raises(SlotsError, match="apply migrations") as raised:
            await store.acquire(ask("c", hold_s=HOLD))
        assert not raised.value.retryable
    finally:
        await store.close()

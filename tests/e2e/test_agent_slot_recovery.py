"""A worker killed while its call holds the only agent slot: the call goes on from another
worker, the slot is freed when the call ends, and the next call gets it.

Real parts: the Temporal dev server, Postgres (push claims and the agent slots tables),
livekit-server, the local APNs endpoint, and the worker as its own process (SIGKILLed, then a
second one started). The phones answer and hang up by themselves; no agent joins (agent
presence is not watched here, tests/workflows covers it), so each call ends `no_agent`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from callflow.local.bench.phones import PhoneBehaviour, SimulatedPhones, voip_token_for
from callflow.local.bench.stack import bench_stack, start_worker_process
from callflow.models import User
from callflow.ports import AgentWorkerReport
from callflow.slots.postgres import PostgresAgentSlots
from workflows.call import CallWorkflow
from workflows.messages import CallInput, CallTimings, workflow_id_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TIMINGS = CallTimings(
    join_timeout_s=30,
    max_attempts=1,
    max_call_s=120,
    room_probe_interval_s=5,
    ring_arm_s=0,
    agent_max_wait_s=120,
)


async def _slot_rows(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("select call_id, state from agent_slots")
    finally:
        await conn.close()
    return {r["call_id"]: r["state"] for r in rows}


async def test_a_killed_worker_leaves_no_slot_held_and_the_next_call_gets_it() -> None:
    async with bench_stack() as stack:
        slots = await PostgresAgentSlots.connect(stack.postgres.dsn)
        try:
            # One agent that can take one call, reported as the agent worker would.
            await slots.report_worker(AgentWorkerReport("agent-under-test", 1), ttl_s=3600)
        finally:
            await slots.close()
        first, second = (f"slot-{n}-{uuid.uuid4().hex[:6]}" for n in (1, 2))
        for call_id in (first, second):
            user_id = f"user-{call_id}"
            await stack.records.upsert_user(User(user_id, "Kim", voip_token_for(user_id)))
        phones = SimulatedPhones(stack.client, PhoneBehaviour(0.5, 12.0))
        phones.register(stack.apns, [f"user-{first}", f"user-{second}"])

        async def start(call_id: str) -> object:
            due = datetime.now(UTC) + timedelta(seconds=2)
            return await stack.client.start_workflow(
                CallWorkflow.run,
                CallInput(
                    call_id,
                    f"user-{call_id}",
                    timings=TIMINGS,
                    scheduled_for=due.isoformat(),
                    agent_slots=True,
                ),
                id=workflow_id_for(call_id),
                task_queue=stack.task_queue,
            )

        handle = await start(first)

        async def in_call_holding_the_slot() -> None:
            while True:
                held = (await _slot_rows(stack.postgres.dsn)).get(first) == "held"
                pushed = any(p.payload.get("call_id") == first for p in stack.apns.received)
                if held and pushed and phones.answered:
                    return
                await asyncio.sleep(0.2)

        await asyncio.wait_for(in_call_holding_the_slot(), timeout=30)
        os.kill(stack.worker.pid, signal.SIGKILL)
        await stack.worker.process.wait()
        worker = await start_worker_process(stack.worker_settings, stack.state_dir / "w2.log")
        try:
            result = await asyncio.wait_for(handle.result(), timeout=90)  # type: ignore[attr-defined]
            # Answered, talked, hung up; with no agent in the room it is recorded as such.
            assert result.outcome == "no_agent" and result.pushes_sent == 1
            assert "in_call" in [s.stage for s in result.stages]
            # The slot went with the call's end, not with its lease running out.
            assert first not in await _slot_rows(stack.postgres.dsn)

            # The only slot is free again: the next call is granted it at once and rings.
            next_call = await start(second)
            next_result = await asyncio.wait_for(next_call.result(), timeout=90)  # type: ignore[attr-defined]
        finally:
            await worker.stop()
        await phones.settle()
        assert next_result.outcome == "no_agent"
        assert next_result.wait_for_agent_ms is not None and next_result.wait_for_agent_ms < 5_000
        assert await _slot_rows(stack.postgres.dsn) == {}
        pushes = [p.payload.get("call_id") for p in stack.apns.received]
        assert pushes.count(first) == 1 and pushes.count(second) == 1
